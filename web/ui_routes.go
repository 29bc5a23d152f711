package web

import (
	"errors"
	"fmt"
	"strings"

	"github.com/gofiber/fiber/v2"

	"siteline/policy"
	"siteline/storage"
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
	}, append(s.policyUIRoutes(), s.callUIRoutes()...)...)
}

// param returns a path parameter copied out of fiber's buffer.
func param(c *fiber.Ctx, name string) string { return strings.Clone(c.Params(name)) }

// secret returns a password field; it is never kept in a formState.
func secret(c *fiber.Ctx, name string) string {
	return string(c.Request().PostArgs().Peek(name))
}

// ---- login -------------------------------------------------------------

type loginData struct{ Next string }

func (s *Server) uiLogin(c *fiber.Ctx) error {
	next := strings.Clone(c.Query("next"))
	if a, ok := actorOf(c); ok {
		return c.Redirect(s.afterLogin(a, next), fiber.StatusSeeOther)
	}
	f := &formState{Name: "login", Values: map[string][]string{"next": {next}}}
	return s.showLogin(c, fiber.StatusOK, f)
}

func (s *Server) showLogin(c *fiber.Ctx, status int, f *formState) error {
	v := s.view(c, "Log in", "")
	v.Form = f
	v.Data = loginData{Next: f.V("next")}
	return s.ui.render(c, status, "login", v)
}

func (s *Server) uiLoginPost(c *fiber.Ctx) error {
	f := readForm(c, "login", "email", "next")
	u, err := s.login(c, f.V("email"), secret(c, "password"))
	if err != nil {
		status, _, ok := formError(err)
		if !ok {
			return err
		}
		if errors.Is(err, storage.ErrUnauthenticated) {
			status = fiber.StatusUnauthorized
			f.Err = "Wrong e-mail or password."
		} else {
			f.Err = sentence(err.Error())
			setRetryAfter(c, err)
		}
		return s.showLogin(c, status, f)
	}
	if _, err := s.startSession(c, u); err != nil {
		return err
	}
	return c.Redirect(s.afterLogin(Actor{UserID: u.ID, OrgID: u.OrgID}, f.V("next")), fiber.StatusSeeOther)
}

// afterLogin is where a login lands: the local page asked for, else the
// start page, else (for users without a dashboard) their account.
func (s *Server) afterLogin(a Actor, next string) string {
	if p, ok := localPath(next); ok && !strings.HasPrefix(p, "/login") && !strings.HasPrefix(p, "/logout") {
		return p
	}
	if s.can(a, policy.HomeDashboardAccess) {
		return "/"
	}
	return "/account"
}

func (s *Server) uiLogout(c *fiber.Ctx) error {
	if err := s.endSession(c); err != nil {
		return err
	}
	return done(c, "/login", "You are logged out.")
}

// ---- home --------------------------------------------------------------

type homeData struct {
	Sites                                    []storage.Site
	Users, ActiveUsers, Teams, Contacts      int
	Labels, LabelGroups                      int
	Roles                                    []string
	MyTeams                                  []teamRef
	CanContacts, CanTokens, CanEditPhonebook bool
	CanCall                                  bool // start a call (xa_ocall_create_conference)
	// Waiting are the open calls of the user's service requests.
	Waiting []WaitingCall
}

type teamRef struct {
	ID, Name string
	Role     storage.TeamRole
}

