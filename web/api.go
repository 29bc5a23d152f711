package web

import (
	"fmt"
	"strconv"

	"github.com/gofiber/fiber/v2"

	"siteline/policy"
	"siteline/storage"
)

// route is one endpoint: its permission sits next to its path, so the
// table below is also the answer to "who may call what". The OpenAPI
// document is generated from it.
type route struct {
	method, path string
	// perm is the permission the caller needs; "" with public false means
	// any logged-in caller.
	perm   string
	public bool // no login needed
	page   bool // backoffice page: HTML errors, login redirect
	open   bool // any logged-in caller, guests too: the service decides per record
	// bearer routes check a bearer token of their own (SCIM's), which
	// the session and API token middleware never sees.
	bearer  bool
	summary string
	in, out any // JSON bodies, for the OpenAPI document
	handler fiber.Handler
}

// APIPrefix starts every JSON API path.
const APIPrefix = "/api/v1"

func (s *Server) apiRoutes() []route {
	p := APIPrefix
	return append([]route{
		{method: "GET", path: p + "/version", public: true, summary: "Version of this node", out: versionOut{}, handler: s.apiVersion},
		{method: "GET", path: p + "/openapi.json", public: true, summary: "This API as an OpenAPI 3.1 document", handler: s.apiOpenAPI},
		{method: "POST", path: p + "/session", public: true, summary: "Log in with e-mail and password; sets the session cookie", in: loginIn{}, out: meOut{}, handler: s.apiLogin},
		{method: "DELETE", path: p + "/session", summary: "Log out: ends the session on the server", handler: s.apiLogout},
		{method: "GET", path: p + "/me", summary: "The caller, their roles and permissions", out: meOut{}, handler: s.apiMe},
		{method: "POST", path: p + "/me/password", summary: "Change one's own password", in: passwordIn{}, handler: s.apiChangePassword},

		{method: "GET", path: p + "/users", perm: policy.AdminMembers, summary: "The members list: users (and, with status=invited, the people invited) with roles, teams, labels, status, last login and last call; filtered by q, role, team, label, status; paged by page and per_page", out: []personRow{}, handler: s.apiUsers},
		{method: "POST", path: p + "/users", perm: policy.AdminMembers, summary: "Create a user", in: UserInput{}, out: userOut{}, handler: s.apiCreateUser},
		{method: "GET", path: p + "/users/:id", perm: policy.AdminMembers, summary: "One user with roles and teams", out: userOut{}, handler: s.apiUser},
		{method: "PATCH", path: p + "/users/:id", perm: policy.AdminMembers, summary: "Change a user: name, e-mail, roles, password, active", in: UserPatch{}, out: userOut{}, handler: s.apiUpdateUser},
		{method: "GET", path: p + "/roles", perm: policy.AdminMembers, summary: "The organisation's roles", out: []storage.Role{}, handler: s.apiRoles},

		{method: "GET", path: p + "/teams", perm: policy.AdminTeams, summary: "List teams", out: []storage.Team{}, handler: s.apiTeams},
		{method: "POST", path: p + "/teams", perm: policy.AdminTeams, summary: "Create a team", in: nameIn{}, out: storage.Team{}, handler: s.apiCreateTeam},
		{method: "GET", path: p + "/teams/:id", perm: policy.AdminTeams, summary: "One team with its members", out: teamOut{}, handler: s.apiTeam},
		{method: "PATCH", path: p + "/teams/:id", perm: policy.AdminTeams, summary: "Rename a team", in: nameIn{}, out: storage.Team{}, handler: s.apiRenameTeam},
		{method: "DELETE", path: p + "/teams/:id", perm: policy.AdminTeams, summary: "Delete a team", handler: s.apiDeleteTeam},
		{method: "PUT", path: p + "/teams/:id/members/:user", perm: policy.AdminTeams, summary: "Add a user to a team or change their team role", in: memberIn{}, handler: s.apiSetMember},
		{method: "DELETE", path: p + "/teams/:id/members/:user", perm: policy.AdminTeams, summary: "Remove a user from a team", handler: s.apiRemoveMember},

		{method: "GET", path: p + "/labels", perm: policy.XAssist, summary: "Label groups with their labels", out: []labelGroupOut{}, handler: s.apiLabels},
		{method: "POST", path: p + "/label-groups", perm: policy.AdminLabels, summary: "Create a label group", in: labelGroupIn{}, out: storage.LabelGroup{}, handler: s.apiCreateLabelGroup},
		{method: "PATCH", path: p + "/label-groups/:id", perm: policy.AdminLabels, summary: "Rename or recolour a label group", in: labelGroupIn{}, out: storage.LabelGroup{}, handler: s.apiUpdateLabelGroup},
		{method: "DELETE", path: p + "/label-groups/:id", perm: policy.AdminLabels, summary: "Delete a label group and its labels", handler: s.apiDeleteLabelGroup},
		{method: "POST", path: p + "/labels", perm: policy.AdminLabels, summary: "Create a label in a group", in: labelIn{}, out: storage.Label{}, handler: s.apiCreateLabel},
		{method: "PATCH", path: p + "/labels/:id", perm: policy.AdminLabels, summary: "Rename a label or move it to another group", in: labelIn{}, out: storage.Label{}, handler: s.apiUpdateLabel},
		{method: "DELETE", path: p + "/labels/:id", perm: policy.AdminLabels, summary: "Delete a label", handler: s.apiDeleteLabel},

		{method: "GET", path: p + "/contacts", perm: policy.ContactList, summary: "The phonebook: q searches name, company, e-mail and phone (ignoring case); limit (1 to 500, default 50) with cursor (the Siteline-Next-Cursor of the previous page) or page asks for one page, else every contact is listed; X-Total-Count is how many match", out: []storage.Contact{}, handler: s.apiContacts},
		{method: "POST", path: p + "/contacts", perm: policy.PhonebookEditor, summary: "Add a contact", in: contactIn{}, out: storage.Contact{}, handler: s.apiCreateContact},
		{method: "PATCH", path: p + "/contacts/:id", perm: policy.PhonebookEditor, summary: "Change a contact", in: contactIn{}, out: storage.Contact{}, handler: s.apiUpdateContact},
		{method: "DELETE", path: p + "/contacts/:id", perm: policy.PhonebookEditor, summary: "Delete a contact", handler: s.apiDeleteContact},

		{method: "GET", path: p + "/policy", perm: policy.AdminPolicies, summary: "The organisation's permission policy lines", out: []storage.PolicyRule{}, handler: s.apiPolicy},
		{method: "GET", path: p + "/permissions", perm: policy.AdminPolicies, summary: "The permission catalogue", out: []policy.Permission{}, handler: s.apiCatalogue},
		{method: "GET", path: p + "/audit", perm: policy.AdminAuditLog, summary: "The audit log, newest first (?action=prefix&limit=n)", out: []storage.AuditEvent{}, handler: s.apiAudit},
	}, append(append(s.policyRoutes(), s.tokenRoutes()...), s.historySettingsRoutes()...)...)
}

