package policy

// Escalation. Whoever may change users or teams could otherwise hand out
// more than they hold: a holder of admin_organisation_members alone could
// make themself an administrator. The node checks every such change with
// the queries below: a role may be given only by someone holding every
// permission it carries, and a user may be managed only by someone holding
// every permission that user holds.

// RolePermissions returns the ids role carries in orgID, through the roles
// it inherits too, in catalogue order.
func (e *Enforcer) RolePermissions(orgID, role string) []string {
	return e.subjectPermissions(orgID, RoleSubject(role))
}

// TeamPermissions returns the ids a member of team gains in orgID through
// the roles given to the team, in catalogue order.
func (e *Enforcer) TeamPermissions(orgID, teamID string) []string {
	return e.subjectPermissions(orgID, TeamSubject(teamID))
}

func (e *Enforcer) subjectPermissions(orgID, sub string) []string {
	e.mu.RLock()
	defer e.mu.RUnlock()
	subjects := append([]string{sub}, e.implicitRoles(sub, orgID)...)
	var ids []string
	for _, p := range catalogue() {
		if e.allowed(subjects, orgID, p.ID) {
			ids = append(ids, p.ID)
		}
	}
	return ids
}

// Missing returns the first id of want that have lacks, "" when have holds
// them all.
func Missing(have, want []string) string {
	held := make(map[string]bool, len(have))
	for _, id := range have {
		held[id] = true
	}
	for _, id := range want {
		if !held[id] {
			return id
		}
	}
	return ""
}
