package web

import (
	"context"
	"fmt"
	"strings"

	"github.com/gofiber/fiber/v2"

	"siteline/policy"
	"siteline/storage"
)

// Teams changes teams and their members (the API's handlers are in
// api.go).
type Teams interface {
	CreateTeam(ctx context.Context, a Actor, name string) (storage.Team, error)
	RenameTeam(ctx context.Context, a Actor, id, name string) (storage.Team, error)
	DeleteTeam(ctx context.Context, a Actor, id string) error
	SetTeamMember(ctx context.Context, a Actor, teamID, userID string, role storage.TeamRole) error
	RemoveTeamMember(ctx context.Context, a Actor, teamID, userID string) error
}

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
	teams, err := s.deps.Org.TeamsWithMembers(ctx, a.OrgID)
	if err != nil {
		return err
	}
	names, err := s.userNames(c, a.OrgID)
	if err != nil {
		return err
	}
	d := teamsData{Teams: make([]teamRow, 0, len(teams))}
	for _, t := range teams {
		row := teamRow{Team: t.Team, Members: len(t.Members)}
		for _, m := range t.Members {
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
	t, err := s.deps.Teams.CreateTeam(c.UserContext(), a, f.V("name"))
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
	// Queue is how the team's queue offers service requests, for holders
	// of xa_sup_manage-queues (nil for others).
	Queue *storage.TeamQueue
}

type memberRow struct {
	User storage.User
	Role storage.TeamRole
}

func (s *Server) uiTeam(c *fiber.Ctx) error { return s.showTeam(c, fiber.StatusOK, &formState{}) }

func (s *Server) showTeam(c *fiber.Ctx, status int, f *formState) error {
	ctx := c.UserContext()
	a, _ := actorOf(c)
	tm, err := s.deps.Org.TeamWithMembers(ctx, a.OrgID, param(c, "id"))
	if err != nil {
		return err
	}
	t, ms := tm.Team, tm.Members
	users, err := s.deps.Org.Users(ctx, a.OrgID)
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
	if s.deps.Queues != nil && s.can(a, policy.ManageQueues) {
		if tq, err := s.deps.Queues.Strategy(ctx, a, t.ID); err == nil {
			d.Queue = &tq
		}
	}
	v := s.view(c, t.Name, "teams")
	v.Form = f
	v.Data = d
	return s.ui.render(c, status, "team", v)
}

// uiSetStrategy sets how the team's queue offers service requests.
func (s *Server) uiSetStrategy(c *fiber.Ctx) error {
	id := param(c, "id")
	if _, err := s.orgTeam(c, id); err != nil {
		return err
	}
	f := readForm(c, "queue", "strategy")
	a, _ := actorOf(c)
	if s.deps.Queues == nil {
		return failed(c, f, &Error{Status: fiber.StatusServiceUnavailable, Code: "unavailable", Message: "team queues do not run on this node"}, s.showTeam)
	}
	tq, err := s.deps.Queues.SetStrategy(c.UserContext(), a, id, f.V("strategy"))
	if err != nil {
		return failed(c, f, err, s.showTeam)
	}
	how := "in turn (round robin)"
	if tq.Strategy == storage.StrategyLongestIdle {
		how = "to the member idle the longest"
	}
	return done(c, "/teams/"+id, "Service requests for this team are now offered "+how+".")
}

func (s *Server) uiRenameTeam(c *fiber.Ctx) error {
	id := param(c, "id")
	if _, err := s.orgTeam(c, id); err != nil {
		return err
	}
	f := readForm(c, "rename", "name")
	a, _ := actorOf(c)
	t, err := s.deps.Teams.RenameTeam(c.UserContext(), a, id, f.V("name"))
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
	if err := s.deps.Teams.DeleteTeam(c.UserContext(), a, id); err != nil {
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
	if err := s.deps.Teams.SetTeamMember(c.UserContext(), a, id, u.ID, storage.TeamRole(f.V("role"))); err != nil {
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
	if err := s.deps.Teams.RemoveTeamMember(c.UserContext(), a, id, u.ID); err != nil {
		return failed(c, &formState{Name: "role"}, err, s.showTeam)
	}
	return done(c, "/teams/"+id, fmt.Sprintf("Removed %s from the team.", u.Name))
}

// ---- labels ------------------------------------------------------------
