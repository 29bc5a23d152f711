package org

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"siteline/node/internal/ids"
	"siteline/policy"
	"siteline/storage"
	"siteline/web"
)

// Bulk imports from CSV. A file is read and checked whole before anything
// is proposed; the first bad line is named and nothing changes. What it
// holds is then proposed as one command, applied in one transaction at
// every node: all of it or none.

const (
	// MaxImportMembers is how many members one file invites: each gets
	// an e-mail sent before the request is answered.
	MaxImportMembers = 200
	// MaxImportContacts is how many contacts one file adds.
	MaxImportContacts = 2000
)

// csvTable is a CSV file read under its header: each row's values by
// column, and the line each row starts on.
type csvTable struct {
	cols  map[string]int
	rows  [][]string
	lines []int
}

func (t csvTable) get(i int, col string) string {
	if c, ok := t.cols[col]; ok {
		return strings.TrimSpace(t.rows[i][c])
	}
	return ""
}

// lineError names the line at fault in a ValidationError on field "csv".
func lineError(line int, err error) error {
	var v *storage.ValidationError
	if errors.As(err, &v) {
		return validation("csv", fmt.Sprintf("line %d: %s %s", line, v.Field, v.Problem))
	}
	return fmt.Errorf("line %d: %w", line, err)
}

func lineProblem(line int, problem string) error {
	return validation("csv", fmt.Sprintf("line %d: %s", line, problem))
}

// readCSV reads a file whose first line names its columns, among known;
// required must be one of them. It refuses more than max rows.
func readCSV(r io.Reader, known []string, required string, max int) (csvTable, error) {
	cr := csv.NewReader(r)
	cr.TrimLeadingSpace = true
	header, err := cr.Read()
	if errors.Is(err, io.EOF) {
		return csvTable{}, validation("csv", fmt.Sprintf("is empty: its first line names the columns (%s)", strings.Join(known, ",")))
	}
	if err != nil {
		return csvTable{}, csvError(err)
	}
	t := csvTable{cols: map[string]int{}}
	for i, h := range header {
		h = strings.ToLower(strings.TrimSpace(strings.TrimPrefix(h, "\ufeff")))
		if !slices.Contains(known, h) {
			return t, lineProblem(1, fmt.Sprintf("unknown column %q: the columns are %s", h, strings.Join(known, ",")))
		}
		if _, dup := t.cols[h]; dup {
			return t, lineProblem(1, fmt.Sprintf("column %q is named twice", h))
		}
		t.cols[h] = i
	}
	if _, ok := t.cols[required]; !ok {
		return t, lineProblem(1, fmt.Sprintf("has no %q column", required))
	}
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return t, csvError(err)
		}
		line, _ := cr.FieldPos(0)
		if len(rec) == 1 && strings.TrimSpace(rec[0]) == "" && len(header) > 1 {
			continue // a blank line
		}
		if len(t.rows) == max {
			return t, lineProblem(line, fmt.Sprintf("too many lines: import at most %d at once", max))
		}
		t.rows = append(t.rows, rec)
		t.lines = append(t.lines, line)
	}
	if len(t.rows) == 0 {
		return t, validation("csv", "has no line after its header")
	}
	return t, nil
}

func csvError(err error) error {
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		if errors.Is(pe.Err, csv.ErrFieldCount) {
			return lineProblem(pe.Line, "has a different number of fields than the header")
		}
		return lineProblem(pe.Line, pe.Err.Error())
	}
	return validation("csv", err.Error())
}

// list splits a ";"-separated cell.
func list(cell string) []string {
	var out []string
	for _, v := range strings.Split(cell, ";") {
		if v = strings.TrimSpace(v); v != "" {
			out = append(out, v)
		}
	}
	return out
}