func (s *Server) uiHome(c *fiber.Ctx) error {
	ctx := c.UserContext()
	a, _ := actorOf(c)
	var d homeData
	var err error
	if d.Sites, err = s.deps.Org.Sites(ctx, a.OrgID); err != nil {
		return err
	}
	users, err := s.deps.Org.Users(ctx, a.OrgID)
	if err != nil {
		return err
	}
	d.Users = len(users)
	for _, u := range users {
		if u.Active {
			d.ActiveUsers++
		}
	}
	teams, err := s.deps.Org.Teams(ctx, a.OrgID)
	if err != nil {
		return err
	}
	d.Teams = len(teams)
	contacts, err := s.deps.Org.Contacts(ctx, a.OrgID)
	if err != nil {
		return err
	}
	d.Contacts = len(contacts)
	groups, err := s.deps.Org.LabelGroups(ctx, a.OrgID)
	if err != nil {
		return err
	}
	labels, err := s.deps.Org.Labels(ctx, a.OrgID)
	if err != nil {
		return err
	}
	d.LabelGroups, d.Labels = len(groups), len(labels)
	if !a.Local {
		d.Roles = s.deps.Authz.Roles(a.OrgID, a.UserID)
		if d.MyTeams, err = s.teamRefs(c, a.UserID); err != nil {
			return err
		}
	}
	d.CanContacts = s.can(a, policy.ContactList)
	d.CanEditPhonebook = s.can(a, policy.PhonebookEditor)
	d.CanTokens = s.can(a, policy.AdminAPITokens) && !a.Local
	d.CanCall = s.can(a, policy.CreateConference)
	d.Waiting = s.waitingCallsOf(c, a) // ui_guest.go
	v := s.view(c, "Home", "home")
	v.Data = d
	return s.ui.render(c, fiber.StatusOK, "home", v)
}

// teamRefs lists a user's teams by name.
func (s *Server) teamRefs(c *fiber.Ctx, userID string) ([]teamRef, error) {
	ms, err := s.deps.Org.UserTeams(c.UserContext(), userID)
	if err != nil {
		return nil, err
	}
	out := make([]teamRef, 0, len(ms))
	for _, m := range ms {
		t, err := s.deps.Org.Team(c.UserContext(), m.TeamID)
		if err != nil {
			if errors.Is(err, storage.ErrNotFound) {
				continue
			}
			return nil, err
		}
		out = append(out, teamRef{ID: t.ID, Name: t.Name, Role: m.Role})
	}
	return out, nil
}

// ---- users -------------------------------------------------------------

type usersData struct {
	Users  []userRow
	Roles  []storage.Role
	Active int
}

type userRow struct {
	storage.User
	Roles []string
	Teams []string
}

func (s *Server) uiUsers(c *fiber.Ctx) error { return s.showUsers(c, fiber.StatusOK, &formState{}) }

func (s *Server) showUsers(c *fiber.Ctx, status int, f *formState) error {
	ctx := c.UserContext()
	a, _ := actorOf(c)
	users, err := s.deps.Org.Users(ctx, a.OrgID)
	if err != nil {
		return err
	}
	roles, err := s.deps.Org.Roles(ctx, a.OrgID)
	if err != nil {
		return err
	}
	teams, err := s.deps.Org.Teams(ctx, a.OrgID)
	if err != nil {
		return err
	}
	teamsOf := map[string][]string{}
	for _, t := range teams {
		ms, err := s.deps.Org.TeamMembers(ctx, t.ID)
		if err != nil {
			return err
		}
		for _, m := range ms {
			teamsOf[m.UserID] = append(teamsOf[m.UserID], t.Name)
		}
	}
	d := usersData{Roles: sortRoles(roles), Users: make([]userRow, 0, len(users))}
	for _, u := range users {
		if u.Active {
			d.Active++
		}
		d.Users = append(d.Users, userRow{User: u, Roles: s.deps.Authz.Roles(u.OrgID, u.ID), Teams: teamsOf[u.ID]})
	}
	v := s.view(c, "Users", "users")
	v.Form = f
	v.Data = d
	return s.ui.render(c, status, "users", v)
}

func (s *Server) uiCreateUser(c *fiber.Ctx) error {
	f := readForm(c, "create", "email", "name", "roles")
	a, _ := actorOf(c)
	u, err := s.deps.Admin.CreateUser(c.UserContext(), a, UserInput{
		Email: f.V("email"), Name: f.V("name"), Password: secret(c, "password"), Roles: nonNil(f.All("roles")),
	})
	if err != nil {
		return failed(c, f, err, s.showUsers)
	}
	return done(c, "/users", fmt.Sprintf("Created user %s.", u.Email))
}

type userData struct {
	User     storage.User
	Roles    []string
	AllRoles []storage.Role
	Teams    []teamRef
	Self     bool
}

// Has reports whether the user holds a role.
func (d userData) Has(role string) bool {
	for _, r := range d.Roles {
		if r == role {
			return true
		}
	}
	return false
}

func (s *Server) uiUser(c *fiber.Ctx) error { return s.showUser(c, fiber.StatusOK, &formState{}) }

