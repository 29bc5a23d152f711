package web

import (
	"fmt"

	"github.com/gofiber/fiber/v2"
)

// openDuringPasswordChange reports whether a user who must replace a
// generated password may still reach a route: who they are, the page and
// call that change it, and logging out.
func openDuringPasswordChange(r route) bool {
	switch r.method + " " + r.path {
	case "GET " + APIPrefix + "/me", "POST " + APIPrefix + "/me/password", "DELETE " + APIPrefix + "/session",
		"GET /account", "POST /account/password", "POST /logout":
		return true
	}
	return false
}

// passwordGate holds a user who still has the password generated at
// installation: pages redirect to the account page to choose another, API
// calls answer 403 password_change_required.
func (s *Server) passwordGate(r route) fiber.Handler {
	if openDuringPasswordChange(r) {
		return func(c *fiber.Ctx) error { return c.Next() }
	}
	return func(c *fiber.Ctx) error {
		a, _ := actorOf(c)
		if a.Local || a.isGuest() || !s.deps.Accounts.PasswordChangeRequired(c.UserContext(), a.UserID) {
			return c.Next()
		}
		if r.page {
			setFlash(c, "Choose a new password to go on: the first one was generated at installation.")
			return c.Redirect("/account", fiber.StatusSeeOther)
		}
		return &Error{Status: fiber.StatusForbidden, Code: "password_change_required",
			Message: fmt.Sprintf("choose a new password first (POST %s/me/password): this one was generated at installation", APIPrefix)}
	}
}

// renewSession gives the caller's session a new id after a password change
// ended every session of the user: the page that changed the password
// stays logged in with the same CSRF token; the others are logged out.
func (s *Server) renewSession(c *fiber.Ctx) error {
	sess, ok := sessionOf(c)
	if !ok {
		return nil
	}
	secret := randomToken()
	sess.ID = hashSecret(secret)
	sess.SeenAt = s.now()
	if err := s.deps.Sessions.CreateWebSession(c.UserContext(), sess); err != nil {
		return fmt.Errorf("renew session: %w", err)
	}
	c.Cookie(&fiber.Cookie{
		Name: SessionCookie, Value: secret, Path: "/", Expires: sess.ExpiresAt,
		Secure: true, HTTPOnly: true, SameSite: fiber.CookieSameSiteLaxMode,
	})
	return nil
}
