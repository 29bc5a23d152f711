package web

import (
	"bytes"
	"context"
	"encoding/json"
	"slices"
	"sort"
	"strings"

	"github.com/gofiber/fiber/v2"

	"siteline/policy"
	"siteline/storage"
)

// ---- audit log ---------------------------------------------------------

const auditPageSize = 200

type auditData struct {
	Events   []auditRow
	Action   string
	Prefixes []string
	Limit    int
}

type auditRow struct {
	storage.AuditEvent
	ActorName  string
	TargetName string // name of the user, team, label or contact acted on
	Pretty     string // Detail indented when it is JSON
}

func (s *Server) uiAudit(c *fiber.Ctx) error {
	ctx := c.UserContext()
	a, _ := actorOf(c)
	action := strings.TrimSpace(c.Query("action"))
	events, err := s.deps.Sessions.Audit(ctx, storage.AuditFilter{OrgID: a.OrgID, Action: action, Limit: auditPageSize})
	if err != nil {
		return err
	}
	names, err := s.orgNames(c, a.OrgID)
	if err != nil {
		return err
	}
	s.contactNames(ctx, a.OrgID, events, names)
	if err := s.guestNames(c, a.OrgID, events, names); err != nil {
		return err
	}
	d := auditData{Action: action, Limit: auditPageSize, Events: make([]auditRow, 0, len(events))}
	for _, e := range events {
		row := auditRow{AuditEvent: e, ActorName: names[e.ActorID], TargetName: names[e.Target]}
		if row.ActorName == "" {
			row.ActorName = e.ActorID
		}
		var buf bytes.Buffer
		if e.Detail != "" && json.Indent(&buf, []byte(e.Detail), "", "  ") == nil {
			row.Pretty = buf.String()
		} else {
			row.Pretty = e.Detail
		}
		d.Events = append(d.Events, row)
	}
	// The filter offers the kinds of action recorded lately.
	recent := events
	if action != "" {
		if recent, err = s.deps.Sessions.Audit(ctx, storage.AuditFilter{OrgID: a.OrgID, Limit: 500}); err != nil {
			return err
		}
	}
	seen := map[string]bool{}
	for _, e := range recent {
		if p, _, ok := strings.Cut(e.Action, "."); ok && !seen[p] {
			seen[p] = true
			d.Prefixes = append(d.Prefixes, p+".")
		}
	}
	sort.Strings(d.Prefixes)
	v := s.view(c, "Audit log", "audit")
	v.Data = d
	return s.ui.render(c, fiber.StatusOK, "audit", v)
}

// guestNames adds to names the guests that acted or were acted on in
// events, by the names they gave when they joined.
func (s *Server) guestNames(c *fiber.Ctx, orgID string, events []storage.AuditEvent, names map[string]string) error {
	var ids []string
	for _, e := range events {
		for _, id := range []string{e.ActorID, e.Target} {
			if strings.HasPrefix(id, GuestIDPrefix) && !slices.Contains(ids, id) {
				ids = append(ids, id)
			}
		}
	}
	if len(ids) == 0 {
		return nil
	}
	guests, err := s.deps.Sessions.GuestNames(c.UserContext(), orgID, ids)
	if err != nil {
		return err
	}
	for _, id := range ids {
		switch name, ok := guests[id]; {
		case ok && name != "":
			names[id] = name + " (guest)"
		default:
			names[id] = "a guest"
		}
	}
	return nil
}

// orgNames maps the ids of the organisation's users, teams, label groups
// and labels to their names, for the audit log.
func (s *Server) orgNames(c *fiber.Ctx, orgID string) (map[string]string, error) {
	ctx := c.UserContext()
	names, err := s.userNames(c, orgID)
	if err != nil {
		return nil, err
	}
	teams, err := s.deps.Org.Teams(ctx, orgID)
	if err != nil {
		return nil, err
	}
	for _, t := range teams {
		names[t.ID] = t.Name
	}
	groups, err := s.deps.Org.LabelGroups(ctx, orgID)
	if err != nil {
		return nil, err
	}
	for _, g := range groups {
		names[g.ID] = g.Name
	}
	labels, err := s.deps.Org.Labels(ctx, orgID)
	if err != nil {
		return nil, err
	}
	for _, l := range labels {
		names[l.ID] = l.Name
	}
	return names, nil
}

// contactNames adds to names the contacts the events act on: read one by
// one, as a phonebook may hold many more contacts than a page has events.
// A deleted contact keeps its id.
func (s *Server) contactNames(ctx context.Context, orgID string, events []storage.AuditEvent, names map[string]string) {
	for _, e := range events {
		if !strings.HasPrefix(e.Action, "contact.") || e.Target == "" || names[e.Target] != "" {
			continue
		}
		if ct, err := s.deps.Org.Contact(ctx, orgID, e.Target); err == nil {
			names[ct.ID] = ct.Name
		}
	}
}

