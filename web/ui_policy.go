package web

import (
	"fmt"
	"net/url"
	"strings"

	"github.com/gofiber/fiber/v2"

	"siteline/policy"
	"siteline/storage"
)

// The backoffice's policy editor: the roles × permissions matrix (a click
// on a cell grants or revokes), roles, the raw policy lines with import,
// the "can USER do PERMISSION?" check and the versions. Every form posts
// to the PolicyAdmin use cases, which validate, propose through Raft and
// audit, exactly as the API does.

func (s *Server) policyUIRoutes() []route {
	perm := policy.AdminPolicies
	return []route{
		{method: "POST", path: "/policy/cell", perm: perm, page: true, summary: "Grant or revoke a permission of a role (a matrix cell)", handler: s.uiPolicyCell},
		{method: "GET", path: "/policy/roles", perm: perm, page: true, summary: "Roles: inheritance, users and teams", handler: s.uiPolicyRoles},
		{method: "POST", path: "/policy/roles", perm: perm, page: true, summary: "Create a role", handler: s.uiPolicyCreateRole},
		{method: "POST", path: "/policy/roles/:name/delete", perm: perm, page: true, summary: "Delete a role", handler: s.uiPolicyDeleteRole},
		{method: "POST", path: "/policy/assign", perm: perm, page: true, summary: "Give a role to a user, team or role", handler: s.uiPolicyAssign},
		{method: "POST", path: "/policy/unassign", perm: perm, page: true, summary: "Take a role from a user, team or role", handler: s.uiPolicyUnassign},
		{method: "GET", path: "/policy/raw", perm: perm, page: true, summary: "Raw policy lines and import", handler: s.uiPolicyRaw},
		{method: "POST", path: "/policy/import", perm: perm, page: true, summary: "Import a policy (casbin CSV)", handler: s.uiPolicyImport},
		{method: "GET", path: "/policy/check", perm: perm, page: true, summary: "Can USER do PERMISSION?", handler: s.uiPolicyCheck},
		{method: "GET", path: "/policy/versions", perm: perm, page: true, summary: "Policy versions", handler: s.uiPolicyVersions},
		{method: "GET", path: "/policy/versions/:id", perm: perm, page: true, summary: "One policy version", handler: s.uiPolicyVersion},
		{method: "POST", path: "/policy/versions/:id/restore", perm: perm, page: true, summary: "Restore a policy version", handler: s.uiPolicyRestore},
	}
}

// policyPage is what every policy tab gets besides its own data.
type policyPage struct {
	Tab  string
	Data any
}

func (s *Server) renderPolicy(c *fiber.Ctx, status int, page, tab string, f *formState, data any) error {
	v := s.view(c, "Policies", "policy")
	if f != nil {
		v.Form = f
	}
	v.Data = policyPage{Tab: tab, Data: data}
	return s.ui.render(c, status, page, v)
}

// ---- matrix --------------------------------------------------------------

func (s *Server) showPolicy(c *fiber.Ctx, status int, f *formState) error {
	a, _ := actorOf(c)
	ctx := c.UserContext()
	roles, err := s.deps.Org.Roles(ctx, a.OrgID)
	if err != nil {
		return err
	}
	rules, err := s.deps.Org.Policy(ctx, a.OrgID)
	if err != nil {
		return err
	}
	return s.renderPolicy(c, status, "policy", "matrix", f, buildMatrix(sortRoles(roles), rules, policy.All()))
}

func (s *Server) uiPolicyCell(c *fiber.Ctx) error {
	f := readForm(c, "cell", "role", "permission", "grant")
	a, _ := actorOf(c)
	in := GrantInput{Subject: "role:" + f.V("role"), Permission: f.V("permission")}
	var err error
	verb := "Granted"
	if f.V("grant") == "1" {
		_, err = s.deps.Policy.Grant(c.UserContext(), a, in)
	} else {
		verb = "Revoked"
		_, err = s.deps.Policy.Revoke(c.UserContext(), a, in)
	}
	if err != nil {
		return failed(c, f, err, s.showPolicy)
	}
	to := "to"
	if verb == "Revoked" {
		to = "from"
	}
	return done(c, "/policy#perm-"+url.PathEscape(in.Permission), fmt.Sprintf("%s %s %s role %s.", verb, in.Permission, to, f.V("role")))
}