func (s *Server) showUser(c *fiber.Ctx, status int, f *formState) error {
	u, err := s.orgUser(c, param(c, "id"))
	if err != nil {
		return err
	}
	a, _ := actorOf(c)
	d := userData{User: u, Roles: s.deps.Authz.Roles(u.OrgID, u.ID), Self: a.UserID == u.ID}
	roles, err := s.deps.Org.Roles(c.UserContext(), u.OrgID)
	if err != nil {
		return err
	}
	d.AllRoles = sortRoles(roles)
	if d.Teams, err = s.teamRefs(c, u.ID); err != nil {
		return err
	}
	v := s.view(c, u.Name, "users")
	v.Form = f
	v.Data = d
	return s.ui.render(c, status, "user", v)
}

func (s *Server) uiUpdateUser(c *fiber.Ctx) error {
	id := param(c, "id")
	if _, err := s.orgUser(c, id); err != nil {
		return err
	}
	f := readForm(c, "profile", "name", "email", "roles")
	name, email, roles := f.V("name"), f.V("email"), nonNil(f.All("roles"))
	a, _ := actorOf(c)
	u, err := s.deps.Admin.UpdateUser(c.UserContext(), a, id, UserPatch{Name: &name, Email: &email, Roles: &roles})
	if err != nil {
		return failed(c, f, err, s.showUser)
	}
	return done(c, "/users/"+id, fmt.Sprintf("Saved %s.", u.Name))
}

func (s *Server) uiUserStatus(c *fiber.Ctx) error {
	id := param(c, "id")
	if _, err := s.orgUser(c, id); err != nil {
		return err
	}
	f := readForm(c, "status", "active")
	active := f.V("active") == "true"
	a, _ := actorOf(c)
	if !active && a.UserID == id {
		return failed(c, f, fmt.Errorf("you cannot deactivate your own account: %w", storage.ErrConflict), s.showUser)
	}
	u, err := s.deps.Admin.UpdateUser(c.UserContext(), a, id, UserPatch{Active: &active})
	if err != nil {
		return failed(c, f, err, s.showUser)
	}
	msg := fmt.Sprintf("Deactivated %s: they can no longer log in.", u.Name)
	if active {
		msg = fmt.Sprintf("Activated %s.", u.Name)
	}
	return done(c, "/users/"+id, msg)
}

func (s *Server) uiUserPassword(c *fiber.Ctx) error {
	id := param(c, "id")
	if _, err := s.orgUser(c, id); err != nil {
		return err
	}
	f := &formState{Name: "password"}
	pw := secret(c, "password")
	if pw != secret(c, "confirm") {
		return failed(c, f, invalid("confirm", "does not match the new password"), s.showUser)
	}
	a, _ := actorOf(c)
	u, err := s.deps.Admin.UpdateUser(c.UserContext(), a, id, UserPatch{Password: &pw})
	if err != nil {
		return failed(c, f, err, s.showUser)
	}
	return done(c, "/users/"+id, fmt.Sprintf("Set a new password for %s.", u.Name))
}

// ---- teams -------------------------------------------------------------

type teamsData struct{ Teams []teamRow }

type teamRow struct {
	storage.Team
	Members  int
	Leads    []string
	Managers []string
}

func (s *Server) uiTeams(c *fiber.Ctx) error { return s.showTeams(c, fiber.StatusOK, &formState{}) }

func (s *Server) showTeams(c *fiber.Ctx, status int, f *formState) error {
	ctx := c.UserContext()
	a, _ := actorOf(c)
	teams, err := s.deps.Org.Teams(ctx, a.OrgID)
	if err != nil {
		return err
	}
	names, err := s.userNames(c, a.OrgID)
	if err != nil {
		return err
	}
	d := teamsData{Teams: make([]teamRow, 0, len(teams))}
	for _, t := range teams {
		ms, err := s.deps.Org.TeamMembers(ctx, t.ID)
		if err != nil {
			return err
		}
		row := teamRow{Team: t, Members: len(ms)}
		for _, m := range ms {
			switch m.Role {
			case storage.TeamLead:
				row.Leads = append(row.Leads, names[m.UserID])
			case storage.TeamManager:
				row.Managers = append(row.Managers, names[m.UserID])
			}
		}
		d.Teams = append(d.Teams, row)
	}
	v := s.view(c, "Teams", "teams")
	v.Form = f
	v.Data = d
	return s.ui.render(c, status, "teams", v)
}

