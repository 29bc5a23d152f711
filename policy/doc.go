// Package policy holds Siteline's permissions: the catalogue of permission
// ids, the built-in roles and the default policy, the casbin model, the
// enforcer that answers "may user U do P in organisation O", and the
// validation of policy edits (unknown ids, lock-out) and CSV import/export.
//
// # Model
//
// casbin with domains: the domain is the organisation id, so every line
// and every check is scoped to one organisation.
//
//	p, role:regular, <org>, home_dashboard_access    grant: subject, domain, permission
//	g, user:<id>, role:regular, <org>                assignment: user (or role), role, domain
//
// Subjects are "user:<id>" and "role:<name>". A grant may name a user
// directly; an assignment may give a role to a role (inheritance). The
// effect is allow-only: a permission is held if any of the user's subjects
// is granted it. See ModelText.
//
// # Administrators
//
// The administrator role gets one explicit line per catalogue id rather
// than a wildcard or a matcher shortcut: the policy editor then shows what
// administrators may do like any other role, and narrowing it is an edit
// like any other. The catch is that a new catalogue id is not granted to
// existing organisations' administrators by itself; adding it to their
// policy is a migration step of the release that adds the id.
//
// # Supervision scope
//
// SPEC.md scopes supervision rights (sit-in, take-over, transfer, monitor
// screen, team dashboard) to the supervisor's teams. The enforcer decides
// the org-wide right; CanSupervise adds the team scope from memberships
// (Supervisees): leads reach the members of their teams, managers the
// members and leads. The request shape of Enforcer stays small for that
// reason.
//
// # Teams
//
// A role given to a team is "g, team:<id>, role:<name>, <org>"; a user is
// placed in a team by "g, user:<id>, team:<id>, <org>" (TeamLink), which the
// node keeps in step with team memberships.
//
// # Aliases
//
// The source table of SPEC.md spells the call-log ids "xa_ocalLcalllog_...".
// Normalize and ParseCSV accept that spelling, rewrite it to
// "xa_ocall_calllog_..." and return a warning; nothing else accepts it.
package policy