// ---- roles ---------------------------------------------------------------

type policyRolesData struct {
	Roles []RoleInfo
	Users []storage.User
	Teams []storage.Team
	Names map[string]string // user and team ids -> names
}

func (s *Server) showPolicyRoles(c *fiber.Ctx, status int, f *formState) error {
	a, _ := actorOf(c)
	ctx := c.UserContext()
	roles, err := s.deps.Policy.PolicyRoles(ctx, a)
	if err != nil {
		return err
	}
	users, err := s.deps.Org.Users(ctx, a.OrgID)
	if err != nil {
		return err
	}
	teams, err := s.deps.Org.Teams(ctx, a.OrgID)
	if err != nil {
		return err
	}
	names := map[string]string{}
	for _, u := range users {
		names[u.ID] = u.Name
	}
	for _, t := range teams {
		names[t.ID] = t.Name
	}
	return s.renderPolicy(c, status, "policy_roles", "roles", f, policyRolesData{Roles: roles, Users: users, Teams: teams, Names: names})
}

func (s *Server) uiPolicyRoles(c *fiber.Ctx) error { return s.showPolicyRoles(c, fiber.StatusOK, nil) }

func (s *Server) uiPolicyCreateRole(c *fiber.Ctx) error {
	f := readForm(c, "role", "name", "description", "inherits")
	a, _ := actorOf(c)
	_, err := s.deps.Policy.CreateRole(c.UserContext(), a, RoleInput{Name: f.V("name"), Description: f.V("description"), Inherits: f.All("inherits")})
	if err != nil {
		return failed(c, f, err, s.showPolicyRoles)
	}
	return done(c, "/policy/roles", fmt.Sprintf("Created role %s.", f.V("name")))
}

func (s *Server) uiPolicyDeleteRole(c *fiber.Ctx) error {
	name := param(c, "name")
	a, _ := actorOf(c)
	if _, err := s.deps.Policy.DeleteRole(c.UserContext(), a, name); err != nil {
		return failed(c, &formState{Name: "roles"}, err, s.showPolicyRoles)
	}
	return done(c, "/policy/roles", fmt.Sprintf("Deleted role %s.", name))
}

func (s *Server) uiPolicyAssign(c *fiber.Ctx) error   { return s.uiAssign(c, true) }
func (s *Server) uiPolicyUnassign(c *fiber.Ctx) error { return s.uiAssign(c, false) }

func (s *Server) uiAssign(c *fiber.Ctx, add bool) error {
	f := readForm(c, "assign", "subject", "role")
	a, _ := actorOf(c)
	in := AssignInput{Subject: f.V("subject"), Role: f.V("role")}
	var err error
	msg := fmt.Sprintf("Gave role %s to %s.", in.Role, in.Subject)
	if add {
		_, err = s.deps.Policy.Assign(c.UserContext(), a, in)
	} else {
		_, err = s.deps.Policy.Unassign(c.UserContext(), a, in)
		msg = fmt.Sprintf("Took role %s from %s.", in.Role, in.Subject)
	}
	if err != nil {
		if !add {
			f.Name = "roles"
		}
		return failed(c, f, err, s.showPolicyRoles)
	}
	return done(c, "/policy/roles", msg)
}

// ---- raw lines and import --------------------------------------------------

type policyRawData struct {
	CSV   string
	Lines int
}

func (s *Server) showPolicyRaw(c *fiber.Ctx, status int, f *formState) error {
	a, _ := actorOf(c)
	data, err := s.deps.Policy.ExportPolicy(c.UserContext(), a)
	if err != nil {
		return err
	}
	lines := 0
	for _, l := range strings.Split(string(data), "\n") {
		if l != "" && !strings.HasPrefix(l, "#") {
			lines++
		}
	}
	return s.renderPolicy(c, status, "policy_raw", "raw", f, policyRawData{CSV: string(data), Lines: lines})
}

func (s *Server) uiPolicyRaw(c *fiber.Ctx) error { return s.showPolicyRaw(c, fiber.StatusOK, nil) }