// userNames maps the organisation's user ids to names.
func (s *Server) userNames(c *fiber.Ctx, orgID string) (map[string]string, error) {
	users, err := s.deps.Org.Users(c.UserContext(), orgID)
	if err != nil {
		return nil, err
	}
	names := make(map[string]string, len(users))
	for _, u := range users {
		names[u.ID] = u.Name
	}
	return names, nil
}

func (s *Server) uiCreateTeam(c *fiber.Ctx) error {
	f := readForm(c, "create", "name")
	a, _ := actorOf(c)
	t, err := s.deps.Admin.CreateTeam(c.UserContext(), a, f.V("name"))
	if err != nil {
		return failed(c, f, err, s.showTeams)
	}
	return done(c, "/teams/"+t.ID, fmt.Sprintf("Created team %s.", t.Name))
}

type teamData struct {
	Team       storage.Team
	Members    []memberRow
	Candidates []storage.User
	TeamRoles  []storage.TeamRole
}

type memberRow struct {
	User storage.User
	Role storage.TeamRole
}

func (s *Server) uiTeam(c *fiber.Ctx) error { return s.showTeam(c, fiber.StatusOK, &formState{}) }

func (s *Server) showTeam(c *fiber.Ctx, status int, f *formState) error {
	ctx := c.UserContext()
	t, err := s.orgTeam(c, param(c, "id"))
	if err != nil {
		return err
	}
	ms, err := s.deps.Org.TeamMembers(ctx, t.ID)
	if err != nil {
		return err
	}
	users, err := s.deps.Org.Users(ctx, t.OrgID)
	if err != nil {
		return err
	}
	byID := make(map[string]storage.User, len(users))
	for _, u := range users {
		byID[u.ID] = u
	}
	d := teamData{Team: t, TeamRoles: []storage.TeamRole{storage.TeamMember, storage.TeamLead, storage.TeamManager}}
	in := map[string]bool{}
	for _, m := range ms {
		in[m.UserID] = true
		u, ok := byID[m.UserID]
		if !ok {
			u = storage.User{ID: m.UserID, Name: m.UserID}
		}
		d.Members = append(d.Members, memberRow{User: u, Role: m.Role})
	}
	for _, u := range users {
		if !in[u.ID] && u.Active {
			d.Candidates = append(d.Candidates, u)
		}
	}
	v := s.view(c, t.Name, "teams")
	v.Form = f
	v.Data = d
	return s.ui.render(c, status, "team", v)
}

func (s *Server) uiRenameTeam(c *fiber.Ctx) error {
	id := param(c, "id")
	if _, err := s.orgTeam(c, id); err != nil {
		return err
	}
	f := readForm(c, "rename", "name")
	a, _ := actorOf(c)
	t, err := s.deps.Admin.RenameTeam(c.UserContext(), a, id, f.V("name"))
	if err != nil {
		return failed(c, f, err, s.showTeam)
	}
	return done(c, "/teams/"+id, fmt.Sprintf("Renamed the team to %s.", t.Name))
}

func (s *Server) uiDeleteTeam(c *fiber.Ctx) error {
	id := param(c, "id")
	t, err := s.orgTeam(c, id)
	if err != nil {
		return err
	}
	a, _ := actorOf(c)
	if err := s.deps.Admin.DeleteTeam(c.UserContext(), a, id); err != nil {
		return failed(c, &formState{Name: "delete"}, err, s.showTeam)
	}
	return done(c, "/teams", fmt.Sprintf("Deleted team %s.", t.Name))
}

func (s *Server) uiSetMember(c *fiber.Ctx) error {
	id := param(c, "id")
	if _, err := s.orgTeam(c, id); err != nil {
		return err
	}
	f := readForm(c, "member", "user_id", "role", "change")
	if f.V("change") != "" {
		f.Name = "role"
	}
	if f.V("user_id") == "" {
		return failed(c, f, invalid("user_id", "must be chosen: pick the user to add"), s.showTeam)
	}
	u, err := s.orgUser(c, f.V("user_id"))
	if err != nil {
		return err
	}
	a, _ := actorOf(c)
	if err := s.deps.Admin.SetTeamMember(c.UserContext(), a, id, u.ID, storage.TeamRole(f.V("role"))); err != nil {
		return failed(c, f, err, s.showTeam)
	}
	return done(c, "/teams/"+id, fmt.Sprintf("%s is now %s of this team.", u.Name, article(f.V("role"))))
}

