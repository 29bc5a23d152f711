package web

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"siteline/storage"
)

// Accounts is what the node knows of a user's own credentials: the
// password checked at login, changed on the account page, and the mark of
// one generated at installation (password_gate.go).
type Accounts interface {
	// Authenticate checks an e-mail and password and returns the active
	// user, or storage.ErrUnauthenticated.
	Authenticate(ctx context.Context, email, password string) (storage.User, error)
	// ChangePassword changes the actor's own password after checking the
	// current one, and ends every web session of the actor.
	ChangePassword(ctx context.Context, a Actor, current, next string) error
	// PasswordChangeRequired reports whether the user still has the
	// password generated at installation, which they must replace before
	// anything else.
	PasswordChangeRequired(ctx context.Context, userID string) bool
}

// SessionCookie is the browser session cookie. The __Host- prefix makes the
// browser insist on Secure, Path=/ and no Domain.
const SessionCookie = "__Host-siteline"

// TokenPrefix starts every API token secret, so a leaked one is easy to
// recognise in logs and scanners.
const TokenPrefix = "stl_"

// CSRFHeader carries the session's CSRF token on API calls made with the
// session cookie; forms send it as the _csrf field.
const CSRFHeader = "X-CSRF-Token"

const (
	localActor   = "actor"
	localSession = "session"
)

// actor returns who the request acts for; zero when anonymous.
func actorOf(c *fiber.Ctx) (Actor, bool) {
	a, ok := c.Locals(localActor).(Actor)
	return a, ok
}

func sessionOf(c *fiber.Ctx) (storage.WebSession, bool) {
	s, ok := c.Locals(localSession).(storage.WebSession)
	return s, ok
}

// authenticate resolves the caller from the admin socket, a bearer token or
// the session cookie. It never refuses by itself: requireLogin does.
func (s *Server) authenticate(local bool) fiber.Handler {
	return func(c *fiber.Ctx) error {
		if local {
			c.Locals(localActor, Actor{OrgID: s.deps.DefaultOrgID, Name: "local operator", Local: true})
			return c.Next()
		}
		if h := c.Get(fiber.HeaderAuthorization); h != "" {
			a, err := s.tokenActor(c, h)
			if err != nil {
				return err
			}
			c.Locals(localActor, a)
			return c.Next()
		}
		if v := c.Cookies(SessionCookie); v != "" {
			if a, sess, ok := s.sessionActor(c, v); ok {
				c.Locals(localActor, a)
				c.Locals(localSession, sess)
			}
		}
		return c.Next()
	}
}

func (s *Server) tokenActor(c *fiber.Ctx, header string) (Actor, error) {
	secret, ok := strings.CutPrefix(header, "Bearer ")
	if !ok || !strings.HasPrefix(secret, TokenPrefix) {
		return Actor{}, fmt.Errorf("authorization header must be \"Bearer %s...\": %w", TokenPrefix, storage.ErrUnauthenticated)
	}
	sum := sha256.Sum256([]byte(secret))
	tok, err := s.deps.Sessions.TokenByHash(c.UserContext(), sum[:])
	if err != nil {
		if errors.Is(err, storage.ErrNotFound) {
			return Actor{}, fmt.Errorf("unknown or revoked API token: %w", storage.ErrUnauthenticated)
		}
		return Actor{}, err
	}
	if end, ok := TokenExpiry(tok, s.cfg.TokenMaxTTL); ok && !s.now().Before(end) {
		return Actor{}, fmt.Errorf("API token %q expired at %s: %w", tok.Name, end.UTC().Format(time.RFC3339), storage.ErrUnauthenticated)
	}
	u, err := s.activeUser(c, tok.OrgID, tok.UserID)
	if err != nil {
		return Actor{}, err
	}
	if err := checkScope(c, tok); err != nil {
		return Actor{}, err
	}
	return Actor{UserID: u.ID, OrgID: u.OrgID, Name: u.Name, Email: u.Email, Token: &tok}, nil
}

