package web

import "github.com/gofiber/fiber/v2"

// termsNotAccepted is the join page's answer to a guest who pressed Join
// without ticking the terms box.
const termsNotAccepted = "To join the call, tick “I accept the terms of use” below the terms. You can read them in full first."

// uiJoinTerms shows the whole terms of use a link's guest accepts; a dead
// link says why instead.
func (s *Server) uiJoinTerms(c *fiber.Ctx) error {
	linkHeaders(c)
	token := param(c, "token")
	info, err := s.deps.Invites.Inspect(c.UserContext(), token)
	if err != nil {
		return s.deadLinkPage(c, err)
	}
	v := s.view(c, "Terms of use", "")
	v.LoggedIn = false
	v.Data = joinData{Token: token, Info: info}
	return s.ui.render(c, fiber.StatusOK, "join_terms", v)
}