type versionOut struct {
	Version string `json:"version"`
}

type loginIn struct {
	Email    string `json:"email"`
	Password string `json:"password"`
}

type meOut struct {
	User        *storage.User `json:"user,omitempty"`
	Local       bool          `json:"local,omitempty"`
	Roles       []string      `json:"roles"`
	Permissions []string      `json:"permissions"`
	// CSRFToken is to be sent as X-CSRF-Token on state-changing calls
	// authenticated by the session cookie.
	CSRFToken string `json:"csrf_token,omitempty"`
}

type passwordIn struct {
	Current string `json:"current"`
	New     string `json:"new"`
}

type userOut struct {
	storage.User
	Roles []string                 `json:"roles"`
	Teams []storage.TeamMembership `json:"teams"`
}

type nameIn struct {
	Name string `json:"name"`
}

type teamOut struct {
	storage.Team
	Members []storage.TeamMembership `json:"members"`
}

type memberIn struct {
	Role storage.TeamRole `json:"role"`
}

type labelGroupIn struct {
	Name  string `json:"name"`
	Color string `json:"color"`
}

type labelGroupOut struct {
	storage.LabelGroup
	Labels []storage.Label `json:"labels"`
}

type labelIn struct {
	Name    string `json:"name"`
	GroupID string `json:"group_id"`
}

type contactIn struct {
	UserID  string `json:"user_id"`
	Name    string `json:"name"`
	Email   string `json:"email"`
	Phone   string `json:"phone"`
	Company string `json:"company"`
	Notes   string `json:"notes"`
}

func (s *Server) apiVersion(c *fiber.Ctx) error {
	return c.JSON(versionOut{Version: s.deps.Version})
}

