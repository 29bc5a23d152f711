package web

import (
	"errors"

	"github.com/gofiber/fiber/v2"

	"siteline/policy"
	"siteline/storage"
)

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
