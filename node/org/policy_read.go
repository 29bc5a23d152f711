package org

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"siteline/policy"
	"siteline/storage"
	"siteline/web"
)

// SupervisionScope lists the users the supervisor (an id or an e-mail of
// the actor's organisation) reaches through their teams.
func (s *Service) SupervisionScope(ctx context.Context, a web.Actor, supervisor string) ([]storage.User, error) {
	u, err := s.findUser(ctx, a, "user", supervisor)
	if err != nil {
		return nil, err
	}
	reached, err := s.Supervisees(ctx, a.OrgID, u.ID)
	if err != nil {
		return nil, err
	}
	out := make([]storage.User, 0, len(reached))
	for _, id := range reached {
		if x, err := s.d.Store.User(ctx, id); err == nil {
			out = append(out, x)
		}
	}
	return out, nil
}

// Supervisees returns the ids of the users supervisorID reaches through
// the teams of orgID (policy.Supervisees).
func (s *Service) Supervisees(ctx context.Context, orgID, supervisorID string) ([]string, error) {
	ms, err := s.Memberships(ctx, orgID)
	if err != nil {
		return nil, err
	}
	return policy.Supervisees(ms, supervisorID), nil
}

// CanSupervise decides a supervision action (sit in, take over, transfer,
// monitor a screen, the team dashboard) of supervisorID on targetID: the
// permission org-wide, then the team scope.
func (s *Service) CanSupervise(ctx context.Context, orgID, supervisorID, targetID, permission string) error {
	ms, err := s.Memberships(ctx, orgID)
	if err != nil {
		return err
	}
	return policy.CanSupervise(s.d.Enforcer, ms, orgID, supervisorID, targetID, permission)
}

// Memberships returns the memberships of every team of orgID.
func (s *Service) Memberships(ctx context.Context, orgID string) ([]storage.TeamMembership, error) {
	teams, err := s.d.Store.Teams(ctx, orgID)
	if err != nil {
		return nil, err
	}
	var ms []storage.TeamMembership
	for _, t := range teams {
		m, err := s.d.Store.TeamMembers(ctx, t.ID)
		if err != nil {
			return nil, err
		}
		ms = append(ms, m...)
	}
	return ms, nil
}

// subject resolves "role:NAME" (or a bare role name), "user:ID-OR-EMAIL"
// and "team:ID-OR-NAME" to a policy subject of the actor's organisation.
func (s *Service) subject(ctx context.Context, a web.Actor, field, in string) (string, error) {
	in = strings.TrimSpace(in)
	kind, name, ok := strings.Cut(in, ":")
	if !ok {
		kind, name = "role", in
	}
	switch kind {
	case "role":
		roles, err := s.d.Store.Roles(ctx, a.OrgID)
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
		teams, err := s.d.Store.Teams(ctx, a.OrgID)
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
func (s *Service) findUser(ctx context.Context, a web.Actor, field, idOrEmail string) (storage.User, error) {
	idOrEmail = strings.TrimSpace(idOrEmail)
	if strings.Contains(idOrEmail, "@") {
		u, err := s.d.Store.UserByEmail(ctx, a.OrgID, strings.ToLower(idOrEmail))
		if errors.Is(err, storage.ErrNotFound) {
			return u, validation(field, fmt.Sprintf("no user with e-mail %s in this organisation", idOrEmail))
		}
		return u, err
	}
	u, err := inOrg(ctx, a, "user", idOrEmail, s.d.Store.User)
	if errors.Is(err, storage.ErrNotFound) {
		return u, validation(field, fmt.Sprintf("no user with id %q in this organisation", idOrEmail))
	}
	return u, err
}

func (s *Service) activeUsers(ctx context.Context, orgID string) ([]string, error) {
	users, err := s.d.Store.Users(ctx, orgID)
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