func (s *Server) apiLogin(c *fiber.Ctx) error {
	var in loginIn
	if err := decodeJSON(c, &in); err != nil {
		return err
	}
	u, err := s.login(c, in.Email, in.Password)
	if err != nil {
		return err
	}
	sess, err := s.startSession(c, u)
	if err != nil {
		return err
	}
	return c.JSON(s.me(Actor{UserID: u.ID, OrgID: u.OrgID}, &u, sess.CSRFToken))
}

func (s *Server) apiLogout(c *fiber.Ctx) error {
	if err := s.endSession(c); err != nil {
		return err
	}
	return c.SendStatus(fiber.StatusNoContent)
}

func (s *Server) apiMe(c *fiber.Ctx) error {
	a, _ := actorOf(c)
	if a.Local {
		return c.JSON(meOut{Local: true, Roles: []string{}, Permissions: policy.IDs()})
	}
	u, err := s.deps.Org.User(c.UserContext(), a.OrgID, a.UserID)
	if err != nil {
		return err
	}
	sess, _ := sessionOf(c)
	return c.JSON(s.me(a, &u, sess.CSRFToken))
}

func (s *Server) me(a Actor, u *storage.User, csrf string) meOut {
	return meOut{
		User:        u,
		Roles:       nonNil(s.deps.Authz.Roles(a.OrgID, a.UserID)),
		Permissions: nonNil(s.deps.Authz.Permissions(a.OrgID, a.UserID)),
		CSRFToken:   csrf,
	}
}

func (s *Server) apiChangePassword(c *fiber.Ctx) error {
	var in passwordIn
	if err := decodeJSON(c, &in); err != nil {
		return err
	}
	a, _ := actorOf(c)
	if err := s.deps.Accounts.ChangePassword(c.UserContext(), a, in.Current, in.New); err != nil {
		return err
	}
	if err := s.renewSession(c); err != nil { // password_gate.go
		return err
	}
	return c.SendStatus(fiber.StatusNoContent)
}

func (s *Server) apiCreateUser(c *fiber.Ctx) error {
	var in UserInput
	if err := decodeJSON(c, &in); err != nil {
		return err
	}
	a, _ := actorOf(c)
	u, err := s.deps.Users.CreateUser(c.UserContext(), a, in)
	if err != nil {
		return err
	}
	out, err := s.userOut(c, u)
	if err != nil {
		return err
	}
	return c.Status(fiber.StatusCreated).JSON(out)
}

func (s *Server) apiUser(c *fiber.Ctx) error {
	u, err := s.orgUser(c, c.Params("id"))
	if err != nil {
		return err
	}
	out, err := s.userOut(c, u)
	if err != nil {
		return err
	}
	return c.JSON(out)
}

func (s *Server) apiUpdateUser(c *fiber.Ctx) error {
	var p UserPatch
	if err := decodeJSON(c, &p); err != nil {
		return err
	}
	a, _ := actorOf(c)
	u, err := s.deps.Users.UpdateUser(c.UserContext(), a, c.Params("id"), p)
	if err != nil {
		return err
	}
	out, err := s.userOut(c, u)
	if err != nil {
		return err
	}
	return c.JSON(out)
}

// orgUser reads a user of the caller's organisation; another
// organisation's user is not found.
func (s *Server) orgUser(c *fiber.Ctx, id string) (storage.User, error) {
	a, _ := actorOf(c)
	return s.deps.Org.User(c.UserContext(), a.OrgID, id)
}

func (s *Server) userOut(c *fiber.Ctx, u storage.User) (userOut, error) {
	a, _ := actorOf(c)
	teams, err := s.deps.Org.UserTeams(c.UserContext(), a.OrgID, u.ID)
	if err != nil {
		return userOut{}, err
	}
	ms := make([]storage.TeamMembership, len(teams))
	for i, t := range teams {
		ms[i] = t.TeamMembership
	}
	return userOut{User: u, Roles: nonNil(s.deps.Authz.Roles(u.OrgID, u.ID)), Teams: ms}, nil
}

func (s *Server) apiRoles(c *fiber.Ctx) error {
	a, _ := actorOf(c)
	roles, err := s.deps.Org.Roles(c.UserContext(), a.OrgID)
	if err != nil {
		return err
	}
	return c.JSON(nonNil(roles))
}

