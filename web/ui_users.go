package web

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/gofiber/fiber/v2"

	"siteline/policy"
	"siteline/storage"
)

// Users creates and changes users (the API's handlers are in api.go).
type Users interface {
	CreateUser(ctx context.Context, a Actor, in UserInput) (storage.User, error)
	UpdateUser(ctx context.Context, a Actor, id string, p UserPatch) (storage.User, error)
}

// UserInput creates a user.
type UserInput struct {
	Email    string   `json:"email"`
	Name     string   `json:"name"`
	Password string   `json:"password"`
	Roles    []string `json:"roles"`
}

// UserPatch changes a user; nil fields are left as they are.
type UserPatch struct {
	Email    *string   `json:"email"`
	Name     *string   `json:"name"`
	Active   *bool     `json:"active"`
	Roles    *[]string `json:"roles"`
	Password *string   `json:"password"`
}

type usersData struct {
	// Users is the page shown of the members matching Query: users, and
	// the people invited unless Query narrows to users.
	Users []personRow
	Query memberQuery
	// Matching is how many members the view holds; Page is shown of Pages.
	Matching    int
	Page, Pages int
	Roles       []storage.Role
	// AccountRoles are the roles the create and invite forms offer: those
	// a registered account may hold (no guest roles).
	AccountRoles []storage.Role
	AllTeams     []storage.Team
	LabelGroups  []labelGroupChips
	Active       int
	// Importing is set when members can be imported from CSV (Deps.People
	// and Deps.Members); ImportColumns is the header of such a file.
	Importing     bool
	ImportColumns string
	// Inviting is set when the node invites by e-mail (Deps.Members);
	// Teams are the invitation form's choices, Invitations those pending.
	Inviting    bool
	Teams       []storage.Team
	Invitations []MemberInvitationOut
}

func (s *Server) uiUsers(c *fiber.Ctx) error { return s.showUsers(c, fiber.StatusOK, &formState{}) }

func (s *Server) showUsers(c *fiber.Ctx, status int, f *formState) error {
	ctx := c.UserContext()
	a, _ := actorOf(c)
	q, err := memberQueryOf(func(k string) string { return c.Query(k) })
	if err != nil {
		return err
	}
	names, err := s.memberNames(ctx, a.OrgID)
	if err != nil {
		return err
	}
	all, err := s.memberRows(ctx, a, names, true)
	if err != nil {
		return err
	}
	roles, err := s.deps.Org.Roles(ctx, a.OrgID)
	if err != nil {
		return err
	}
	d := usersData{Query: q, Roles: sortRoles(roles), AccountRoles: accountRoles(sortRoles(roles), nil), AllTeams: names.teams, LabelGroups: names.groups,
		Importing: s.deps.People != nil && s.deps.Members != nil, ImportColumns: strings.Join(MemberCSVColumns, ",")}
	for _, r := range all {
		if r.Status == MemberActive {
			d.Active++
		}
	}
	matching := q.filter(all)
	d.Matching = len(matching)
	d.Users, d.Pages = page(matching, q.Page, membersPerPage)
	d.Page = q.Page
	if s.deps.Members != nil {
		d.Inviting = true
		d.Teams = names.teams
		invs, err := s.deps.Members.MemberInvitations(ctx, a)
		if err != nil {
			return err
		}
		for _, inv := range invs {
			if inv.State == storage.MemberInvitePending || inv.State == storage.MemberInviteExpired {
				d.Invitations = append(d.Invitations, inv)
			}
		}
	}
	v := s.view(c, "Users", "users")
	v.Form = f
	v.Data = d
	return s.ui.render(c, status, "users", v)
}

func (s *Server) uiCreateUser(c *fiber.Ctx) error {
	f := readForm(c, "create", "email", "name", "roles")
	a, _ := actorOf(c)
	u, err := s.deps.Users.CreateUser(c.UserContext(), a, UserInput{
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
	// Labelling is set when labels can be applied here (Deps.People);
	// LabelGroups are the choices, Labels the ids applied.
	Labelling   bool
	LabelGroups []labelGroupChips
	Labels      []string
}

// HasLabel reports whether the label is applied to the user.
func (d userData) HasLabel(id string) bool { return slices.Contains(d.Labels, id) }

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
	roles, err := s.deps.Org.Roles(c.UserContext(), a.OrgID)
	if err != nil {
		return err
	}
	d.AllRoles = accountRoles(sortRoles(roles), d.Has)
	if d.Teams, err = s.teamRefs(c, u.ID); err != nil {
		return err
	}
	if s.deps.People != nil && s.deps.Activity != nil {
		names, err := s.memberNames(c.UserContext(), a.OrgID)
		if err != nil {
			return err
		}
		applied, err := s.deps.Activity.UserLabels(c.UserContext(), a.OrgID)
		if err != nil {
			return err
		}
		d.Labelling, d.LabelGroups, d.Labels = true, names.groups, applied[u.ID]
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
	u, err := s.deps.Users.UpdateUser(c.UserContext(), a, id, UserPatch{Name: &name, Email: &email, Roles: &roles})
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
	u, err := s.deps.Users.UpdateUser(c.UserContext(), a, id, UserPatch{Active: &active})
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
	u, err := s.deps.Users.UpdateUser(c.UserContext(), a, id, UserPatch{Password: &pw})
	if err != nil {
		return failed(c, f, err, s.showUser)
	}
	return done(c, "/users/"+id, fmt.Sprintf("Set a new password for %s.", u.Name))
}

// ---- teams -------------------------------------------------------------

// accountRoles are the roles a registered account may be given: all but
// the guest roles, which guests get by their device (those held, as held
// says, are kept so that they can be taken away).
func accountRoles(roles []storage.Role, held func(string) bool) []storage.Role {
	out := make([]storage.Role, 0, len(roles))
	for _, r := range roles {
		if !policy.IsGuestRole(r.Name) || held != nil && held(r.Name) {
			out = append(out, r)
		}
	}
	return out
}
