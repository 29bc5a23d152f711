package web

import (
	"context"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"siteline/storage"
)

// The members list (the users page and GET /api/v1/users): users and the
// people invited, with their roles, teams, labels, status, last login and
// last call, searched and filtered from the query string so that a view
// can be bookmarked, a page at a time.

// Member statuses.
const (
	MemberActive      = "active"
	MemberInvited     = "invited"
	MemberDeactivated = "deactivated"
)

// membersPerPage is the page size of the users page.
const membersPerPage = 50

// memberQuery is a view of the members list, as the query string gives it.
type memberQuery struct {
	Q      string // in the name or e-mail
	Role   string
	Team   string // team id
	Label  string // label id
	Status string // "", active, invited, deactivated
	Page   int    // from 1
}

func memberQueryOf(get func(string) string) (memberQuery, error) {
	q := memberQuery{Q: strings.TrimSpace(get("q")), Role: get("role"), Team: get("team"), Label: get("label"),
		Status: get("status"), Page: 1}
	switch q.Status {
	case "", MemberActive, MemberInvited, MemberDeactivated:
	default:
		return q, invalid("status", "must be active, invited or deactivated")
	}
	if p := get("page"); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 {
			return q, invalid("page", "must be a whole number from 1")
		}
		q.Page = n
	}
	return q, nil
}

// values is the query string of q, page aside.
func (q memberQuery) values() url.Values {
	v := url.Values{}
	for k, s := range map[string]string{"q": q.Q, "role": q.Role, "team": q.Team, "label": q.Label, "status": q.Status} {
		if s != "" {
			v.Set(k, s)
		}
	}
	return v
}

// PageURL is the users page of this view at page n.
func (q memberQuery) PageURL(n int) string {
	v := q.values()
	if n > 1 {
		v.Set("page", strconv.Itoa(n))
	}
	if len(v) == 0 {
		return "/users"
	}
	return "/users?" + v.Encode()
}

// ExportURL exports this view as CSV.
func (q memberQuery) ExportURL() string {
	if v := q.values(); len(v) > 0 {
		return APIPrefix + "/users/export.csv?" + v.Encode()
	}
	return APIPrefix + "/users/export.csv"
}

// Filtered says whether anything narrows the view.
func (q memberQuery) Filtered() bool { return len(q.values()) > 0 }

// personRow is one line of the members list: a user, or someone invited
// (ID empty, InvitationID set).
type personRow struct {
	ID           string `json:"id,omitempty"`
	InvitationID string `json:"invitation_id,omitempty"`
	OrgID        string `json:"org_id"`
	Email        string `json:"email"`
	Name         string `json:"name"`
	Kind         string `json:"kind,omitempty"`
	Active       bool   `json:"active"`
	Status       string `json:"status"`
	// InvitationExpired marks an invitation whose link is no longer
	// valid: it is resent or revoked, and its person cannot join.
	InvitationExpired bool        `json:"invitation_expired,omitempty"`
	Roles             []string    `json:"roles"`
	Teams             []teamName  `json:"teams"`
	Labels            []labelChip `json:"labels"`
	CreatedAt         time.Time   `json:"created_at"`
	UpdatedAt         time.Time   `json:"updated_at,omitzero"`
	LastLogin         *time.Time  `json:"last_login,omitempty"`
	LastCall          *time.Time  `json:"last_call,omitempty"`
}

type teamName struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

// labelChip is a label as the list shows it, in its group's colour.
type labelChip struct {
	ID    string `json:"id"`
	Name  string `json:"name"`
	Group string `json:"group"`
	Color string `json:"color"`
}

// memberNames resolves ids to what the list shows.
type memberNames struct {
	teams  []storage.Team
	team   map[string]string
	groups []labelGroupChips
	label  map[string]labelChip
}

// labelGroupChips is a label group and its labels, for the filters and
// the user page.
type labelGroupChips struct {
	storage.LabelGroup
	Labels []labelChip
}

func (s *Server) memberNames(ctx context.Context, orgID string) (memberNames, error) {
	n := memberNames{team: map[string]string{}, label: map[string]labelChip{}}
	var err error
	if n.teams, err = s.deps.Org.Teams(ctx, orgID); err != nil {
		return n, err
	}
	for _, t := range n.teams {
		n.team[t.ID] = t.Name
	}
	groups, err := s.deps.Org.LabelGroups(ctx, orgID)
	if err != nil {
		return n, err
	}
	labels, err := s.deps.Org.Labels(ctx, orgID)
	if err != nil {
		return n, err
	}
	for _, g := range groups {
		gc := labelGroupChips{LabelGroup: g}
		for _, l := range labels {
			if l.GroupID == g.ID {
				chip := labelChip{ID: l.ID, Name: l.Name, Group: g.Name, Color: normColor(g.Color)}
				gc.Labels = append(gc.Labels, chip)
				n.label[l.ID] = chip
			}
		}
		n.groups = append(n.groups, gc)
	}
	return n, nil
}

