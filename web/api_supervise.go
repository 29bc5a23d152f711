package web

import (
	"context"

	"github.com/gofiber/fiber/v2"

	"siteline/policy"
	"siteline/storage"
)

// CallSupervisor takes sessions over and transfers them (SPEC.md section
// 4). The call service implements it next to Calls.
type CallSupervisor interface {
	// TakeOver makes the caller the session's owning expert; the former
	// owner leaves the call when memberLeaves.
	TakeOver(ctx context.Context, a Actor, id string, memberLeaves bool) (storage.Session, error)
	// Transfer moves the session to a user or a team's queue without a
	// new call.
	Transfer(ctx context.Context, a Actor, id string, in TransferInput) (storage.Session, error)
	// Monitor asks a member's open pages to share their screen with the
	// caller, outside any call: a call of its own rings them, and the
	// caller watches it hidden (URL). A member with no page open is
	// DialNotReachable, with the reason.
	Monitor(ctx context.Context, a Actor, memberID string) (DialOut, error)
}

// TakeOverInput takes a session over.
type TakeOverInput struct {
	MemberLeaves bool `json:"member_leaves"`
}

// TransferInput moves a session: to a user (who becomes its owner and is
// offered the call) or to a team's queue; exactly one of ToUser and
// ToTeam. MemberLeaves takes the current owner out of the call.
type TransferInput struct {
	ToUser       string `json:"to_user,omitempty"`
	ToTeam       string `json:"to_team,omitempty"`
	MemberLeaves bool   `json:"member_leaves"`
}

func (s *Server) superviseRoutes() []route {
	p := APIPrefix
	return []route{
		{method: "POST", path: p + "/calls/:id/take-over", perm: policy.CallTakeOver, summary: "Take a team member's session over: the caller becomes its owning expert", in: TakeOverInput{}, out: storage.Session{}, handler: s.apiTakeOver},
		{method: "POST", path: p + "/calls/:id/transfer", perm: policy.CallTransfer, summary: "Transfer a session to another member or a team's queue without a new call", in: TransferInput{}, out: storage.Session{}, handler: s.apiTransfer},
		{method: "POST", path: p + "/users/:id/monitor", perm: policy.CallMonitorScreen, summary: "Ask a team member to share their screen, outside a call: their open pages ring, and the caller watches hidden", out: DialOut{}, handler: s.apiMonitor},
	}
}

func (s *Server) supervisor() (CallSupervisor, error) {
	if sup, ok := s.deps.Calls.(CallSupervisor); ok {
		return sup, nil
	}
	return nil, &Error{Status: 404, Code: "not_found", Message: "taking over, transferring and monitoring are not available on this node"}
}

func (s *Server) apiTakeOver(c *fiber.Ctx) error {
	var in TakeOverInput
	if err := decodeJSON(c, &in); err != nil {
		return err
	}
	sup, err := s.supervisor()
	if err != nil {
		return err
	}
	a, _ := actorOf(c)
	sess, err := sup.TakeOver(c.UserContext(), a, c.Params("id"), in.MemberLeaves)
	if err != nil {
		return err
	}
	return c.JSON(sess)
}

func (s *Server) apiTransfer(c *fiber.Ctx) error {
	var in TransferInput
	if err := decodeJSON(c, &in); err != nil {
		return err
	}
	sup, err := s.supervisor()
	if err != nil {
		return err
	}
	a, _ := actorOf(c)
	sess, err := sup.Transfer(c.UserContext(), a, c.Params("id"), in)
	if err != nil {
		return err
	}
	return c.JSON(sess)
}

func (s *Server) apiMonitor(c *fiber.Ctx) error {
	sup, err := s.supervisor()
	if err != nil {
		return err
	}
	a, _ := actorOf(c)
	out, err := sup.Monitor(c.UserContext(), a, param(c, "id"))
	if err != nil {
		return err
	}
	if out.Status == DialRinging {
		c.Status(fiber.StatusCreated)
	}
	return c.JSON(out)
}
