package org

import (
	"fmt"

	"siteline/policy"
	"siteline/storage"
	"siteline/web"
)

// The checks below keep administrators of users and teams from handing
// out, or taking over, more than they hold themselves (policy/escalation.go).
// The local operator holds every permission and passes them all.

// held returns the permissions the actor holds.
func (s *Service) held(a web.Actor) []string {
	if a.Local {
		return policy.IDs()
	}
	return s.d.Enforcer.Permissions(a.OrgID, a.UserID)
}

// mayGrantRoles refuses roles carrying a permission the actor lacks (with
// the roles they inherit).
func (s *Service) mayGrantRoles(a web.Actor, roles []string) error {
	have := s.held(a)
	for _, r := range roles {
		if p := policy.Missing(have, s.d.Enforcer.RolePermissions(a.OrgID, r)); p != "" {
			return fmt.Errorf("give role %s: %w", r, &storage.ForbiddenError{Permission: p})
		}
	}
	return nil
}

// mayJoinTeam refuses to put a user in a team whose roles carry a
// permission the actor lacks.
func (s *Service) mayJoinTeam(a web.Actor, teamID string) error {
	if p := policy.Missing(s.held(a), s.d.Enforcer.TeamPermissions(a.OrgID, teamID)); p != "" {
		return fmt.Errorf("add to team %s, whose roles carry more than you hold: %w", teamID, &storage.ForbiddenError{Permission: p})
	}
	return nil
}

// mayManage refuses a change to the login, password, roles, teams or
// active state of a user who holds a permission the actor lacks.
func (s *Service) mayManage(a web.Actor, u storage.User) error {
	if p := policy.Missing(s.held(a), s.d.Enforcer.Permissions(u.OrgID, u.ID)); p != "" {
		return fmt.Errorf("change %s, who holds more than you: %w", u.Email, &storage.ForbiddenError{Permission: p})
	}
	return nil
}

// mayChangeOwnRoles refuses a change to one's own roles without the
// policy permission: whoever may change roles but not policies would
// otherwise pick their own.
func (s *Service) mayChangeOwnRoles(a web.Actor) error {
	if err := s.d.Enforcer.Check(a.OrgID, a.UserID, policy.AdminPolicies); err != nil {
		return fmt.Errorf("change your own roles: %w", err)
	}
	return nil
}

// mayUpdate checks a change to user u: managing u at all when it touches
// their login, password, roles or active state; the policy permission for
// one's own roles; holding every permission of the roles given.
func (s *Service) mayUpdate(a web.Actor, u storage.User, p web.UserPatch) error {
	var oldRoles, added []string
	rolesChange := false
	if p.Roles != nil {
		oldRoles = s.d.Enforcer.Roles(a.OrgID, u.ID)
		added = minus(*p.Roles, oldRoles)
		rolesChange = len(added) > 0 || len(minus(oldRoles, *p.Roles)) > 0
	}
	sensitive := rolesChange || p.Password != nil ||
		p.Active != nil && *p.Active != u.Active ||
		p.Email != nil && *p.Email != u.Email
	if !sensitive {
		return nil
	}
	if err := s.mayManage(a, u); err != nil {
		return err
	}
	if rolesChange && !a.Local && a.UserID == u.ID {
		if err := s.mayChangeOwnRoles(a); err != nil {
			return err
		}
	}
	return s.mayGrantRoles(a, added)
}
