package web

import (
	"context"

	"github.com/gofiber/fiber/v2"

	"siteline/storage"
)

// Queues is the team queues of service requests and the members'
// auto-assign switch (node/queue).
type Queues interface {
	// AutoAssign and SetAutoAssign read and switch the auto-assign of
	// userID ("" for the actor): one's own needs xa_sup_auto-assign,
	// another's xa_sup_manage-queues over a member in scope.
	AutoAssign(ctx context.Context, a Actor, userID string) (AutoAssignState, error)
	SetAutoAssign(ctx context.Context, a Actor, userID string, on bool) (AutoAssignState, error)
	// ListTeamQueue lists a team's waiting requests for its people.
	ListTeamQueue(ctx context.Context, a Actor, teamID string) ([]QueuedRequest, error)
	// SetStrategy sets a team's queue strategy (xa_sup_manage-queues).
	SetStrategy(ctx context.Context, a Actor, teamID, strategy string) (storage.TeamQueue, error)
	// Strategy returns how a team's queue offers requests: its own
	// strategy, or the node's default.
	Strategy(ctx context.Context, a Actor, teamID string) (storage.TeamQueue, error)
	// Teams lists the organisation's teams a request may be made for.
	Teams(ctx context.Context, a Actor) ([]storage.Team, error)
}

// AutoAssignState is a user's auto-assign switch. Eligible tells whether
// the user holds xa_sup_auto-assign at all.
type AutoAssignState struct {
	UserID   string `json:"user_id"`
	On       bool   `json:"on"`
	Eligible bool   `json:"eligible"`
}

// AutoAssignInput switches auto-assign.
type AutoAssignInput struct {
	On *bool `json:"on"`
}

// StrategyInput sets a team's queue strategy.
type StrategyInput struct {
	Strategy string `json:"strategy"`
}

// QueuedRequest is a request waiting in a team's queue; its call can be
// joined from the list.
type QueuedRequest struct {
	Entry      storage.QueueEntry `json:"entry"`
	CallerName string             `json:"caller_name"`
	Subject    string             `json:"subject"`
}

func (s *Server) queueRoutes() []route {
	if s.deps.Queues == nil {
		return nil
	}
	p := APIPrefix
	return []route{
		{method: "GET", path: p + "/me/auto-assign", summary: "The caller's auto-assign switch (xa_sup_auto-assign)", out: AutoAssignState{}, handler: s.apiGetAutoAssign},
		{method: "PUT", path: p + "/me/auto-assign", summary: "Switch the caller's auto-assign on or off (xa_sup_auto-assign)", in: AutoAssignInput{}, out: AutoAssignState{}, handler: s.apiSetAutoAssign},
		{method: "GET", path: p + "/users/:id/auto-assign", summary: "A member's auto-assign switch (xa_sup_manage-queues, in scope)", out: AutoAssignState{}, handler: s.apiGetAutoAssign},
		{method: "PUT", path: p + "/users/:id/auto-assign", summary: "Switch a member's auto-assign (xa_sup_manage-queues, in scope)", in: AutoAssignInput{}, out: AutoAssignState{}, handler: s.apiSetAutoAssign},
		{method: "GET", path: p + "/teams/:id/queue", summary: "A team's waiting service requests, joinable by its people", out: []QueuedRequest{}, handler: s.apiTeamQueue},
		{method: "PUT", path: p + "/teams/:id/queue", summary: "Set a team's queue strategy: round-robin or longest-idle (xa_sup_manage-queues)", in: StrategyInput{}, out: storage.TeamQueue{}, handler: s.apiSetStrategy},
		{method: "GET", path: p + "/queue-teams", summary: "Teams a service request can be made for", out: []storage.Team{}, handler: s.apiQueueTeams},
	}
}

func (s *Server) apiGetAutoAssign(c *fiber.Ctx) error {
	a, _ := actorOf(c)
	out, err := s.deps.Queues.AutoAssign(c.UserContext(), a, c.Params("id"))
	if err != nil {
		return err
	}
	return c.JSON(out)
}

func (s *Server) apiSetAutoAssign(c *fiber.Ctx) error {
	a, _ := actorOf(c)
	var in AutoAssignInput
	if err := decodeJSON(c, &in); err != nil {
		return err
	}
	if in.On == nil {
		return &storage.ValidationError{Field: "on", Problem: "is required (true or false)"}
	}
	out, err := s.deps.Queues.SetAutoAssign(c.UserContext(), a, c.Params("id"), *in.On)
	if err != nil {
		return err
	}
	return c.JSON(out)
}

func (s *Server) apiTeamQueue(c *fiber.Ctx) error {
	a, _ := actorOf(c)
	out, err := s.deps.Queues.ListTeamQueue(c.UserContext(), a, param(c, "id"))
	if err != nil {
		return err
	}
	return c.JSON(nonNil(out))
}

func (s *Server) apiSetStrategy(c *fiber.Ctx) error {
	a, _ := actorOf(c)
	var in StrategyInput
	if err := decodeJSON(c, &in); err != nil {
		return err
	}
	out, err := s.deps.Queues.SetStrategy(c.UserContext(), a, param(c, "id"), in.Strategy)
	if err != nil {
		return err
	}
	return c.JSON(out)
}

func (s *Server) apiQueueTeams(c *fiber.Ctx) error {
	a, _ := actorOf(c)
	out, err := s.deps.Queues.Teams(c.UserContext(), a)
	if err != nil {
		return err
	}
	return c.JSON(nonNil(out))
}