// ImportContacts adds every line of r to the phonebook, or none.
func (s *Service) ImportContacts(ctx context.Context, a web.Actor, r io.Reader) (web.ImportResult, error) {
	t, err := readCSV(r, web.ContactCSVColumns, "name", MaxImportContacts)
	if err != nil {
		return web.ImportResult{}, err
	}
	existing, err := s.d.Store.Contacts(ctx, a.OrgID)
	if err != nil {
		return web.ImportResult{}, err
	}
	inBook := map[string]bool{}
	for _, c := range existing {
		if c.Email != "" {
			inBook[c.Email] = true
		}
	}
	now := s.d.Now().UTC()
	seen := map[string]int{}
	contacts := make([]storage.Contact, len(t.rows))
	changes := make([]storage.Change, len(t.rows))
	for i, line := range t.lines {
		c, err := checkContact(storage.Contact{ID: ids.New(), OrgID: a.OrgID, Name: t.get(i, "name"), Email: t.get(i, "email"),
			Phone: t.get(i, "phone"), Company: t.get(i, "company"), Notes: t.get(i, "notes"), CreatedAt: now})
		if err != nil {
			return web.ImportResult{}, lineError(line, err)
		}
		if c.Email != "" {
			if first, dup := seen[c.Email]; dup {
				return web.ImportResult{}, lineProblem(line, fmt.Sprintf("%s is on line %d already", c.Email, first))
			}
			if inBook[c.Email] {
				return web.ImportResult{}, lineProblem(line, fmt.Sprintf("%s is in the phonebook already", c.Email))
			}
			seen[c.Email] = line
		}
		contacts[i] = c
		changes[i] = storage.Change{Op: storage.OpPutContact, Contact: &contacts[i]}
	}
	e := entry{"contact.import", "", map[string]any{"contacts": len(contacts)}}
	if err := s.commit(ctx, a, e, changes...); err != nil {
		return web.ImportResult{}, err
	}
	return web.ImportResult{Imported: len(contacts)}, nil
}

// ImportMembers invites every line of r with its roles, teams and labels,
// in one command, and then e-mails each their link.
func (m *Members) ImportMembers(ctx context.Context, a web.Actor, r io.Reader) (web.ImportResult, error) {
	if err := m.d.Mail.MailConfigured(); err != nil {
		return web.ImportResult{}, err
	}
	t, err := readCSV(r, web.MemberCSVColumns, "email", MaxImportMembers)
	if err != nil {
		return web.ImportResult{}, err
	}
	names, err := m.importNames(ctx, a.OrgID)
	if err != nil {
		return web.ImportResult{}, err
	}
	now := m.s.d.Now().UTC()
	seen := map[string]int{}
	invs := make([]storage.MemberInvitation, len(t.rows))
	tokens := make([]string, len(t.rows))
	changes := make([]storage.Change, len(t.rows))
	for i, line := range t.lines {
		inv, err := m.importLine(ctx, a, names, t, i, now)
		if err != nil {
			return web.ImportResult{}, lineError(line, err)
		}
		if first, dup := seen[inv.Email]; dup {
			return web.ImportResult{}, lineProblem(line, fmt.Sprintf("%s is on line %d already", inv.Email, first))
		}
		seen[inv.Email] = line
		token, hash := newMemberToken()
		invs[i], tokens[i] = inv, token
		changes[i] = storage.Change{Op: storage.OpPutMemberInvite, MemberInvitation: &invs[i], TokenHash: hash}
	}
	emails := make([]string, len(invs))
	for i, inv := range invs {
		emails[i] = inv.Email
	}
	e := entry{"member.import", "", map[string]any{"emails": emails}}
	if err := m.s.commit(ctx, a, e, changes...); err != nil {
		return web.ImportResult{}, err
	}
	out := web.ImportResult{Imported: len(invs), Invitations: make([]web.MemberInvitationOut, len(invs))}
	for i, inv := range invs {
		out.Invitations[i] = m.send(ctx, a, inv, tokens[i])
	}
	return out, nil
}

// importNames is what an import's lines are checked against.
type importNames struct {
	roles   []storage.Role
	teams   map[string]string   // lower-case name and id → id
	labels  map[string][]string // lower-case name and "group/name" → ids
	members map[string]bool
	pending map[string]bool
}

