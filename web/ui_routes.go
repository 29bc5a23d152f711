package web

import (
	"strings"

	"github.com/gofiber/fiber/v2"

	"siteline/policy"
)

// uiRoutes is the backoffice. Every page and form names its permission
// here, as the API routes do; the server checks login, CSRF and the
// permission before any handler runs.
func (s *Server) uiRoutes() []route {
	return append([]route{
		{method: "GET", path: "/login", public: true, page: true, summary: "Login page", handler: s.uiLogin},
		{method: "POST", path: "/login", public: true, page: true, summary: "Log in", handler: s.uiLoginPost},
		{method: "POST", path: "/logout", page: true, summary: "Log out", handler: s.uiLogout},

		{method: "GET", path: "/", perm: policy.HomeDashboardAccess, page: true, summary: "Start page", handler: s.uiHome},

		{method: "GET", path: "/users", perm: policy.AdminMembers, page: true, summary: "Users", handler: s.uiUsers},
		{method: "POST", path: "/users", perm: policy.AdminMembers, page: true, summary: "Create a user", handler: s.uiCreateUser},
		{method: "GET", path: "/users/:id", perm: policy.AdminMembers, page: true, summary: "One user", handler: s.uiUser},
		{method: "POST", path: "/users/:id", perm: policy.AdminMembers, page: true, summary: "Change a user's profile and roles", handler: s.uiUpdateUser},
		{method: "POST", path: "/users/:id/status", perm: policy.AdminMembers, page: true, summary: "Activate or deactivate a user", handler: s.uiUserStatus},
		{method: "POST", path: "/users/:id/password", perm: policy.AdminMembers, page: true, summary: "Set a user's password", handler: s.uiUserPassword},

		{method: "GET", path: "/teams", perm: policy.AdminTeams, page: true, summary: "Teams", handler: s.uiTeams},
		{method: "POST", path: "/teams", perm: policy.AdminTeams, page: true, summary: "Create a team", handler: s.uiCreateTeam},
		{method: "GET", path: "/teams/:id", perm: policy.AdminTeams, page: true, summary: "One team", handler: s.uiTeam},
		{method: "POST", path: "/teams/:id", perm: policy.AdminTeams, page: true, summary: "Rename a team", handler: s.uiRenameTeam},
		{method: "POST", path: "/teams/:id/delete", perm: policy.AdminTeams, page: true, summary: "Delete a team", handler: s.uiDeleteTeam},
		{method: "POST", path: "/teams/:id/queue", perm: policy.ManageQueues, page: true, summary: "Set how a team's queue offers service requests", handler: s.uiSetStrategy},
		{method: "POST", path: "/teams/:id/members", perm: policy.AdminTeams, page: true, summary: "Add a team member or change their role", handler: s.uiSetMember},
		{method: "POST", path: "/teams/:id/members/:user/delete", perm: policy.AdminTeams, page: true, summary: "Remove a team member", handler: s.uiRemoveMember},

		{method: "GET", path: "/labels", perm: policy.AdminLabels, page: true, summary: "Labels", handler: s.uiLabels},
		{method: "POST", path: "/label-groups", perm: policy.AdminLabels, page: true, summary: "Create a label group", handler: s.uiCreateGroup},
		{method: "POST", path: "/label-groups/:id", perm: policy.AdminLabels, page: true, summary: "Rename or recolour a label group", handler: s.uiUpdateGroup},
		{method: "POST", path: "/label-groups/:id/delete", perm: policy.AdminLabels, page: true, summary: "Delete a label group", handler: s.uiDeleteGroup},
		{method: "POST", path: "/labels", perm: policy.AdminLabels, page: true, summary: "Create a label", handler: s.uiCreateLabel},
		{method: "POST", path: "/labels/:id", perm: policy.AdminLabels, page: true, summary: "Rename a label", handler: s.uiUpdateLabel},
		{method: "POST", path: "/labels/:id/delete", perm: policy.AdminLabels, page: true, summary: "Delete a label", handler: s.uiDeleteLabel},

		{method: "GET", path: "/contacts", perm: policy.ContactList, page: true, summary: "Phonebook", handler: s.uiContacts},
		{method: "POST", path: "/contacts", perm: policy.PhonebookEditor, page: true, summary: "Add a contact", handler: s.uiCreateContact},
		{method: "GET", path: "/contacts/:id", perm: policy.PhonebookEditor, page: true, summary: "Edit a contact", handler: s.uiContact},
		{method: "POST", path: "/contacts/:id", perm: policy.PhonebookEditor, page: true, summary: "Change a contact", handler: s.uiUpdateContact},
		{method: "POST", path: "/contacts/:id/delete", perm: policy.PhonebookEditor, page: true, summary: "Delete a contact", handler: s.uiDeleteContact},

		{method: "GET", path: "/account", page: true, summary: "Own account", handler: s.uiAccount},
		{method: "POST", path: "/account/password", page: true, summary: "Change own password", handler: s.uiChangePassword},
		{method: "POST", path: "/account/tokens", perm: policy.AdminAPITokens, page: true, summary: "Create an API token", handler: s.uiCreateToken},
		{method: "POST", path: "/account/tokens/:id/delete", perm: policy.AdminAPITokens, page: true, summary: "Revoke an API token", handler: s.uiDeleteToken},
		{method: "POST", path: "/account/org-tokens/:id/delete", perm: policy.AdminOrgTokens, page: true, summary: "Revoke any API token of the organisation", handler: s.uiRevokeOrgToken},

		{method: "GET", path: "/audit", perm: policy.AdminAuditLog, page: true, summary: "Audit log", handler: s.uiAudit},
		{method: "GET", path: "/policy", perm: policy.AdminPolicies, page: true, summary: "Permission matrix", handler: s.uiPolicy},
	}, s.policyUIRoutes()...)
}

// param returns a path parameter copied out of fiber's buffer.
func param(c *fiber.Ctx, name string) string { return strings.Clone(c.Params(name)) }

// secret returns a password field; it is never kept in a formState.
func secret(c *fiber.Ctx, name string) string {
	return string(c.Request().PostArgs().Peek(name))
}

// ---- login -------------------------------------------------------------
