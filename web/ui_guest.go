package web

import (
	"github.com/gofiber/fiber/v2"

	"siteline/policy"
)

// guestUIRoutes are the pages around a guest's call: leaving it signs the
// guest out.
func (s *Server) guestUIRoutes() []route {
	return []route{
		{method: "POST", path: "/calls/:id/leave", perm: policy.CallJoin, page: true, summary: "Leave the call page; a guest is signed out", handler: s.uiLeaveCall},
	}
}

// uiLeaveCall ends a guest's browser session (the guest has no backoffice
// to go back to) and says goodbye; a user goes back to the start page.
func (s *Server) uiLeaveCall(c *fiber.Ctx) error {
	a, _ := actorOf(c)
	if !a.isGuest() {
		return c.Redirect("/", fiber.StatusSeeOther)
	}
	if err := s.endSession(c); err != nil {
		return err
	}
	c.Locals(localActor, nil)
	c.Locals(localSession, nil)
	v := s.view(c, "You left the call", "")
	v.LoggedIn = false
	v.Data = a.Name
	return s.ui.render(c, fiber.StatusOK, "goodbye", v)
}

// waitingCallsOf lists the calls of the user's service requests for the
// start page. A failure is logged and leaves the list empty: the page
// still shows.
func (s *Server) waitingCallsOf(c *fiber.Ctx, a Actor) []WaitingCall {
	if s.deps.Events == nil || a.Local || !s.can(a, policy.InviteGuestUsers) {
		return nil
	}
	out, err := s.deps.Events.WaitingCalls(c.UserContext(), a)
	if err != nil {
		s.log.Warn("waiting calls", "user", a.UserID, "err", err)
		return nil
	}
	return out
}