func (m *Members) importNames(ctx context.Context, orgID string) (importNames, error) {
	st := m.s.d.Store
	n := importNames{teams: map[string]string{}, labels: map[string][]string{}, members: map[string]bool{}, pending: map[string]bool{}}
	var err error
	if n.roles, err = st.Roles(ctx, orgID); err != nil {
		return n, err
	}
	teams, err := st.Teams(ctx, orgID)
	if err != nil {
		return n, err
	}
	for _, t := range teams {
		n.teams[strings.ToLower(t.Name)], n.teams[t.ID] = t.ID, t.ID
	}
	groups, err := st.LabelGroups(ctx, orgID)
	if err != nil {
		return n, err
	}
	groupName := map[string]string{}
	for _, g := range groups {
		groupName[g.ID] = g.Name
	}
	labels, err := st.Labels(ctx, orgID)
	if err != nil {
		return n, err
	}
	for _, l := range labels {
		name := strings.ToLower(l.Name)
		n.labels[name] = append(n.labels[name], l.ID)
		n.labels[strings.ToLower(groupName[l.GroupID])+"/"+name] = []string{l.ID}
	}
	users, err := st.Users(ctx, orgID)
	if err != nil {
		return n, err
	}
	for _, u := range users {
		n.members[u.Email] = true
	}
	invs, err := m.d.Store.MemberInvitations(ctx, orgID)
	if err != nil {
		return n, err
	}
	now := m.s.d.Now()
	for _, inv := range invs {
		if inv.State(now) == storage.MemberInvitePending {
			n.pending[inv.Email] = true
		}
	}
	return n, nil
}

// importLine checks line i of t and makes its invitation.
func (m *Members) importLine(ctx context.Context, a web.Actor, n importNames, t csvTable, i int, now time.Time) (storage.MemberInvitation, error) {
	email, err := normEmail("email", t.get(i, "email"))
	if err != nil {
		return storage.MemberInvitation{}, err
	}
	switch {
	case n.members[email]:
		return storage.MemberInvitation{}, validation("email", fmt.Sprintf("%s is already a member of the organisation", email))
	case n.pending[email]:
		return storage.MemberInvitation{}, validation("email", fmt.Sprintf("%s is invited already: resend that invitation instead", email))
	}
	roles := list(t.get(i, "roles"))
	if len(roles) == 0 {
		roles = []string{policy.RoleRegular}
	}
	for _, r := range roles {
		if !hasRole(n.roles, r) {
			return storage.MemberInvitation{}, validation("roles", fmt.Sprintf("%q is not a role of this organisation", r))
		}
	}
	if err := m.s.mayGrantRoles(a, roles); err != nil {
		return storage.MemberInvitation{}, err
	}
	var teams, labels []string
	for _, name := range list(t.get(i, "teams")) {
		id, ok := n.teams[strings.ToLower(name)]
		if !ok {
			id, ok = n.teams[name]
		}
		if !ok {
			return storage.MemberInvitation{}, validation("teams", fmt.Sprintf("%q is not a team of this organisation", name))
		}
		if err := m.s.mayJoinTeam(a, id); err != nil {
			return storage.MemberInvitation{}, err
		}
		if !slices.Contains(teams, id) {
			teams = append(teams, id)
		}
	}
	for _, name := range list(t.get(i, "labels")) {
		found := n.labels[strings.ToLower(name)]
		switch {
		case len(found) == 0:
			return storage.MemberInvitation{}, validation("labels", fmt.Sprintf("%q is not a label of this organisation", name))
		case len(found) > 1:
			return storage.MemberInvitation{}, validation("labels", fmt.Sprintf("%q is a label of several groups: write it group/label", name))
		}
		if !slices.Contains(labels, found[0]) {
			labels = append(labels, found[0])
		}
	}
	return storage.MemberInvitation{ID: ids.New(), OrgID: a.OrgID, Email: email, Roles: roles, TeamIDs: teams, LabelIDs: labels,
		CreatedBy: actorID(a), CreatedAt: now, SentAt: now, Sends: 1, ExpiresAt: now.Add(m.d.TTL)}, nil
}

// People implements web.People with the labels and contact imports of a
// Service and the member imports of its Members.
type People struct {
	*Service
	Members *Members
}

var _ web.People = People{}

// ImportMembers invites the members of r through p.Members.
func (p People) ImportMembers(ctx context.Context, a web.Actor, r io.Reader) (web.ImportResult, error) {
	return p.Members.ImportMembers(ctx, a, r)
}
