package node

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"

	"siteline/policy"
	"siteline/storage"
	"siteline/web"
)

// Policy use cases (web.PolicyAdmin). Each one computes the organisation's
// policy after the change, validates it (policy.Normalize for the lines it
// adds, policy.CheckLockout when lines go), and proposes ONE command
// through Raft holding the change and a new policy version (the whole rule
// set after the change). The enforcer of every node follows when the
// command is applied (Node.applied); the audit log gets the before/after
// difference.
//
// Team memberships are policy lines too ("g, user:U, team:T, org", see
// policy.TeamLink), kept by SetTeamMember, RemoveTeamMember and DeleteTeam
// so that a role given to a team ("g, team:T, role:R, org") reaches its
// members. They are derived from the teams: export leaves them out, and
// import and restore keep the current ones whatever the document says.

var roleNameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,63}$`)

// auditDiffMax bounds the lines of each side of a diff kept in the audit
// log; the version holds the whole rule set anyway.
const auditDiffMax = 500

// policyChange is a computed edit of one organisation's policy.
type policyChange struct {
	action, target, note string
	next                 []storage.PolicyRule // the whole policy after the change
	replace              bool                 // propose OpReplacePolicy rather than add/remove
	extra                []storage.Change     // role records to put or delete
	warnings             []string
	detail               map[string]any
}

// commitPolicy validates and proposes a policy change, records a version
// and audits it.
func (s *admin) commitPolicy(ctx context.Context, a web.Actor, pc policyChange) (web.PolicyResult, error) {
	orgID := a.OrgID
	current := s.n.authz.Rules(orgID)
	added, removed := diffRules(current, pc.next)
	res := web.PolicyResult{Warnings: pc.warnings, Added: len(added), Removed: len(removed)}
	if len(added) == 0 && len(removed) == 0 && len(pc.extra) == 0 {
		return res, nil
	}
	if len(removed) > 0 {
		// Grants can only widen what users hold (the model is allow-only):
		// only a removal can lock the organisation out.
		active, err := s.activeUsers(ctx, orgID)
		if err != nil {
			return res, err
		}
		if err := policy.CheckLockout(orgID, pc.next, active); err != nil {
			return res, err
		}
	}
	now := s.n.now().UTC()
	changes := slices.Clone(pc.extra)
	switch {
	case pc.replace:
		changes = append(changes, storage.Change{Op: storage.OpReplacePolicy, OrgID: orgID, Rules: pc.next})
	default:
		if len(removed) > 0 {
			changes = append(changes, storage.Change{Op: storage.OpRemovePolicy, Rules: removed})
		}
		if len(added) > 0 {
			changes = append(changes, storage.Change{Op: storage.OpAddPolicy, Rules: added})
		}
	}
	versions, err := s.n.store.PolicyVersions(ctx, orgID)
	if err != nil {
		return res, err
	}
	if len(versions) == 0 {
		// The first recorded change also records what it changed, so it
		// can be undone like any later one.
		first := storage.PolicyVersion{ID: newID(), OrgID: orgID, At: now.Add(-1), ActorID: "system", Note: "policy before the first recorded change", Rules: current}
		changes = append(changes, storage.Change{Op: storage.OpPutPolicyVersion, PolicyVersion: &first})
	}
	note := strings.TrimSpace(pc.note)
	if note == "" {
		note = pc.action + " " + pc.target
	}
	if err := checkNote(note); err != nil {
		return res, err
	}
	v := storage.PolicyVersion{ID: newID(), OrgID: orgID, At: now, ActorID: actorID(a), Note: note, Rules: pc.next}
	changes = append(changes, storage.Change{Op: storage.OpPutPolicyVersion, PolicyVersion: &v})
	if err := s.propose(ctx, a, changes...); err != nil {
		return res, err
	}
	res.Changed = true
	v.Lines, v.Rules = len(pc.next), nil
	res.Version = &v
	detail := map[string]any{"version": v.ID, "note": note, "added": ruleLines(added), "removed": ruleLines(removed)}
	if len(pc.warnings) > 0 {
		detail["warnings"] = pc.warnings
	}
	for k, x := range pc.detail {
		detail[k] = x
	}
	return res, s.n.audit(ctx, actorID(a), pc.action, pc.target, detail)
}

func (s *admin) Grant(ctx context.Context, a web.Actor, in web.GrantInput) (web.PolicyResult, error) {
	return s.grantOrRevoke(ctx, a, in, true)
}

func (s *admin) Revoke(ctx context.Context, a web.Actor, in web.GrantInput) (web.PolicyResult, error) {
	return s.grantOrRevoke(ctx, a, in, false)
}

func (s *admin) grantOrRevoke(ctx context.Context, a web.Actor, in web.GrantInput, grant bool) (web.PolicyResult, error) {
	sub, err := s.subject(ctx, a, "subject", in.Subject)
	if err != nil {
		return web.PolicyResult{}, err
	}
	rule := policy.Grant(a.OrgID, sub, strings.TrimSpace(in.Permission))
	norm, warnings, err := policy.Normalize([]storage.PolicyRule{rule})
	if err != nil {
		return web.PolicyResult{}, fieldRuleError("permission", err)
	}
	rule = norm[0]
	current := s.n.authz.Rules(a.OrgID)
	pc := policyChange{action: "policy.grant", target: sub, note: in.Note, warnings: warnings,
		detail: map[string]any{"subject": sub, "permission": rule.V[2]}}
	pc.warnings = oneRuleWarnings(pc.warnings)
	if grant {
		pc.next = append(current, rule)
	} else {
		pc.action = "policy.revoke"
		pc.next = withoutRules(current, rule)
	}
	pc.note = strings.TrimSpace(pc.note)
	if pc.note == "" {
		pc.note = fmt.Sprintf("%s %s %s", strings.TrimPrefix(pc.action, "policy."), rule.V[2], sub)
	}
	return s.commitPolicy(ctx, a, pc)
}

func (s *admin) PolicyRoles(ctx context.Context, a web.Actor) ([]web.RoleInfo, error) {
	roles, err := s.n.store.Roles(ctx, a.OrgID)
	if err != nil {
		return nil, err
	}
	byName := map[string]*web.RoleInfo{}
	out := make([]web.RoleInfo, len(roles))
	for i, r := range roles {
		out[i] = web.RoleInfo{Role: r, Inherits: []string{}, Children: []string{}, Users: []string{}, Teams: []string{}, Grants: []string{}}
		byName[r.Name] = &out[i]
	}
	for _, r := range s.n.authz.Rules(a.OrgID) {
		switch r.PType {
		case policy.PTypeGrant:
			if name, ok := strings.CutPrefix(r.V[0], "role:"); ok && byName[name] != nil {
				byName[name].Grants = append(byName[name].Grants, r.V[2])
			}
		case policy.PTypeAssign:
			parent, ok := strings.CutPrefix(r.V[1], "role:")
			if !ok {
				continue
			}
			kind, id, _ := strings.Cut(r.V[0], ":")
			if p := byName[parent]; p != nil {
				switch kind {
				case "user":
					p.Users = append(p.Users, id)
				case "team":
					p.Teams = append(p.Teams, id)
				case "role":
					p.Children = append(p.Children, id)
				}
			}
			if c := byName[id]; kind == "role" && c != nil {
				c.Inherits = append(c.Inherits, parent)
			}
		}
	}
	return out, nil
}

func (s *admin) CreateRole(ctx context.Context, a web.Actor, in web.RoleInput) (web.PolicyResult, error) {
	name := strings.TrimSpace(in.Name)
	if !roleNameRE.MatchString(name) {
		return web.PolicyResult{}, validation("name", fmt.Sprintf("%q is not a role name: 1 to 64 lower-case letters, digits, _ or -, starting with a letter or digit", name))
	}
	desc := strings.TrimSpace(in.Description)
	if len(desc) > 200 || strings.ContainsAny(desc, "\x00\r\n") {
		return web.PolicyResult{}, validation("description", "must be a single line of at most 200 bytes")
	}
	roles, err := s.n.store.Roles(ctx, a.OrgID)
	if err != nil {
		return web.PolicyResult{}, err
	}
	if hasRole(roles, name) {
		return web.PolicyResult{}, fmt.Errorf("a role named %q already exists: %w", name, storage.ErrConflict)
	}
	next := s.n.authz.Rules(a.OrgID)
	for _, p := range in.Inherits {
		p = strings.TrimPrefix(strings.TrimSpace(p), "role:")
		if !hasRole(roles, p) {
			return web.PolicyResult{}, validation("inherits", fmt.Sprintf("%q is not a role of this organisation", p))
		}
		next = append(next, roleLink(a.OrgID, name, p))
	}
	role := storage.Role{OrgID: a.OrgID, Name: name, Description: desc}
	return s.commitPolicy(ctx, a, policyChange{
		action: "policy.role.create", target: "role:" + name, next: next,
		extra:  []storage.Change{{Op: storage.OpPutRole, Role: &role}},
		detail: map[string]any{"role": name, "description": desc, "inherits": in.Inherits},
	})
}

func (s *admin) DeleteRole(ctx context.Context, a web.Actor, name string) (web.PolicyResult, error) {
	roles, err := s.n.store.Roles(ctx, a.OrgID)
	if err != nil {
		return web.PolicyResult{}, err
	}
	i := slices.IndexFunc(roles, func(r storage.Role) bool { return r.Name == name })
	if i < 0 {
		return web.PolicyResult{}, fmt.Errorf("role %s: %w", name, storage.ErrNotFound)
	}
	if roles[i].Builtin {
		return web.PolicyResult{}, validation("role", fmt.Sprintf("%q is a built-in role: narrow its grants instead of deleting it", name))
	}
	sub := policy.RoleSubject(name)
	next := slices.DeleteFunc(s.n.authz.Rules(a.OrgID), func(r storage.PolicyRule) bool {
		return r.V[0] == sub || (r.PType == policy.PTypeAssign && r.V[1] == sub)
	})
	return s.commitPolicy(ctx, a, policyChange{
		action: "policy.role.delete", target: sub, next: next,
		extra:  []storage.Change{{Op: storage.OpDeleteRole, OrgID: a.OrgID, ID: name}},
		detail: map[string]any{"role": name},
	})
}

func (s *admin) Assign(ctx context.Context, a web.Actor, in web.AssignInput) (web.PolicyResult, error) {
	return s.assign(ctx, a, in, true)
}

func (s *admin) Unassign(ctx context.Context, a web.Actor, in web.AssignInput) (web.PolicyResult, error) {
	return s.assign(ctx, a, in, false)
}

func (s *admin) assign(ctx context.Context, a web.Actor, in web.AssignInput, add bool) (web.PolicyResult, error) {
	sub, err := s.subject(ctx, a, "subject", in.Subject)
	if err != nil {
		return web.PolicyResult{}, err
	}
	role := strings.TrimPrefix(strings.TrimSpace(in.Role), "role:")
	roles, err := s.n.store.Roles(ctx, a.OrgID)
	if err != nil {
		return web.PolicyResult{}, err
	}
	if !hasRole(roles, role) {
		return web.PolicyResult{}, validation("role", fmt.Sprintf("%q is not a role of this organisation", role))
	}
	if child, ok := strings.CutPrefix(sub, "role:"); ok && add {
		if child == role || slices.Contains(s.n.authz.RoleAncestors(a.OrgID, role), child) {
			return web.PolicyResult{}, validation("role", fmt.Sprintf("role %s already inherits %s: giving it to %s would make a cycle", role, child, child))
		}
	}
	rule := storage.PolicyRule{OrgID: a.OrgID, PType: policy.PTypeAssign, V: []string{sub, policy.RoleSubject(role), a.OrgID}}
	if _, _, err := policy.Normalize([]storage.PolicyRule{rule}); err != nil {
		return web.PolicyResult{}, fieldRuleError("subject", err)
	}
	current := s.n.authz.Rules(a.OrgID)
	pc := policyChange{action: "policy.assign", target: sub, detail: map[string]any{"subject": sub, "role": role},
		note: fmt.Sprintf("assign role %s to %s", role, sub)}
	if add {
		pc.next = append(current, rule)
	} else {
		pc.action, pc.note = "policy.unassign", fmt.Sprintf("take role %s from %s", role, sub)
		pc.next = withoutRules(current, rule)
	}
	return s.commitPolicy(ctx, a, pc)
}

func (s *admin) ImportPolicy(ctx context.Context, a web.Actor, in web.ImportInput) (web.PolicyResult, error) {
	rules, warnings, err := policy.ParseCSV(a.OrgID, strings.NewReader(in.CSV))
	if err != nil {
		return web.PolicyResult{}, fmt.Errorf("import policy: %w", err)
	}
	return s.replacePolicy(ctx, a, "policy.import", in.Note, rules, warnings)
}

func (s *admin) RestorePolicyVersion(ctx context.Context, a web.Actor, id, note string) (web.PolicyResult, error) {
	v, err := s.n.store.PolicyVersion(ctx, a.OrgID, id)
	if err != nil {
		return web.PolicyResult{}, err
	}
	rules, warnings, err := policy.Normalize(v.Rules)
	if err != nil {
		return web.PolicyResult{}, fmt.Errorf("restore policy version %s: %w", id, err)
	}
	if strings.TrimSpace(note) == "" {
		note = fmt.Sprintf("restore version of %s (%s)", v.At.Format("2006-01-02 15:04:05"), v.Note)
		if len(note) > 500 {
			note = note[:500]
		}
	}
	return s.replacePolicy(ctx, a, "policy.restore", note, rules, warnings)
}

// replacePolicy makes rules the whole policy: team membership lines are
// kept as they are, and roles the rules name but the organisation lacks
// are created.
func (s *admin) replacePolicy(ctx context.Context, a web.Actor, action, note string, rules []storage.PolicyRule, warnings []string) (web.PolicyResult, error) {
	next := make([]storage.PolicyRule, 0, len(rules))
	dropped := 0
	for _, r := range rules {
		if policy.IsTeamLink(r) {
			dropped++
			continue
		}
		next = append(next, r)
	}
	if dropped > 0 {
		warnings = append(warnings, fmt.Sprintf("%d team membership lines ignored: memberships come from the teams", dropped))
	}
	for _, r := range s.n.authz.Rules(a.OrgID) {
		if policy.IsTeamLink(r) {
			next = append(next, r)
		}
	}
	roles, err := s.n.store.Roles(ctx, a.OrgID)
	if err != nil {
		return web.PolicyResult{}, err
	}
	var extra []storage.Change
	seen := map[string]bool{}
	for _, r := range next {
		for _, v := range r.V[:2] {
			name, ok := strings.CutPrefix(v, "role:")
			if !ok || seen[name] || hasRole(roles, name) {
				continue
			}
			seen[name] = true
			if !roleNameRE.MatchString(name) {
				return web.PolicyResult{}, validation("rules", fmt.Sprintf("%q is not a role name: 1 to 64 lower-case letters, digits, _ or -", name))
			}
			extra = append(extra, storage.Change{Op: storage.OpPutRole, Role: &storage.Role{OrgID: a.OrgID, Name: name, Description: "created by " + action}})
			warnings = append(warnings, fmt.Sprintf("role %s created", name))
		}
	}
	return s.commitPolicy(ctx, a, policyChange{action: action, target: a.OrgID, note: note, next: next, replace: true, extra: extra, warnings: warnings,
		detail: map[string]any{"lines": len(next)}})
}

func (s *admin) ExportPolicy(ctx context.Context, a web.Actor) ([]byte, error) {
	var buf bytes.Buffer
	fmt.Fprintf(&buf, "# Siteline policy of organisation %s (casbin CSV). Team memberships are not included: they come from the teams.\n", a.OrgID)
	rules := slices.DeleteFunc(s.n.authz.Rules(a.OrgID), policy.IsTeamLink)
	if err := policy.WriteCSV(&buf, rules); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func (s *admin) CheckPolicy(ctx context.Context, a web.Actor, user, permission string) (web.CheckResult, error) {
	u, err := s.findUser(ctx, a, "user", user)
	if err != nil {
		return web.CheckResult{}, err
	}
	id, alias := policy.Canonical(permission)
	res := web.CheckResult{UserID: u.ID, Email: u.Email, Permission: id, Rule: []string{}, Warnings: []string{}}
	if alias {
		res.Warnings = append(res.Warnings, fmt.Sprintf("%q is the misspelt alias of %q", permission, id))
	}
	ok, rule, err := s.n.authz.Explain(a.OrgID, u.ID, id)
	if err != nil {
		return res, fieldRuleError("permission", err)
	}
	res.Allowed, res.Roles = ok, nonNilStrings(s.n.authz.Roles(a.OrgID, u.ID))
	if ok && len(rule) > 0 {
		res.Rule = rule
	}
	switch {
	case !u.Active:
		res.Allowed = false
		res.Explanation = fmt.Sprintf("%s is deactivated and holds nothing", u.Email)
	case ok && len(rule) > 0 && rule[0] == policy.UserSubject(u.ID):
		res.Explanation = fmt.Sprintf("yes: %s is granted to %s directly (p, %s)", id, u.Email, strings.Join(rule, ", "))
	case ok && len(rule) > 0:
		res.Explanation = fmt.Sprintf("yes: %s is granted to %s (p, %s), which %s holds", id, rule[0], strings.Join(rule, ", "), u.Email)
	case ok:
		res.Explanation = "yes"
	case len(res.Roles) == 0:
		res.Explanation = fmt.Sprintf("no: %s holds no role and no line grants %s to them", u.Email, id)
	default:
		res.Explanation = fmt.Sprintf("no: no line grants %s to %s or to any of their roles (%s)", id, u.Email, strings.Join(res.Roles, ", "))
	}
	return res, nil
}

func (s *admin) SupervisionScope(ctx context.Context, a web.Actor, supervisor string) ([]storage.User, error) {
	u, err := s.findUser(ctx, a, "user", supervisor)
	if err != nil {
		return nil, err
	}
	ids, err := s.n.supervisees(ctx, a.OrgID, u.ID)
	if err != nil {
		return nil, err
	}
	out := make([]storage.User, 0, len(ids))
	for _, id := range ids {
		if x, err := s.n.store.User(ctx, id); err == nil {
			out = append(out, x)
		}
	}
	return out, nil
}

// supervisees returns the ids of the users supervisorID reaches through
// the teams of orgID (policy.Supervisees).
func (n *Node) supervisees(ctx context.Context, orgID, supervisorID string) ([]string, error) {
	ms, err := n.orgMemberships(ctx, orgID)
	if err != nil {
		return nil, err
	}
	return policy.Supervisees(ms, supervisorID), nil
}

// CanSupervise decides a supervision action (sit in, take over, transfer,
// monitor a screen, the team dashboard) of supervisorID on targetID: the
// permission org-wide, then the team scope.
func (n *Node) CanSupervise(ctx context.Context, orgID, supervisorID, targetID, permission string) error {
	ms, err := n.orgMemberships(ctx, orgID)
	if err != nil {
		return err
	}
	return policy.CanSupervise(n.authz, ms, orgID, supervisorID, targetID, permission)
}

func (n *Node) orgMemberships(ctx context.Context, orgID string) ([]storage.TeamMembership, error) {
	teams, err := n.store.Teams(ctx, orgID)
	if err != nil {
		return nil, err
	}
	var ms []storage.TeamMembership
	for _, t := range teams {
		m, err := n.store.TeamMembers(ctx, t.ID)
		if err != nil {
			return nil, err
		}
		ms = append(ms, m...)
	}
	return ms, nil
}

// subject resolves "role:NAME" (or a bare role name), "user:ID-OR-EMAIL"
// and "team:ID-OR-NAME" to a policy subject of the actor's organisation.
func (s *admin) subject(ctx context.Context, a web.Actor, field, in string) (string, error) {
	in = strings.TrimSpace(in)
	kind, name, ok := strings.Cut(in, ":")
	if !ok {
		kind, name = "role", in
	}
	switch kind {
	case "role":
		roles, err := s.n.store.Roles(ctx, a.OrgID)
		if err != nil {
			return "", err
		}
		if !hasRole(roles, name) {
			return "", validation(field, fmt.Sprintf("%q is not a role of this organisation", name))
		}
		return policy.RoleSubject(name), nil
	case "user":
		u, err := s.findUser(ctx, a, field, name)
		if err != nil {
			return "", err
		}
		return policy.UserSubject(u.ID), nil
	case "team":
		teams, err := s.n.store.Teams(ctx, a.OrgID)
		if err != nil {
			return "", err
		}
		for _, t := range teams {
			if t.ID == name || strings.EqualFold(t.Name, name) {
				return policy.TeamSubject(t.ID), nil
			}
		}
		return "", validation(field, fmt.Sprintf("%q is not a team of this organisation", name))
	}
	return "", validation(field, fmt.Sprintf("%q must be role:NAME, user:ID-OR-EMAIL or team:ID-OR-NAME", in))
}

// findUser finds a user of the actor's organisation by id or e-mail.
func (s *admin) findUser(ctx context.Context, a web.Actor, field, idOrEmail string) (storage.User, error) {
	idOrEmail = strings.TrimSpace(idOrEmail)
	if strings.Contains(idOrEmail, "@") {
		u, err := s.n.store.UserByEmail(ctx, a.OrgID, strings.ToLower(idOrEmail))
		if errors.Is(err, storage.ErrNotFound) {
			return u, validation(field, fmt.Sprintf("no user with e-mail %s in this organisation", idOrEmail))
		}
		return u, err
	}
	u, err := s.orgUser(ctx, a, idOrEmail)
	if errors.Is(err, storage.ErrNotFound) {
		return u, validation(field, fmt.Sprintf("no user with id %q in this organisation", idOrEmail))
	}
	return u, err
}

func (s *admin) activeUsers(ctx context.Context, orgID string) ([]string, error) {
	users, err := s.n.store.Users(ctx, orgID)
	if err != nil {
		return nil, err
	}
	var ids []string
	for _, u := range users {
		if u.Active {
			ids = append(ids, u.ID)
		}
	}
	return ids, nil
}

// teamLinkChanges returns the policy change that follows a membership
// change: the user's link to the team added or removed.
func teamLinkChange(orgID, userID, teamID string, add bool) storage.Change {
	op := storage.OpRemovePolicy
	if add {
		op = storage.OpAddPolicy
	}
	return storage.Change{Op: op, Rules: []storage.PolicyRule{policy.TeamLink(orgID, userID, teamID)}}
}

// teamLines returns every policy line naming a team.
func (s *admin) teamLines(orgID, teamID string) []storage.PolicyRule {
	sub := policy.TeamSubject(teamID)
	return slices.DeleteFunc(s.n.authz.Rules(orgID), func(r storage.PolicyRule) bool {
		return r.V[0] != sub && r.V[1] != sub
	})
}

func hasRole(roles []storage.Role, name string) bool {
	return slices.ContainsFunc(roles, func(r storage.Role) bool { return r.Name == name })
}

func roleLink(orgID, child, parent string) storage.PolicyRule {
	return storage.PolicyRule{OrgID: orgID, PType: policy.PTypeAssign, V: []string{policy.RoleSubject(child), policy.RoleSubject(parent), orgID}}
}

func ruleKey(r storage.PolicyRule) string { return r.PType + "," + strings.Join(r.V, ",") }

// diffRules returns the rules of next not in current, and those of current
// not in next.
func diffRules(current, next []storage.PolicyRule) (added, removed []storage.PolicyRule) {
	cur := make(map[string]bool, len(current))
	for _, r := range current {
		cur[ruleKey(r)] = true
	}
	nxt := make(map[string]bool, len(next))
	for _, r := range next {
		k := ruleKey(r)
		if !cur[k] && !nxt[k] {
			added = append(added, r)
		}
		nxt[k] = true
	}
	for _, r := range current {
		if !nxt[ruleKey(r)] {
			removed = append(removed, r)
		}
	}
	return added, removed
}

func withoutRules(rules []storage.PolicyRule, drop ...storage.PolicyRule) []storage.PolicyRule {
	return slices.DeleteFunc(rules, func(r storage.PolicyRule) bool {
		return slices.ContainsFunc(drop, func(x storage.PolicyRule) bool { return sameRule(r, x) })
	})
}

// ruleLines renders rules as CSV lines for the audit log, at most
// auditDiffMax of them.
func ruleLines(rules []storage.PolicyRule) []string {
	out := []string{}
	for i, r := range rules {
		if i == auditDiffMax {
			out = append(out, fmt.Sprintf("... and %d more", len(rules)-auditDiffMax))
			break
		}
		out = append(out, r.PType+", "+strings.Join(r.V, ", "))
	}
	return out
}

func checkNote(note string) error {
	if len(note) > 500 || strings.ContainsAny(note, "\x00\r\n") {
		return validation("note", "must be a single line of at most 500 bytes")
	}
	return nil
}

// fieldRuleError drops the line number from a policy rule error about one
// rule the caller typed (there are no lines), keeping the suggestion.
func fieldRuleError(field string, err error) error {
	var re *policy.RuleError
	if errors.As(err, &re) {
		c := *re
		c.Line = 0
		return &c
	}
	return err
}

// oneRuleWarnings drops the "line 1: " of Normalize's warnings about a
// single rule.
func oneRuleWarnings(ws []string) []string {
	for i, w := range ws {
		ws[i] = strings.TrimPrefix(w, "line 1: ")
	}
	return ws
}

func nonNilStrings(v []string) []string {
	if v == nil {
		return []string{}
	}
	return v
}
