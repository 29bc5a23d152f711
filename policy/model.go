package policy

import (
	"strings"

	"siteline/storage"
)

// ModelText is the casbin model every enforcer uses; configs/casbin/model.conf
// holds the same text (a golden test keeps them equal).
//
// A request is (subject, domain, permission). Supervision rights will be
// scoped to the supervisor's teams in a later change; that will add a
// request field (for example r = sub, dom, obj, team) and a matcher term,
// without changing the policy lines already stored. Until then the node
// checks team membership itself after the org-wide permission check.
const ModelText = `[request_definition]
r = sub, dom, obj

[policy_definition]
p = sub, dom, obj

[role_definition]
g = _, _, _

[policy_effect]
e = some(where (p.eft == allow))

[matchers]
m = r.dom == p.dom && r.obj == p.obj && g(r.sub, p.sub, r.dom)
`

// Policy line types.
const (
	PTypeGrant  = "p" // p, <subject>, <org>, <permission>
	PTypeAssign = "g" // g, <user or role subject>, <role subject>, <org>
)

// Subject prefixes.
const (
	userPrefix = "user:"
	rolePrefix = "role:"
	teamPrefix = "team:"
)

// UserSubject returns the casbin subject of a user id.
func UserSubject(userID string) string { return userPrefix + userID }

// RoleSubject returns the casbin subject of a role name.
func RoleSubject(role string) string { return rolePrefix + role }

// TeamSubject returns the casbin subject of a team id.
func TeamSubject(teamID string) string { return teamPrefix + teamID }

// AssignTeam returns the grouping line giving every member of a team a
// role in an org.
func AssignTeam(orgID, teamID, role string) storage.PolicyRule {
	return storage.PolicyRule{OrgID: orgID, PType: PTypeAssign, V: []string{TeamSubject(teamID), RoleSubject(role), orgID}}
}

// TeamLink returns the grouping line that places a user in a team, so the
// user holds the roles given to the team. The node keeps these lines in
// step with team memberships; they are not edited as policy.
func TeamLink(orgID, userID, teamID string) storage.PolicyRule {
	return storage.PolicyRule{OrgID: orgID, PType: PTypeAssign, V: []string{UserSubject(userID), TeamSubject(teamID), orgID}}
}

// IsTeamLink reports whether r is a line TeamLink makes.
func IsTeamLink(r storage.PolicyRule) bool {
	return r.PType == PTypeAssign && len(r.V) == 3 && isSubject(r.V[0], userPrefix) && isSubject(r.V[1], teamPrefix)
}

// Grant returns the policy line giving subject a permission in an org.
func Grant(orgID, subject, permission string) storage.PolicyRule {
	return storage.PolicyRule{OrgID: orgID, PType: PTypeGrant, V: []string{subject, orgID, permission}}
}

// Assign returns the grouping line giving a user a role in an org.
func Assign(orgID, userID, role string) storage.PolicyRule {
	return storage.PolicyRule{OrgID: orgID, PType: PTypeAssign, V: []string{UserSubject(userID), RoleSubject(role), orgID}}
}

// stripPrefix returns s without prefix, and whether it had it.
func stripPrefix(s, prefix string) (string, bool) { return strings.CutPrefix(s, prefix) }
