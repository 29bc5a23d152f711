package policy

import "siteline/storage"

// Built-in role names. Guest role names equal the storage.UserKind of the
// guest they are for.
const (
	RoleAdministrator = "administrator"
	RoleRegular       = "regular"
	RoleTeamMember    = "team_member"
	RoleTeamLead      = "team_lead"
	RoleTeamManager   = "team_manager"
	RoleGuestApp      = "guest_app"
	RoleGuestMobile   = "guest_mobile"
	RoleGuestDesktop  = "guest_desktop"
)

// builtinRole is a role shipped with every organisation and the
// permissions the default policy grants it.
type builtinRole struct {
	name        string
	description string
	grants      []string
}

// builtinRoles lists the shipped roles in the order the default policy and
// the backoffice show them.
func builtinRoles() []builtinRole {
	// SPEC.md section 2: guests get every in-call function (supervision
	// is not a participant's function) and nothing outside the call.
	guestGrants := []string{
		CallJoin, CallPublishCamera, CallPublishMicrophone, CallChat,
		CallSnapshotAnnotate, CallShareFiles, CallRecord,
		CallInviteParticipants, CallEndForAll,
	}
	supervisorGrants := []string{
		TeamDashboard, CallSitIn, CallCoach, CallTakeOver, CallTransfer, CallMonitorScreen,
		ManageQueues,
	}
	return []builtinRole{
		{RoleAdministrator, "everything, including organisation, policy and SSO administration", IDs()},
		{RoleRegular, "a registered user: the assistance product, contacts, call logs, service reports and every in-call function", regularGrants()},
		{RoleTeamMember, "member of a team: receives service requests by auto-assign", []string{AutoAssign}},
		{RoleTeamLead, "lead of a team: watches members, sits in, takes over, transfers", supervisorGrants},
		{RoleTeamManager, "manager of a team: watches members and leads, sits in, takes over, transfers", supervisorGrants},
		{RoleGuestApp, "guest in the mobile app: in-call functions only", guestGrants},
		{RoleGuestMobile, "guest in a mobile web browser: in-call functions only", guestGrants},
		{RoleGuestDesktop, "guest in a desktop web browser: in-call functions only, with screen share",
			append(append([]string(nil), guestGrants...), CallScreenShare)},
	}
}

// regularGrants is the SPEC matrix (all 19 ids), the in-call functions a
// participant uses, auto-assign and API tokens for oneself.
func regularGrants() []string {
	var grants []string
	for _, p := range catalogue() {
		switch p.Area {
		case AreaStartPage, AreaAssist, AreaOutside:
			grants = append(grants, p.ID)
		}
	}
	return append(grants,
		CallJoin, CallPublishCamera, CallPublishMicrophone, CallChat,
		CallSnapshotAnnotate, CallShareFiles, CallScreenShare, CallRecord,
		CallInviteParticipants, CallEndForAll,
		AutoAssign, AdminAPITokens,
	)
}

// BuiltinRoleNames returns the names of the shipped roles.
func BuiltinRoleNames() []string {
	roles := builtinRoles()
	names := make([]string, len(roles))
	for i, r := range roles {
		names[i] = r.name
	}
	return names
}

// GuestRole returns the built-in role for a kind of user, or "" for kinds
// that are not guests (regular users get roles by assignment).
func GuestRole(kind storage.UserKind) string {
	switch kind {
	case storage.UserGuestApp:
		return RoleGuestApp
	case storage.UserGuestMobile:
		return RoleGuestMobile
	case storage.UserGuestDesktop:
		return RoleGuestDesktop
	}
	return ""
}

// IsGuestRole reports whether a role is one of the built-in guest roles,
// which guests get by their kind and a registered account never holds.
func IsGuestRole(name string) bool {
	switch name {
	case RoleGuestApp, RoleGuestMobile, RoleGuestDesktop:
		return true
	}
	return false
}

// DefaultRoles returns the built-in roles of an organisation.
func DefaultRoles(orgID string) []storage.Role {
	builtins := builtinRoles()
	roles := make([]storage.Role, len(builtins))
	for i, r := range builtins {
		roles[i] = storage.Role{OrgID: orgID, Name: r.name, Description: r.description, Builtin: true}
	}
	return roles
}

// DefaultPolicy returns the policy a new organisation starts with: one
// explicit "p" line per role and permission, administrators included, and
// no grouping lines (users are assigned roles when they are created).
func DefaultPolicy(orgID string) []storage.PolicyRule {
	var rules []storage.PolicyRule
	for _, r := range builtinRoles() {
		for _, id := range r.grants {
			rules = append(rules, Grant(orgID, RoleSubject(r.name), id))
		}
	}
	return rules
}
