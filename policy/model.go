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
)

// UserSubject returns the casbin subject of a user id.
func UserSubject(userID string) string { return userPrefix + userID }

// RoleSubject returns the casbin subject of a role name.
func RoleSubject(role string) string { return rolePrefix + role }

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