func (s *Server) apiTeams(c *fiber.Ctx) error {
	a, _ := actorOf(c)
	teams, err := s.deps.Org.Teams(c.UserContext(), a.OrgID)
	if err != nil {
		return err
	}
	return c.JSON(nonNil(teams))
}

func (s *Server) apiCreateTeam(c *fiber.Ctx) error {
	var in nameIn
	if err := decodeJSON(c, &in); err != nil {
		return err
	}
	a, _ := actorOf(c)
	t, err := s.deps.Teams.CreateTeam(c.UserContext(), a, in.Name)
	if err != nil {
		return err
	}
	return c.Status(fiber.StatusCreated).JSON(t)
}

// orgTeam reads a team of the caller's organisation; another
// organisation's team is not found.
func (s *Server) orgTeam(c *fiber.Ctx, id string) (storage.Team, error) {
	a, _ := actorOf(c)
	return s.deps.Org.Team(c.UserContext(), a.OrgID, id)
}

func (s *Server) apiTeam(c *fiber.Ctx) error {
	a, _ := actorOf(c)
	t, err := s.deps.Org.TeamWithMembers(c.UserContext(), a.OrgID, c.Params("id"))
	if err != nil {
		return err
	}
	return c.JSON(teamOut{Team: t.Team, Members: nonNil(t.Members)})
}

func (s *Server) apiRenameTeam(c *fiber.Ctx) error {
	var in nameIn
	if err := decodeJSON(c, &in); err != nil {
		return err
	}
	a, _ := actorOf(c)
	t, err := s.deps.Teams.RenameTeam(c.UserContext(), a, c.Params("id"), in.Name)
	if err != nil {
		return err
	}
	return c.JSON(t)
}

func (s *Server) apiDeleteTeam(c *fiber.Ctx) error {
	a, _ := actorOf(c)
	if err := s.deps.Teams.DeleteTeam(c.UserContext(), a, c.Params("id")); err != nil {
		return err
	}
	return c.SendStatus(fiber.StatusNoContent)
}

func (s *Server) apiSetMember(c *fiber.Ctx) error {
	var in memberIn
	if err := decodeJSON(c, &in); err != nil {
		return err
	}
	a, _ := actorOf(c)
	if err := s.deps.Teams.SetTeamMember(c.UserContext(), a, c.Params("id"), c.Params("user"), in.Role); err != nil {
		return err
	}
	return c.SendStatus(fiber.StatusNoContent)
}

func (s *Server) apiRemoveMember(c *fiber.Ctx) error {
	a, _ := actorOf(c)
	if err := s.deps.Teams.RemoveTeamMember(c.UserContext(), a, c.Params("id"), c.Params("user")); err != nil {
		return err
	}
	return c.SendStatus(fiber.StatusNoContent)
}

func (s *Server) labelGroups(c *fiber.Ctx, orgID string) ([]labelGroupOut, error) {
	groups, err := s.deps.Org.LabelGroups(c.UserContext(), orgID)
	if err != nil {
		return nil, err
	}
	labels, err := s.deps.Org.Labels(c.UserContext(), orgID)
	if err != nil {
		return nil, err
	}
	out := make([]labelGroupOut, 0, len(groups))
	for _, g := range groups {
		o := labelGroupOut{LabelGroup: g, Labels: []storage.Label{}}
		for _, l := range labels {
			if l.GroupID == g.ID {
				o.Labels = append(o.Labels, l)
			}
		}
		out = append(out, o)
	}
	return out, nil
}

func (s *Server) apiLabels(c *fiber.Ctx) error {
	a, _ := actorOf(c)
	out, err := s.labelGroups(c, a.OrgID)
	if err != nil {
		return err
	}
	return c.JSON(out)
}

func (s *Server) apiCreateLabelGroup(c *fiber.Ctx) error {
	var in labelGroupIn
	if err := decodeJSON(c, &in); err != nil {
		return err
	}
	a, _ := actorOf(c)
	g, err := s.deps.Labels.PutLabelGroup(c.UserContext(), a, storage.LabelGroup{OrgID: a.OrgID, Name: in.Name, Color: in.Color})
	if err != nil {
		return err
	}
	return c.Status(fiber.StatusCreated).JSON(g)
}