func (s *Server) sessionActor(c *fiber.Ctx, cookie string) (Actor, storage.WebSession, bool) {
	id := hashSecret(cookie)
	sess, err := s.deps.Sessions.WebSession(c.UserContext(), id)
	if err != nil {
		return Actor{}, sess, false
	}
	now := s.now()
	if !now.Before(sess.ExpiresAt) || now.Sub(sess.SeenAt) >= s.cfg.IdleTTL {
		_ = s.deps.Sessions.DeleteWebSession(c.UserContext(), id)
		return Actor{}, sess, false
	}
	var a Actor
	if strings.HasPrefix(sess.UserID, GuestIDPrefix) && s.deps.Invites != nil {
		if a, err = s.deps.Invites.GuestActor(c.UserContext(), sess.UserID); err != nil {
			return Actor{}, sess, false
		}
	} else {
		u, err := s.activeUser(c, sess.OrgID, sess.UserID)
		if err != nil {
			return Actor{}, sess, false
		}
		a = Actor{UserID: u.ID, OrgID: u.OrgID, Name: u.Name, Email: u.Email}
	}
	// Record activity at most once a minute: every request is not a write.
	if now.Sub(sess.SeenAt) > time.Minute {
		if err := s.deps.Sessions.TouchWebSession(c.UserContext(), id, now, sess.ExpiresAt); err != nil {
			s.log.Warn("touch web session", "err", err)
		}
	}
	return a, sess, true
}

// activeUser reads the user a session or token was issued to, in the
// organisation it was issued in.
func (s *Server) activeUser(c *fiber.Ctx, orgID, id string) (storage.User, error) {
	u, err := s.deps.Org.User(c.UserContext(), orgID, id)
	if err != nil {
		if errors.Is(err, storage.ErrNotFound) {
			return u, fmt.Errorf("user no longer exists: %w", storage.ErrUnauthenticated)
		}
		return u, err
	}
	if !u.Active {
		return u, fmt.Errorf("user %s is deactivated: %w", u.Email, storage.ErrUnauthenticated)
	}
	return u, nil
}

// requireLogin refuses anonymous callers: 401 on the API, a redirect to the
// login page in the UI.
func (s *Server) requireLogin(r route) fiber.Handler {
	return func(c *fiber.Ctx) error {
		if _, ok := actorOf(c); ok {
			return c.Next()
		}
		if r.page && c.Method() == fiber.MethodGet {
			return c.Redirect("/login?next="+url.QueryEscape(c.OriginalURL()), fiber.StatusSeeOther)
		}
		return fmt.Errorf("log in or send an API token: %w", storage.ErrUnauthenticated)
	}
}

// checkCSRF protects cookie-authenticated state changes: the request must
// carry the session's CSRF token and, when the browser sends one, an Origin
// of this very host. Token and socket callers carry no ambient credentials
// and need neither.
func (s *Server) checkCSRF(c *fiber.Ctx) error {
	switch c.Method() {
	case fiber.MethodGet, fiber.MethodHead, fiber.MethodOptions:
		return c.Next()
	}
	sess, ok := sessionOf(c)
	if !ok {
		return c.Next()
	}
	if err := s.sameOrigin(c); err != nil {
		return err
	}
	got := c.Get(CSRFHeader)
	if got == "" && !c.Request().IsBodyStream() {
		// Forms send it as a field; an upload's body, read only by its
		// handler, must send the header.
		got = c.FormValue("_csrf")
	}
	if subtle.ConstantTimeCompare([]byte(got), []byte(sess.CSRFToken)) != 1 {
		return &Error{Status: fiber.StatusForbidden, Code: "csrf", Message: "missing or wrong CSRF token: reload the page and try again"}
	}
	return c.Next()
}