// sortRoles puts the built-in roles first, in the order the policy package
// ships them, then the organisation's own roles by name.
func sortRoles(roles []storage.Role) []storage.Role {
	rank := map[string]int{}
	for i, n := range policy.BuiltinRoleNames() {
		rank[n] = i + 1
	}
	out := append([]storage.Role(nil), roles...)
	sort.SliceStable(out, func(i, j int) bool {
		ri, rj := rank[out[i].Name], rank[out[j].Name]
		switch {
		case ri != 0 && rj != 0:
			return ri < rj
		case ri != 0 || rj != 0:
			return ri != 0
		}
		return out[i].Name < out[j].Name
	})
	return out
}

// ---- policy matrix -----------------------------------------------------

type policyData struct {
	Roles       []policyRole
	Areas       []policyArea
	UserGrants  int // grants to single users, not shown in the matrix
	Unknown     []string
	Permissions int
}

type policyRole struct {
	storage.Role
	Granted int
}

type policyArea struct {
	Name string
	Rows []policyRow
}

type policyRow struct {
	policy.Permission
	// SetSpan is how many rows the feature set cell spans; 0 for rows
	// after the first of their set.
	SetSpan int
	Cells   []policyCell
}

type policyCell struct {
	Granted   bool
	Inherited string // the role it comes from, when not granted directly
}

func (s *Server) uiPolicy(c *fiber.Ctx) error { return s.showPolicy(c, fiber.StatusOK, nil) }

// buildMatrix lays the policy out as roles × permissions: a grant to a
// role, directly or through a role it inherits ("g, role:a, role:b").
func buildMatrix(roles []storage.Role, rules []storage.PolicyRule, catalogue []policy.Permission) policyData {
	const rolePrefix = "role:"
	direct := map[string]map[string]bool{} // role -> permission
	parents := map[string][]string{}       // role -> roles it inherits
	known := map[string]bool{}
	for _, p := range catalogue {
		known[p.ID] = true
	}
	var d policyData
	unknown := map[string]bool{}
	for _, r := range rules {
		if len(r.V) < 3 {
			continue
		}
		switch r.PType {
		case "p":
			role, ok := strings.CutPrefix(r.V[0], rolePrefix)
			if !ok {
				d.UserGrants++
				continue
			}
			if direct[role] == nil {
				direct[role] = map[string]bool{}
			}
			direct[role][r.V[2]] = true
			if !known[r.V[2]] && !unknown[r.V[2]] {
				unknown[r.V[2]] = true
				d.Unknown = append(d.Unknown, r.V[2])
			}
		case "g":
			child, ok1 := strings.CutPrefix(r.V[0], rolePrefix)
			parent, ok2 := strings.CutPrefix(r.V[1], rolePrefix)
			if ok1 && ok2 {
				parents[child] = append(parents[child], parent)
			}
		}
	}
	// grantOf says whether role holds perm and, if through another role,
	// which; roles are walked breadth first, each once.
	grantOf := func(role, perm string) (bool, string) {
		seen := map[string]bool{role: true}
		queue := []string{role}
		for len(queue) > 0 {
			r := queue[0]
			queue = queue[1:]
			if direct[r][perm] {
				if r == role {
					return true, ""
				}
				return true, r
			}
			for _, p := range parents[r] {
				if !seen[p] {
					seen[p] = true
					queue = append(queue, p)
				}
			}
		}
		return false, ""
	}
	for _, r := range roles {
		d.Roles = append(d.Roles, policyRole{Role: r})
	}
	d.Permissions = len(catalogue)
	// Group by area, then by feature set, each in order of first
	// appearance in the catalogue.
	type set struct {
		name  string
		perms []policy.Permission
	}
	type area struct {
		name string
		sets []*set
	}
	var areas []*area
	for _, p := range catalogue {
		var ar *area
		for _, x := range areas {
			if x.name == p.Area {
				ar = x
			}
		}
		if ar == nil {
			ar = &area{name: p.Area}
			areas = append(areas, ar)
		}
		var st *set
		for _, x := range ar.sets {
			if x.name == p.FeatureSet {
				st = x
			}
		}
		if st == nil {
			st = &set{name: p.FeatureSet}
			ar.sets = append(ar.sets, st)
		}
		st.perms = append(st.perms, p)
	}
	for _, ar := range areas {
		pa := policyArea{Name: ar.name}
		for _, st := range ar.sets {
			for j, p := range st.perms {
				row := policyRow{Permission: p, Cells: make([]policyCell, len(roles))}
				if j == 0 {
					row.SetSpan = len(st.perms)
				}
				for i, r := range roles {
					ok, via := grantOf(r.Name, p.ID)
					row.Cells[i] = policyCell{Granted: ok, Inherited: via}
					if ok {
						d.Roles[i].Granted++
					}
				}
				pa.Rows = append(pa.Rows, row)
			}
		}
		d.Areas = append(d.Areas, pa)
	}
	sort.Strings(d.Unknown)
	return d
}