func (s *Server) uiPolicyImport(c *fiber.Ctx) error {
	f := readForm(c, "import", "csv", "note")
	a, _ := actorOf(c)
	res, err := s.deps.Policy.ImportPolicy(c.UserContext(), a, ImportInput{CSV: f.V("csv"), Note: f.V("note")})
	if err != nil {
		return failed(c, f, err, s.showPolicyRaw)
	}
	msg := fmt.Sprintf("Imported: %d lines added, %d removed.", res.Added, res.Removed)
	if len(res.Warnings) > 0 {
		msg += " Warnings: " + strings.Join(res.Warnings, "; ")
	}
	return done(c, "/policy/raw", msg)
}

// ---- check -------------------------------------------------------------

type policyCheckData struct {
	Query  string
	Result *CheckResult
	Users  []storage.User
	Perms  []policy.Permission
}

func (s *Server) uiPolicyCheck(c *fiber.Ctx) error {
	a, _ := actorOf(c)
	ctx := c.UserContext()
	users, err := s.deps.Org.Users(ctx, a.OrgID)
	if err != nil {
		return err
	}
	d := policyCheckData{Query: strings.TrimSpace(c.Query("q")), Users: users, Perms: policy.All()}
	user, perm := strings.Clone(c.Query("user")), strings.Clone(c.Query("permission"))
	if d.Query == "" && user != "" && perm != "" {
		d.Query = user + " " + perm
	}
	f := &formState{Name: "check", Values: map[string][]string{"q": {d.Query}}}
	status := fiber.StatusOK
	if d.Query != "" {
		res, err := s.checkQuery(c, a, d.Query)
		if err != nil {
			st, field, ok := formError(err)
			if !ok {
				return err
			}
			status, f.Field, f.Err = st, field, sentence(err.Error())
		} else {
			d.Result = &res
		}
	}
	return s.renderPolicy(c, status, "policy_check", "check", f, d)
}

func (s *Server) checkQuery(c *fiber.Ctx, a Actor, q string) (CheckResult, error) {
	user, perm, err := policy.ParseCheckQuery(q)
	if err != nil {
		return CheckResult{}, err
	}
	return s.deps.Policy.CheckPolicy(c.UserContext(), a, user, perm)
}

// ---- versions ------------------------------------------------------------

type policyVersionsData struct {
	Versions []storage.PolicyVersion
	Names    map[string]string
	Current  *storage.PolicyVersion // the one shown, on a version's page
	CSV      string
}

func (s *Server) showPolicyVersions(c *fiber.Ctx, status int, f *formState) error {
	a, _ := actorOf(c)
	vs, err := s.deps.Org.PolicyVersions(c.UserContext(), a.OrgID)
	if err != nil {
		return err
	}
	names, err := s.userNames(c, a.OrgID)
	if err != nil {
		return err
	}
	names["cli"], names["system"] = "local operator", "system"
	return s.renderPolicy(c, status, "policy_versions", "versions", f, policyVersionsData{Versions: vs, Names: names})
}

func (s *Server) uiPolicyVersions(c *fiber.Ctx) error {
	return s.showPolicyVersions(c, fiber.StatusOK, nil)
}

func (s *Server) uiPolicyVersion(c *fiber.Ctx) error {
	a, _ := actorOf(c)
	v, err := s.deps.Org.PolicyVersion(c.UserContext(), a.OrgID, param(c, "id"))
	if err != nil {
		return err
	}
	var b strings.Builder
	for _, r := range v.Rules {
		b.WriteString(r.PType + ", " + strings.Join(r.V, ", ") + "\n")
	}
	names, err := s.userNames(c, a.OrgID)
	if err != nil {
		return err
	}
	names["cli"], names["system"] = "local operator", "system"
	return s.renderPolicy(c, fiber.StatusOK, "policy_versions", "versions", nil, policyVersionsData{Current: &v, CSV: b.String(), Names: names})
}

func (s *Server) uiPolicyRestore(c *fiber.Ctx) error {
	a, _ := actorOf(c)
	f := readForm(c, "restore", "note")
	res, err := s.deps.Policy.RestorePolicyVersion(c.UserContext(), a, param(c, "id"), f.V("note"))
	if err != nil {
		return failed(c, f, err, s.showPolicyVersions)
	}
	return done(c, "/policy/versions", fmt.Sprintf("Restored: %d lines added, %d removed.", res.Added, res.Removed))
}