// need checks the route's permission; the local operator holds them all.
func (s *Server) need(perm string) fiber.Handler {
	return func(c *fiber.Ctx) error {
		a, _ := actorOf(c)
		if perm == "" && !a.isGuest() {
			return c.Next()
		}
		if a.Local {
			return c.Next()
		}
		if a.isGuest() {
			if err := guestAllowed(c, a, perm); err != nil {
				return err
			}
			return c.Next()
		}
		if err := s.deps.Authz.Check(a.OrgID, a.UserID, perm); err != nil {
			return err
		}
		return c.Next()
	}
}

// can reports whether the actor holds a permission (for showing or hiding
// parts of a page; routes still check with need).
func (s *Server) can(a Actor, perm string) bool {
	if a.isGuest() {
		return slices.Contains(a.Grants, perm)
	}
	return a.Local || s.deps.Authz.Check(a.OrgID, a.UserID, perm) == nil
}

// startSession logs a user in: a fresh session id (never one the browser
// brought along), stored hashed, in a Secure HttpOnly SameSite cookie.
func (s *Server) startSession(c *fiber.Ctx, u storage.User) (storage.WebSession, error) {
	if old := c.Cookies(SessionCookie); old != "" {
		_ = s.deps.Sessions.DeleteWebSession(c.UserContext(), hashSecret(old))
	}
	secret := randomToken()
	now := s.now()
	sess := storage.WebSession{
		ID:        hashSecret(secret),
		UserID:    u.ID,
		OrgID:     u.OrgID,
		CSRFToken: randomToken(),
		CreatedAt: now,
		SeenAt:    now,
		ExpiresAt: now.Add(s.cfg.SessionTTL),
		UserAgent: truncate(c.Get(fiber.HeaderUserAgent), 256),
		Address:   s.clientIP(c),
	}
	if err := s.deps.Sessions.CreateWebSession(c.UserContext(), sess); err != nil {
		return sess, fmt.Errorf("create session: %w", err)
	}
	c.Cookie(&fiber.Cookie{
		Name:     SessionCookie,
		Value:    secret,
		Path:     "/",
		Expires:  sess.ExpiresAt,
		Secure:   true,
		HTTPOnly: true,
		SameSite: fiber.CookieSameSiteLaxMode,
	})
	return sess, nil
}

// endSession deletes the session on the server and clears the cookie.
func (s *Server) endSession(c *fiber.Ctx) error {
	if v := c.Cookies(SessionCookie); v != "" {
		if err := s.deps.Sessions.DeleteWebSession(c.UserContext(), hashSecret(v)); err != nil && !errors.Is(err, storage.ErrNotFound) {
			return fmt.Errorf("end session: %w", err)
		}
	}
	c.Cookie(&fiber.Cookie{
		Name: SessionCookie, Value: "", Path: "/", Expires: time.Unix(1, 0),
		Secure: true, HTTPOnly: true, SameSite: fiber.CookieSameSiteLaxMode,
	})
	return nil
}

// login checks where the request comes from, reserves the attempt with
// the limiter, then checks the password. Failed attempts count against both
// the account and the address.
func (s *Server) login(c *fiber.Ctx, email, password string) (storage.User, error) {
	if err := s.sameSite(c); err != nil {
		return storage.User{}, err
	}
	email = strings.ToLower(strings.TrimSpace(email))
	addr := s.clientIP(c)
	if err := s.limits.begin(email, addr); err != nil {
		s.log.Debug("login refused", "email", email, "address", addr, "err", err)
		return storage.User{}, err
	}
	u, err := s.deps.Accounts.Authenticate(c.UserContext(), email, password)
	failed := errors.Is(err, storage.ErrUnauthenticated)
	s.limits.end(email, addr, failed)
	if failed {
		s.log.Info("login failed", "email", email, "address", addr)
		return u, fmt.Errorf("wrong e-mail or password: %w", storage.ErrUnauthenticated)
	}
	return u, err
}

func randomToken() string {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand never fails on supported platforms
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

func hashSecret(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}
