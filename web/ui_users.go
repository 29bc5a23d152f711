package web

import (
	"context"
	"fmt"

	"github.com/gofiber/fiber/v2"

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
	Users  []userRow
	Roles  []storage.Role
	Active int
	// Inviting is set when the node invites by e-mail (Deps.Members);
	// Teams are the invitation form's choices, Invitations those pending.
	Inviting    bool
	Teams       []storage.Team
	Invitations []MemberInvitationOut
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
	teams, err := s.deps.Org.TeamsWithMembers(ctx, a.OrgID)
	if err != nil {
		return err
	}
	teamsOf := map[string][]string{}
	for _, t := range teams {
		for _, m := range t.Members {
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
	if s.deps.Members != nil {
		d.Inviting = true
		for _, t := range teams {
			d.Teams = append(d.Teams, t.Team)
		}
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
	roles, err := s.deps.Org.Roles(c.UserContext(), a.OrgID)
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