func article(role string) string {
	if role == "" {
		return "a member"
	}
	if strings.ContainsRune("aeiou", rune(role[0])) {
		return "an " + role
	}
	return "a " + role
}

func (s *Server) uiRemoveMember(c *fiber.Ctx) error {
	id := param(c, "id")
	if _, err := s.orgTeam(c, id); err != nil {
		return err
	}
	u, err := s.orgUser(c, param(c, "user"))
	if err != nil {
		return err
	}
	a, _ := actorOf(c)
	if err := s.deps.Admin.RemoveTeamMember(c.UserContext(), a, id, u.ID); err != nil {
		return failed(c, &formState{Name: "role"}, err, s.showTeam)
	}
	return done(c, "/teams/"+id, fmt.Sprintf("Removed %s from the team.", u.Name))
}

// ---- labels ------------------------------------------------------------

type labelsData struct {
	Groups []labelGroupOut
	// Palette offers colours for new groups that read well on chips in
	// both themes.
	Palette []string
	Next    string
}

func (s *Server) uiLabels(c *fiber.Ctx) error { return s.showLabels(c, fiber.StatusOK, &formState{}) }

func (s *Server) showLabels(c *fiber.Ctx, status int, f *formState) error {
	a, _ := actorOf(c)
	groups, err := s.labelGroups(c, a.OrgID)
	if err != nil {
		return err
	}
	palette := []string{"#0e7490", "#1d4ed8", "#7c3aed", "#be185d", "#c2410c", "#a16207", "#15803d", "#475569"}
	v := s.view(c, "Labels", "labels")
	v.Form = f
	v.Data = labelsData{Groups: groups, Palette: palette, Next: palette[len(groups)%len(palette)]}
	return s.ui.render(c, status, "labels", v)
}

// orgGroup finds a label group of the caller's organisation.
func (s *Server) orgGroup(c *fiber.Ctx, id string) (storage.LabelGroup, error) {
	a, _ := actorOf(c)
	groups, err := s.deps.Org.LabelGroups(c.UserContext(), a.OrgID)
	if err != nil {
		return storage.LabelGroup{}, err
	}
	for _, g := range groups {
		if g.ID == id {
			return g, nil
		}
	}
	return storage.LabelGroup{}, fmt.Errorf("label group %s: %w", id, storage.ErrNotFound)
}

// orgLabel finds a label of the caller's organisation.
func (s *Server) orgLabel(c *fiber.Ctx, id string) (storage.Label, error) {
	a, _ := actorOf(c)
	labels, err := s.deps.Org.Labels(c.UserContext(), a.OrgID)
	if err != nil {
		return storage.Label{}, err
	}
	for _, l := range labels {
		if l.ID == id {
			return l, nil
		}
	}
	return storage.Label{}, fmt.Errorf("label %s: %w", id, storage.ErrNotFound)
}

func (s *Server) uiCreateGroup(c *fiber.Ctx) error {
	f := readForm(c, "group", "name", "color")
	a, _ := actorOf(c)
	g, err := s.deps.Admin.PutLabelGroup(c.UserContext(), a, storage.LabelGroup{OrgID: a.OrgID, Name: f.V("name"), Color: f.V("color")})
	if err != nil {
		return failed(c, f, err, s.showLabels)
	}
	return done(c, "/labels#g-"+g.ID, fmt.Sprintf("Created label group %s.", g.Name))
}

func (s *Server) uiUpdateGroup(c *fiber.Ctx) error {
	id := param(c, "id")
	if _, err := s.orgGroup(c, id); err != nil {
		return err
	}
	f := readForm(c, "group:"+id, "name", "color")
	a, _ := actorOf(c)
	g, err := s.deps.Admin.PutLabelGroup(c.UserContext(), a, storage.LabelGroup{ID: id, OrgID: a.OrgID, Name: f.V("name"), Color: f.V("color")})
	if err != nil {
		return failed(c, f, err, s.showLabels)
	}
	return done(c, "/labels#g-"+id, fmt.Sprintf("Saved label group %s.", g.Name))
}