// memberRows lists the organisation's users, and its pending or expired
// invitations when invited is set, sorted by name (invitations by e-mail,
// after the users).
func (s *Server) memberRows(ctx context.Context, a Actor, n memberNames, invited bool) ([]personRow, error) {
	users, err := s.deps.Org.Users(ctx, a.OrgID)
	if err != nil {
		return nil, err
	}
	teams, err := s.deps.Org.TeamsWithMembers(ctx, a.OrgID)
	if err != nil {
		return nil, err
	}
	teamsOf := map[string][]teamName{}
	for _, t := range teams {
		for _, m := range t.Members {
			teamsOf[m.UserID] = append(teamsOf[m.UserID], teamName{t.ID, t.Name})
		}
	}
	labels, logins, calls := map[string][]string{}, map[string]time.Time{}, map[string]time.Time{}
	if act := s.deps.Activity; act != nil {
		if labels, err = act.UserLabels(ctx, a.OrgID); err != nil {
			return nil, err
		}
		if logins, err = act.LastLogins(ctx, a.OrgID); err != nil {
			return nil, err
		}
		if calls, err = act.LastCalls(ctx, a.OrgID); err != nil {
			return nil, err
		}
	}
	rows := make([]personRow, 0, len(users))
	for _, u := range users {
		switch u.Kind {
		case storage.UserGuestApp, storage.UserGuestMobile, storage.UserGuestDesktop:
			continue // guests are not members
		}
		r := personRow{ID: u.ID, OrgID: u.OrgID, Email: u.Email, Name: u.Name, Kind: string(u.Kind), Active: u.Active,
			UpdatedAt: u.UpdatedAt, Status: MemberActive, Roles: nonNil(s.deps.Authz.Roles(u.OrgID, u.ID)),
			Teams: nonNil(teamsOf[u.ID]), Labels: n.chips(labels[u.ID]), CreatedAt: u.CreatedAt}
		if !u.Active {
			r.Status = MemberDeactivated
		}
		if t, ok := logins[u.ID]; ok {
			r.LastLogin = &t
		}
		if t, ok := calls[u.ID]; ok {
			r.LastCall = &t
		}
		rows = append(rows, r)
	}
	sort.SliceStable(rows, func(i, j int) bool { return strings.ToLower(rows[i].Name) < strings.ToLower(rows[j].Name) })
	if !invited || s.deps.Members == nil {
		return rows, nil
	}
	invs, err := s.deps.Members.MemberInvitations(ctx, a)
	if err != nil {
		return nil, err
	}
	var pending []personRow
	for _, inv := range invs {
		if inv.State != storage.MemberInvitePending && inv.State != storage.MemberInviteExpired {
			continue
		}
		r := personRow{InvitationID: inv.ID, OrgID: inv.OrgID, Email: inv.Email, Status: MemberInvited, Roles: nonNil(inv.Roles),
			InvitationExpired: inv.State == storage.MemberInviteExpired,
			Teams:             []teamName{}, Labels: n.chips(inv.LabelIDs), CreatedAt: inv.CreatedAt}
		for _, id := range inv.TeamIDs {
			if name, ok := n.team[id]; ok {
				r.Teams = append(r.Teams, teamName{id, name})
			}
		}
		pending = append(pending, r)
	}
	sort.SliceStable(pending, func(i, j int) bool { return pending[i].Email < pending[j].Email })
	return append(rows, pending...), nil
}

func (n memberNames) chips(ids []string) []labelChip {
	out := []labelChip{}
	for _, id := range ids {
		if c, ok := n.label[id]; ok {
			out = append(out, c)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Group != out[j].Group {
			return out[i].Group < out[j].Group
		}
		return out[i].Name < out[j].Name
	})
	return out
}

// match says whether r is in the view q.
func (q memberQuery) match(r personRow) bool {
	if q.Q != "" {
		needle := strings.ToLower(q.Q)
		if !strings.Contains(strings.ToLower(r.Name), needle) && !strings.Contains(r.Email, needle) {
			return false
		}
	}
	if q.Status != "" && r.Status != q.Status {
		return false
	}
	if q.Role != "" && !slices.Contains(r.Roles, q.Role) {
		return false
	}
	if q.Team != "" && !slices.ContainsFunc(r.Teams, func(t teamName) bool { return t.ID == q.Team }) {
		return false
	}
	if q.Label != "" && !slices.ContainsFunc(r.Labels, func(l labelChip) bool { return l.ID == q.Label }) {
		return false
	}
	return true
}

// filter keeps the rows of rows in the view q.
func (q memberQuery) filter(rows []personRow) []personRow {
	out := make([]personRow, 0, len(rows))
	for _, r := range rows {
		if q.match(r) {
			out = append(out, r)
		}
	}
	return out
}

// page cuts page q.Page of size out of rows; pages says how many there are.
func page[T any](rows []T, n, size int) (out []T, pages int) {
	pages = max(1, (len(rows)+size-1)/size)
	from := min((n-1)*size, len(rows))
	return rows[from:min(from+size, len(rows))], pages
}
