package web

import (
	"github.com/gofiber/fiber/v2"

	"siteline/policy"
	"siteline/storage"
	"siteline/storage/dashboard"
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
	// Dashboard sums the last four weeks; nil when not shown.
	Dashboard *dashboard.Group
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
	counts, err := s.deps.Org.Counts(ctx, a.OrgID)
	if err != nil {
		return err
	}
	d.Users, d.ActiveUsers, d.Teams, d.Contacts = counts.Users, counts.ActiveUsers, counts.Teams, counts.Contacts
	d.LabelGroups, d.Labels = counts.LabelGroups, counts.Labels
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
	d.Waiting = s.waitingCallsOf(c, a)  // ui_guest.go
	d.Dashboard = s.homeDashboard(c, a) // dashboard.go
	v := s.view(c, "Home", "home")
	v.Data = d
	return s.ui.render(c, fiber.StatusOK, "home", v)
}

// teamRefs lists a user's teams by name.
func (s *Server) teamRefs(c *fiber.Ctx, userID string) ([]teamRef, error) {
	a, _ := actorOf(c)
	ms, err := s.deps.Org.UserTeams(c.UserContext(), a.OrgID, userID)
	if err != nil {
		return nil, err
	}
	out := make([]teamRef, 0, len(ms))
	for _, m := range ms {
		out = append(out, teamRef{ID: m.TeamID, Name: m.TeamName, Role: m.Role})
	}
	return out, nil
}

// ---- users -------------------------------------------------------------