func (s *Server) uiDeleteGroup(c *fiber.Ctx) error {
	id := param(c, "id")
	g, err := s.orgGroup(c, id)
	if err != nil {
		return err
	}
	a, _ := actorOf(c)
	if err := s.deps.Admin.DeleteLabelGroup(c.UserContext(), a, id); err != nil {
		return failed(c, &formState{Name: "group:" + id}, err, s.showLabels)
	}
	return done(c, "/labels", fmt.Sprintf("Deleted label group %s and its labels.", g.Name))
}

func (s *Server) uiCreateLabel(c *fiber.Ctx) error {
	f := readForm(c, "", "group_id", "name")
	f.Name = "label:" + f.V("group_id")
	if _, err := s.orgGroup(c, f.V("group_id")); err != nil {
		return err
	}
	a, _ := actorOf(c)
	l, err := s.deps.Admin.PutLabel(c.UserContext(), a, storage.Label{OrgID: a.OrgID, GroupID: f.V("group_id"), Name: f.V("name")})
	if err != nil {
		return failed(c, f, err, s.showLabels)
	}
	return done(c, "/labels#g-"+l.GroupID, fmt.Sprintf("Added label %s.", l.Name))
}

func (s *Server) uiUpdateLabel(c *fiber.Ctx) error {
	id := param(c, "id")
	old, err := s.orgLabel(c, id)
	if err != nil {
		return err
	}
	f := readForm(c, "labeledit:"+id, "name", "group_id")
	group := f.V("group_id")
	if group == "" {
		group = old.GroupID
	} else if _, err := s.orgGroup(c, group); err != nil {
		return err
	}
	a, _ := actorOf(c)
	l, err := s.deps.Admin.PutLabel(c.UserContext(), a, storage.Label{ID: id, OrgID: a.OrgID, GroupID: group, Name: f.V("name")})
	if err != nil {
		return failed(c, f, err, s.showLabels)
	}
	return done(c, "/labels#g-"+l.GroupID, fmt.Sprintf("Saved label %s.", l.Name))
}

func (s *Server) uiDeleteLabel(c *fiber.Ctx) error {
	id := param(c, "id")
	l, err := s.orgLabel(c, id)
	if err != nil {
		return err
	}
	a, _ := actorOf(c)
	if err := s.deps.Admin.DeleteLabel(c.UserContext(), a, id); err != nil {
		return failed(c, &formState{Name: "label:" + l.GroupID}, err, s.showLabels)
	}
	return done(c, "/labels#g-"+l.GroupID, fmt.Sprintf("Deleted label %s.", l.Name))
}

// ---- contacts ----------------------------------------------------------

type contactsData struct {
	Contacts []contactRow
	Total    int
	Query    string
	CanEdit  bool
	CanCall  bool // start a call (xa_ocall_create_conference)
	Users    []storage.User
}

type contactRow struct {
	storage.Contact
	UserName string
}

func (s *Server) uiContacts(c *fiber.Ctx) error {
	return s.showContacts(c, fiber.StatusOK, &formState{})
}

func (s *Server) showContacts(c *fiber.Ctx, status int, f *formState) error {
	ctx := c.UserContext()
	a, _ := actorOf(c)
	cs, err := s.deps.Org.Contacts(ctx, a.OrgID)
	if err != nil {
		return err
	}
	users, err := s.deps.Org.Users(ctx, a.OrgID)
	if err != nil {
		return err
	}
	names := map[string]string{}
	for _, u := range users {
		names[u.ID] = u.Name
	}
	d := contactsData{Total: len(cs), Query: strings.TrimSpace(c.Query("q")), CanEdit: s.can(a, policy.PhonebookEditor), CanCall: s.can(a, policy.CreateConference)}
	q := strings.ToLower(d.Query)
	for _, ct := range cs {
		if q != "" && !strings.Contains(strings.ToLower(strings.Join([]string{ct.Name, ct.Company, ct.Email, ct.Phone, ct.Notes}, " ")), q) {
			continue
		}
		d.Contacts = append(d.Contacts, contactRow{Contact: ct, UserName: names[ct.UserID]})
	}
	if d.CanEdit {
		for _, u := range users {
			if u.Active && u.Kind == storage.UserRegular {
				d.Users = append(d.Users, u)
			}
		}
	}
	v := s.view(c, "Contacts", "contacts")
	v.Form = f
	v.Data = d
	return s.ui.render(c, status, "contacts", v)
}

