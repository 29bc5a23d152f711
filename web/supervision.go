package web

import (
	"context"
	"time"

	"github.com/gofiber/fiber/v2"

	"siteline/policy"
	"siteline/storage"
)

// Supervision is the live team dashboard (SPEC.md section 4): the teams a
// supervisor watches, each team's members with their status, its ongoing
// sessions and queue, and the changes pushed to the supervisor's open
// pages as EventSupervision on the events socket. The node implements it
// (node/supervision); it checks the permission (policy.TeamDashboard) and
// the scope: a lead or manager watches the teams they lead or manage, an
// administrator of teams every team. Refusals are *storage.ForbiddenError
// naming the permission.
type Supervision interface {
	// Teams lists the teams the actor may watch.
	Teams(ctx context.Context, a Actor) ([]SupervisedTeam, error)
	// Board is one team's dashboard.
	Board(ctx context.Context, a Actor, teamID string) (TeamBoard, error)
	// Watch sends the actor's supervision events to send until cancel is
	// called; an actor who may watch no team gets none. send must not
	// block.
	Watch(a Actor, send func(Event) error) (cancel func())
	// Active records activity of the actor on one of their open pages
	// (what keeps them from being idle).
	Active(a Actor)
}

// Member statuses on the team dashboard.
const (
	StatusAvailable     = "available"       // a page open, not in a call
	StatusBusy          = "busy"            // in a call
	StatusIdle          = "idle"            // a page open, no activity for supervision.idle_after
	StatusAutoAssignOff = "auto_assign_off" // a page open, offered no queued request
	StatusOffline       = "offline"         // no page open, in no call
)

// Statuses lists the member statuses in the dashboard's order.
var Statuses = []string{StatusAvailable, StatusBusy, StatusIdle, StatusAutoAssignOff, StatusOffline}

// EventSupervision carries a SupervisionUpdate on the events socket.
const EventSupervision = "supervision"

// SupervisedTeam is a team the caller may watch, with its members' status
// counts now.
type SupervisedTeam struct {
	storage.Team
	// Role is the caller's role in the team; "" for an administrator
	// watching a team they are not in.
	Role    storage.TeamRole `json:"role"`
	Members int              `json:"members"`
	Counts  map[string]int   `json:"counts"`
}

// TeamBoard is one team's dashboard.
type TeamBoard struct {
	Team     storage.Team   `json:"team"`
	Members  []BoardMember  `json:"members"`
	Sessions []BoardSession `json:"sessions"`
	Queue    []QueueItem    `json:"queue"`
	Counts   map[string]int `json:"counts"`
	// Series is the team's status counts, sampled each minute.
	Series StatusSeries `json:"series"`
	// IdleAfter is supervision.idle_after in seconds.
	IdleAfter int       `json:"idle_after"`
	Now       time.Time `json:"now"`
}

// BoardMember is one member of a team on the dashboard. An update pushed
// on the events socket carries the status fields only (not the call
// counts).
type BoardMember struct {
	ID     string           `json:"id"`
	Name   string           `json:"name,omitempty"`
	Email  string           `json:"email,omitempty"`
	Role   storage.TeamRole `json:"role,omitempty"`
	Status string           `json:"status"`
	// Since is when the status began, as far as the node knows (for busy,
	// when the member joined the call).
	Since *time.Time `json:"since,omitempty"`
	// CallID is the member's current session while busy; Site the site of
	// its node, when known.
	CallID string `json:"call_id,omitempty"`
	Site   string `json:"site,omitempty"`
	// CallURL is the address of the node holding the call when another
	// node holds it (a plant's, seen from headquarters): a supervisor
	// sits in there.
	CallURL string `json:"call_url,omitempty"`
	// AutoAssign is false when the member switched auto-assign off.
	AutoAssign bool `json:"auto_assign"`
	// LastActive is the member's last activity on a page, when known.
	LastActive *time.Time `json:"last_active,omitempty"`
	// CallsToday and AvgHandling (seconds) count today's calls.
	CallsToday  int     `json:"calls_today"`
	AvgHandling float64 `json:"avg_handling"`
}