func (s *Server) apiUpdateLabelGroup(c *fiber.Ctx) error {
	var in labelGroupIn
	if err := decodeJSON(c, &in); err != nil {
		return err
	}
	a, _ := actorOf(c)
	g, err := s.deps.Labels.PutLabelGroup(c.UserContext(), a, storage.LabelGroup{ID: c.Params("id"), OrgID: a.OrgID, Name: in.Name, Color: in.Color})
	if err != nil {
		return err
	}
	return c.JSON(g)
}

func (s *Server) apiDeleteLabelGroup(c *fiber.Ctx) error {
	a, _ := actorOf(c)
	if err := s.deps.Labels.DeleteLabelGroup(c.UserContext(), a, c.Params("id")); err != nil {
		return err
	}
	return c.SendStatus(fiber.StatusNoContent)
}

func (s *Server) apiCreateLabel(c *fiber.Ctx) error {
	var in labelIn
	if err := decodeJSON(c, &in); err != nil {
		return err
	}
	a, _ := actorOf(c)
	l, err := s.deps.Labels.PutLabel(c.UserContext(), a, storage.Label{OrgID: a.OrgID, GroupID: in.GroupID, Name: in.Name})
	if err != nil {
		return err
	}
	return c.Status(fiber.StatusCreated).JSON(l)
}

func (s *Server) apiUpdateLabel(c *fiber.Ctx) error {
	var in labelIn
	if err := decodeJSON(c, &in); err != nil {
		return err
	}
	a, _ := actorOf(c)
	l, err := s.deps.Labels.PutLabel(c.UserContext(), a, storage.Label{ID: c.Params("id"), OrgID: a.OrgID, GroupID: in.GroupID, Name: in.Name})
	if err != nil {
		return err
	}
	return c.JSON(l)
}

func (s *Server) apiDeleteLabel(c *fiber.Ctx) error {
	a, _ := actorOf(c)
	if err := s.deps.Labels.DeleteLabel(c.UserContext(), a, c.Params("id")); err != nil {
		return err
	}
	return c.SendStatus(fiber.StatusNoContent)
}

func (in contactIn) contact(id, orgID string) storage.Contact {
	return storage.Contact{ID: id, OrgID: orgID, UserID: in.UserID, Name: in.Name, Email: in.Email, Phone: in.Phone, Company: in.Company, Notes: in.Notes}
}

func (s *Server) apiCreateContact(c *fiber.Ctx) error {
	var in contactIn
	if err := decodeJSON(c, &in); err != nil {
		return err
	}
	a, _ := actorOf(c)
	ct, err := s.deps.Contacts.PutContact(c.UserContext(), a, in.contact("", a.OrgID))
	if err != nil {
		return err
	}
	return c.Status(fiber.StatusCreated).JSON(ct)
}

func (s *Server) apiUpdateContact(c *fiber.Ctx) error {
	var in contactIn
	if err := decodeJSON(c, &in); err != nil {
		return err
	}
	a, _ := actorOf(c)
	ct, err := s.deps.Contacts.PutContact(c.UserContext(), a, in.contact(c.Params("id"), a.OrgID))
	if err != nil {
		return err
	}
	return c.JSON(ct)
}

func (s *Server) apiDeleteContact(c *fiber.Ctx) error {
	a, _ := actorOf(c)
	if err := s.deps.Contacts.DeleteContact(c.UserContext(), a, c.Params("id")); err != nil {
		return err
	}
	return c.SendStatus(fiber.StatusNoContent)
}

func (s *Server) apiPolicy(c *fiber.Ctx) error {
	a, _ := actorOf(c)
	rules, err := s.deps.Org.Policy(c.UserContext(), a.OrgID)
	if err != nil {
		return err
	}
	return c.JSON(nonNil(rules))
}

func (s *Server) apiCatalogue(c *fiber.Ctx) error {
	return c.JSON(policy.All())
}

func (s *Server) apiAudit(c *fiber.Ctx) error {
	a, _ := actorOf(c)
	limit := 100
	if v := c.Query("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 1000 {
			return &storage.ValidationError{Field: "limit", Problem: fmt.Sprintf("%q is not a number from 1 to 1000", v)}
		}
		limit = n
	}
	events, err := s.deps.Sessions.Audit(c.UserContext(), storage.AuditFilter{OrgID: a.OrgID, Action: c.Query("action"), Limit: limit})
	if err != nil {
		return err
	}
	return c.JSON(nonNil(events))
}

// nonNil makes empty lists encode as [] rather than null.
func nonNil[T any](v []T) []T {
	if v == nil {
		return []T{}
	}
	return v
}