func contactFields() []string {
	return []string{"name", "company", "email", "phone", "notes", "user_id"}
}

func contactFrom(f *formState, id, orgID string) storage.Contact {
	return storage.Contact{ID: id, OrgID: orgID, UserID: f.V("user_id"), Name: f.V("name"), Email: f.V("email"),
		Phone: f.V("phone"), Company: f.V("company"), Notes: f.V("notes")}
}

func (s *Server) uiCreateContact(c *fiber.Ctx) error {
	f := readForm(c, "create", contactFields()...)
	a, _ := actorOf(c)
	if f.V("user_id") != "" {
		if _, err := s.orgUser(c, f.V("user_id")); err != nil {
			return failed(c, f, invalid("user_id", "is not a user of this organisation"), s.showContacts)
		}
	}
	ct, err := s.deps.Admin.PutContact(c.UserContext(), a, contactFrom(f, "", a.OrgID))
	if err != nil {
		return failed(c, f, err, s.showContacts)
	}
	return done(c, "/contacts", fmt.Sprintf("Added %s to the phonebook.", ct.Name))
}

// orgContact reads a contact of the caller's organisation.
func (s *Server) orgContact(c *fiber.Ctx, id string) (storage.Contact, error) {
	a, _ := actorOf(c)
	ct, err := s.deps.Org.Contact(c.UserContext(), id)
	if err == nil && ct.OrgID != a.OrgID {
		err = fmt.Errorf("contact %s: %w", id, storage.ErrNotFound)
	}
	return ct, err
}

type contactData struct {
	Contact storage.Contact
	Users   []storage.User
}

func (s *Server) uiContact(c *fiber.Ctx) error { return s.showContact(c, fiber.StatusOK, &formState{}) }

func (s *Server) showContact(c *fiber.Ctx, status int, f *formState) error {
	ct, err := s.orgContact(c, param(c, "id"))
	if err != nil {
		return err
	}
	users, err := s.deps.Org.Users(c.UserContext(), ct.OrgID)
	if err != nil {
		return err
	}
	d := contactData{Contact: ct}
	for _, u := range users {
		if (u.Active && u.Kind == storage.UserRegular) || u.ID == ct.UserID {
			d.Users = append(d.Users, u)
		}
	}
	v := s.view(c, ct.Name, "contacts")
	v.Form = f
	v.Data = d
	return s.ui.render(c, status, "contact", v)
}

func (s *Server) uiUpdateContact(c *fiber.Ctx) error {
	id := param(c, "id")
	old, err := s.orgContact(c, id)
	if err != nil {
		return err
	}
	f := readForm(c, "edit", contactFields()...)
	if f.V("user_id") != "" {
		if _, err := s.orgUser(c, f.V("user_id")); err != nil {
			return failed(c, f, invalid("user_id", "is not a user of this organisation"), s.showContact)
		}
	}
	a, _ := actorOf(c)
	next := contactFrom(f, id, a.OrgID)
	next.CreatedAt = old.CreatedAt
	ct, err := s.deps.Admin.PutContact(c.UserContext(), a, next)
	if err != nil {
		return failed(c, f, err, s.showContact)
	}
	return done(c, "/contacts", fmt.Sprintf("Saved %s.", ct.Name))
}

func (s *Server) uiDeleteContact(c *fiber.Ctx) error {
	id := param(c, "id")
	ct, err := s.orgContact(c, id)
	if err != nil {
		return err
	}
	a, _ := actorOf(c)
	if err := s.deps.Admin.DeleteContact(c.UserContext(), a, id); err != nil {
		return failed(c, &formState{Name: "edit"}, err, s.showContact)
	}
	return done(c, "/contacts", fmt.Sprintf("Deleted %s from the phonebook.", ct.Name))
}