// BoardSession is an ongoing session of a team's members.
type BoardSession struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	Kind      string    `json:"kind,omitempty"`
	Status    string    `json:"status"`
	SiteID    string    `json:"site_id,omitempty"`
	Site      string    `json:"site,omitempty"`
	StartedAt time.Time `json:"started_at"`
	// Members are the team's members in it (by id).
	Members      []string           `json:"members"`
	Participants []BoardParticipant `json:"participants"`
	// Remote is set for a session known only from another node's
	// presence (its history has not reached this node): its start is when
	// the team's member joined it.
	Remote bool `json:"remote,omitempty"`
	// URL is the address of the node holding the session when another
	// node holds it and presence tells which (BoardMember.CallURL).
	URL string `json:"url,omitempty"`
}

// BoardParticipant is someone in an ongoing session.
type BoardParticipant struct {
	UserID string           `json:"user_id"`
	Name   string           `json:"name"`
	Kind   storage.UserKind `json:"kind"`
	Hidden bool             `json:"hidden,omitempty"`
}

// QueueItem is a service request waiting in a team's queue, as the
// team dashboard shows it.
type QueueItem struct {
	ID        string    `json:"id"`
	SessionID string    `json:"session_id,omitempty"`
	Subject   string    `json:"subject"`
	Caller    string    `json:"caller,omitempty"`
	Since     time.Time `json:"since"`
	// OfferedTo is the member the request is offered to now, if any.
	OfferedTo string `json:"offered_to,omitempty"`
}

// StatusSeries is a team's status counts over time: At (unix seconds)
// and, for each status, the count at each time.
type StatusSeries struct {
	At     []int64          `json:"at"`
	Counts map[string][]int `json:"counts"`
}

// SupervisionUpdate is what changed on a team's dashboard: Member's status
// (Kind "member") or the team's queue (Kind "queue").
type SupervisionUpdate struct {
	Kind   string         `json:"kind"`
	Teams  []string       `json:"teams"`
	Member *BoardMember   `json:"member,omitempty"`
	Queue  []QueueItem    `json:"queue,omitempty"`
	Counts map[string]int `json:"counts,omitempty"`
}

func (s *Server) supervisionRoutes() []route {
	p := APIPrefix + "/supervision"
	return []route{
		{method: "GET", path: p + "/teams", perm: policy.TeamDashboard, summary: "Teams the caller supervises, with their members' status counts", out: []SupervisedTeam{}, handler: s.apiSupervisedTeams},
		{method: "GET", path: p + "/teams/:id", perm: policy.TeamDashboard, summary: "A supervised team's dashboard: members with status, ongoing sessions, queue, status counts over the last hours; changes follow on the events socket (supervision)", out: TeamBoard{}, handler: s.apiTeamBoard},
		{method: "GET", path: "/supervision", perm: policy.TeamDashboard, page: true, summary: "The live team dashboard", handler: s.uiSupervision},
	}
}

func (s *Server) apiSupervisedTeams(c *fiber.Ctx) error {
	a, _ := actorOf(c)
	out, err := s.deps.Supervision.Teams(c.UserContext(), a)
	if err != nil {
		return err
	}
	return c.JSON(nonNil(out))
}

func (s *Server) apiTeamBoard(c *fiber.Ctx) error {
	a, _ := actorOf(c)
	b, err := s.deps.Supervision.Board(c.UserContext(), a, param(c, "id"))
	if err != nil {
		return err
	}
	return c.JSON(b)
}

type supervisionData struct {
	Teams    []SupervisedTeam
	Selected string
	Statuses []string
	// CanMonitor offers to see a member's screen (xa_icall_monitor-screen).
	CanMonitor bool
}

// uiSupervision is the live team dashboard page: the team picker here, the
// rest from the API and the events socket (supervision.js).
func (s *Server) uiSupervision(c *fiber.Ctx) error {
	a, _ := actorOf(c)
	teams, err := s.deps.Supervision.Teams(c.UserContext(), a)
	if err != nil {
		return err
	}
	d := supervisionData{Teams: teams, Statuses: Statuses, CanMonitor: s.can(a, policy.CallMonitorScreen)}
	want := c.Query("team")
	for _, t := range teams {
		if t.ID == want || d.Selected == "" {
			d.Selected = t.ID
		}
	}
	v := s.view(c, "Team live", "supervision")
	v.Data = d
	return s.ui.render(c, fiber.StatusOK, "supervision", v)
}
