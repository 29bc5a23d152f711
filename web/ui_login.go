package web

import (
	"errors"
	"strings"

	"github.com/gofiber/fiber/v2"

	"siteline/policy"
	"siteline/storage"
)

type loginData struct {
	Next string
	// SSO are the organisations offering single sign-on.
	SSO []SSOButton
}

func (s *Server) uiLogin(c *fiber.Ctx) error {
	next := strings.Clone(c.Query("next"))
	if a, ok := actorOf(c); ok {
		return c.Redirect(s.afterLogin(a, next), fiber.StatusSeeOther)
	}
	f := &formState{Name: "login", Values: map[string][]string{"next": {next}}}
	return s.showLogin(c, fiber.StatusOK, f)
}

func (s *Server) showLogin(c *fiber.Ctx, status int, f *formState) error {
	v := s.view(c, "Log in", "")
	v.Form = f
	v.Data = loginData{Next: f.V("next"), SSO: s.ssoButtons(c)}
	return s.ui.render(c, status, "login", v)
}

func (s *Server) uiLoginPost(c *fiber.Ctx) error {
	f := readForm(c, "login", "email", "next")
	u, err := s.login(c, f.V("email"), secret(c, "password"))
	if err != nil {
		if errors.Is(err, ErrSSORequired) {
			f.Err = sentence(ErrSSORequired.Message)
			return s.showLogin(c, fiber.StatusForbidden, f)
		}
		status, _, ok := formError(err)
		if !ok {
			return err
		}
		if errors.Is(err, storage.ErrUnauthenticated) {
			status = fiber.StatusUnauthorized
			f.Err = "Wrong e-mail or password."
		} else {
			f.Err = sentence(err.Error())
			setRetryAfter(c, err)
		}
		return s.showLogin(c, status, f)
	}
	if _, err := s.startSession(c, u); err != nil {
		return err
	}
	return c.Redirect(s.afterLogin(Actor{UserID: u.ID, OrgID: u.OrgID}, f.V("next")), fiber.StatusSeeOther)
}

// afterLogin is where a login lands: the local page asked for, else the
// start page, else (for users without a dashboard) their account.
func (s *Server) afterLogin(a Actor, next string) string {
	if p, ok := localPath(next); ok && !strings.HasPrefix(p, "/login") && !strings.HasPrefix(p, "/logout") {
		return p
	}
	if s.can(a, policy.HomeDashboardAccess) {
		return "/"
	}
	return "/account"
}

func (s *Server) uiLogout(c *fiber.Ctx) error {
	provider := s.ssoLogoutURL(c) // before the session, and its link, go
	if err := s.endSession(c); err != nil {
		return err
	}
	if provider != "" {
		return c.Redirect(provider, fiber.StatusSeeOther)
	}
	return done(c, "/login", "You are logged out.")
}

// ---- home --------------------------------------------------------------