// ---- account -----------------------------------------------------------

type accountData struct {
	Local     bool
	User      storage.User
	Roles     []string
	Teams     []teamRef
	CanTokens bool
	Tokens    []storage.APIToken
	NewToken  *newToken
	TTLs      []ttlOption
	// OrgTokens are every user's tokens, for holders of
	// admin_organisation_api-tokens (ui_tokens.go).
	CanOrgTokens bool
	OrgTokens    []orgTokenOut
}

type newToken struct{ Name, Secret string }

type ttlOption struct{ Value, Label string }

func (s *Server) uiAccount(c *fiber.Ctx) error { return s.showAccount(c, fiber.StatusOK, &formState{}) }

func (s *Server) showAccount(c *fiber.Ctx, status int, f *formState) error {
	return s.renderAccount(c, status, f, nil)
}

func (s *Server) renderAccount(c *fiber.Ctx, status int, f *formState, nt *newToken) error {
	a, _ := actorOf(c)
	d := accountData{Local: a.Local, NewToken: nt, TTLs: []ttlOption{
		{"30d", "30 days"}, {"90d", "90 days"}, {"365d", "1 year"},
	}}
	if !a.Local {
		var err error
		if d.User, err = s.deps.Org.User(c.UserContext(), a.UserID); err != nil {
			return err
		}
		d.Roles = s.deps.Authz.Roles(a.OrgID, a.UserID)
		if d.Teams, err = s.teamRefs(c, a.UserID); err != nil {
			return err
		}
		d.CanTokens = s.can(a, policy.AdminAPITokens)
		if d.CanTokens {
			if d.Tokens, err = s.deps.Org.Tokens(c.UserContext(), a.UserID); err != nil {
				return err
			}
		}
		if err := s.accountOrgTokens(c, a, &d); err != nil {
			return err
		}
	}
	v := s.view(c, "Your account", "account")
	v.Form = f
	v.Data = d
	return s.ui.render(c, status, "account", v)
}

func (s *Server) uiChangePassword(c *fiber.Ctx) error {
	a, _ := actorOf(c)
	f := &formState{Name: "password"}
	if a.Local {
		return failed(c, f, invalid("current", "cannot be changed for the local operator, who has no password"), s.showAccount)
	}
	next := secret(c, "new")
	if next != secret(c, "confirm") {
		return failed(c, f, invalid("confirm", "does not match the new password"), s.showAccount)
	}
	if err := s.deps.Admin.ChangePassword(c.UserContext(), a, secret(c, "current"), next); err != nil {
		if errors.Is(err, storage.ErrUnauthenticated) {
			err = invalid("current", "is not your current password")
		}
		return failed(c, f, err, s.showAccount)
	}
	if err := s.renewSession(c); err != nil { // password_gate.go
		return err
	}
	return done(c, "/account", "Your password was changed; your other sessions are logged out.")
}

func (s *Server) uiCreateToken(c *fiber.Ctx) error {
	f := readForm(c, "token", "name", "ttl", "scope")
	in, err := tokenInput(f.V("name"), f.V("ttl"), f.V("scope"))
	if err != nil {
		return failed(c, f, err, s.showAccount)
	}
	a, _ := actorOf(c)
	tok, sec, err := s.deps.Admin.CreateToken(c.UserContext(), a, in)
	if err != nil {
		return failed(c, f, err, s.showAccount)
	}
	// The secret is shown on this response only: no redirect, no cookie.
	return s.renderAccount(c, fiber.StatusCreated, &formState{}, &newToken{Name: tok.Name, Secret: sec})
}

func (s *Server) uiDeleteToken(c *fiber.Ctx) error {
	a, _ := actorOf(c)
	id := param(c, "id")
	toks, err := s.deps.Org.Tokens(c.UserContext(), a.UserID)
	if err != nil {
		return err
	}
	for _, t := range toks {
		if t.ID == id {
			if err := s.deps.Admin.DeleteToken(c.UserContext(), a, id); err != nil {
				return failed(c, &formState{Name: "token"}, err, s.showAccount)
			}
			return done(c, "/account#tokens", fmt.Sprintf("Revoked token %s.", t.Name))
		}
	}
	return fmt.Errorf("API token %s: %w", id, storage.ErrNotFound)
}
