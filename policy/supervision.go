package policy

import (
	"fmt"
	"slices"

	"siteline/storage"
)

// Supervision scope (SPEC.md section 4): the policy grants a supervision
// right (team dashboard, sit-in, take-over, transfer, monitor screen)
// organisation-wide; whom it reaches is decided here from team
// memberships:
//
//   - a team lead reaches the members of the teams they lead;
//   - a team manager reaches the members and the leads of the teams they
//     manage;
//   - an administrator (who holds admin_organisation_teams, and so may
//     make themself lead of any team anyway) reaches everyone of the
//     organisation but themself;
//   - nobody else reaches themself, a manager, or anyone outside their
//     teams.
//
// Memberships are organisation data the node already holds, so the scope
// is a function of them rather than policy lines: a membership change
// moves the scope with no policy edit.

// Supervisees returns the ids of the users supervisorID reaches, sorted,
// given the memberships of every team of the organisation.
func Supervisees(memberships []storage.TeamMembership, supervisorID string) []string {
	reach := map[string]storage.TeamRole{} // team -> the supervisor's role in it
	for _, m := range memberships {
		if m.UserID == supervisorID && (m.Role == storage.TeamLead || m.Role == storage.TeamManager) {
			reach[m.TeamID] = m.Role
		}
	}
	var out []string
	for _, m := range memberships {
		role, ok := reach[m.TeamID]
		if !ok || m.UserID == supervisorID || slices.Contains(out, m.UserID) {
			continue
		}
		if m.Role == storage.TeamMember || (m.Role == storage.TeamLead && role == storage.TeamManager) {
			out = append(out, m.UserID)
		}
	}
	slices.Sort(out)
	return out
}

// ScopeError refuses a supervision action on a user outside the
// supervisor's teams. It unwraps to the *storage.ForbiddenError of the
// permission, so the answer is a 403 naming it.
type ScopeError struct {
	SupervisorID, TargetID, Permission string
}

func (e *ScopeError) Error() string {
	return fmt.Sprintf("user %s is not a member (or, for managers, a lead) of a team user %s supervises; %s reaches only them",
		e.TargetID, e.SupervisorID, e.Permission)
}

// Unwrap returns the permission refusal.
func (e *ScopeError) Unwrap() error { return &storage.ForbiddenError{Permission: e.Permission} }

// Checker decides whether a user holds a permission (an *Enforcer).
type Checker interface {
	Check(orgID, userID, permission string) error
}

// CanSupervise returns nil when supervisorID holds permission in orgID and
// targetID is within the supervisor's scope, the enforcer's refusal when
// the permission is not held, and a *ScopeError when the target is out of
// scope.
func CanSupervise(e Checker, memberships []storage.TeamMembership, orgID, supervisorID, targetID, permission string) error {
	return InScope(e, Supervisees(memberships, supervisorID), orgID, supervisorID, targetID, permission)
}

// InScope is CanSupervise over the supervisor's reach computed already
// (Supervisees): the permission organisation-wide, then the scope, where
// an administrator of teams reaches every other user of the organisation.
// The caller makes sure targetID is a user of orgID.
func InScope(e Checker, reach []string, orgID, supervisorID, targetID, permission string) error {
	if err := e.Check(orgID, supervisorID, permission); err != nil {
		return err
	}
	if slices.Contains(reach, targetID) {
		return nil
	}
	if targetID != supervisorID && e.Check(orgID, supervisorID, AdminTeams) == nil {
		return nil
	}
	return &ScopeError{SupervisorID: supervisorID, TargetID: targetID, Permission: permission}
}
