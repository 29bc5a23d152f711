package web

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/contrib/websocket"
	"github.com/gofiber/fiber/v2"

	"siteline/policy"
	"siteline/storage"
)

// Tokens creates and revokes API tokens.
type Tokens interface {
	// CreateToken returns the token record and its secret, shown once.
	// A token made with a token has at most its scope and expiry.
	CreateToken(ctx context.Context, a Actor, in TokenInput) (storage.APIToken, string, error)
	// DeleteToken revokes one of the actor's own tokens.
	DeleteToken(ctx context.Context, a Actor, id string) error
	// RevokeOrgToken revokes any token of the actor's organisation.
	RevokeOrgToken(ctx context.Context, a Actor, id string) error
}

// TokenInput creates an API token.
type TokenInput struct {
	Name string
	// TTL is the token's lifetime; 0 means the node's default.
	TTL   time.Duration
	Scope storage.TokenScope
}

func (s *Server) tokenRoutes() []route {
	p := APIPrefix
	return []route{
		{method: "GET", path: p + "/tokens", perm: policy.AdminAPITokens, summary: "The caller's API tokens", out: []storage.APIToken{}, handler: s.apiTokens},
		{method: "POST", path: p + "/tokens", perm: policy.AdminAPITokens, summary: "Create an API token (scope read or full); its secret is shown once", in: tokenIn{}, out: tokenOut{}, handler: s.apiCreateToken},
		{method: "DELETE", path: p + "/tokens/:id", perm: policy.AdminAPITokens, summary: "Revoke one of the caller's API tokens", handler: s.apiDeleteToken},
		{method: "GET", path: p + "/org/tokens", perm: policy.AdminOrgTokens, summary: "Every API token of the organisation's users", out: []orgTokenOut{}, handler: s.apiOrgTokens},
		{method: "DELETE", path: p + "/org/tokens/:id", perm: policy.AdminOrgTokens, summary: "Revoke any API token of the organisation", handler: s.apiRevokeOrgToken},
	}
}

type tokenIn struct {
	Name string `json:"name"`
	// TTL is how long the token is valid, such as "720h" or "30d"; empty
	// means the node's default (tokens.default_ttl).
	TTL string `json:"ttl"`
	// Scope is "read" (GET and HEAD only) or "full" (the default).
	Scope string `json:"scope"`
}

type tokenOut struct {
	Token  storage.APIToken `json:"token"`
	Secret string           `json:"secret"`
}

// orgTokenOut is a token with whose it is.
type orgTokenOut struct {
	storage.APIToken
	UserEmail string `json:"user_email"`
	UserName  string `json:"user_name"`
}

// parseTTL reads a token lifetime: a Go duration ("720h") or a number of
// days ("30d"); empty means the node's default.
func parseTTL(s string) (time.Duration, error) {
	if s == "" {
		return 0, nil
	}
	if days, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.Atoi(days)
		if err == nil && n > 0 {
			return time.Duration(n) * 24 * time.Hour, nil
		}
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		return 0, &storage.ValidationError{Field: "ttl", Problem: fmt.Sprintf("%q is not a positive duration such as 720h or 30d", s)}
	}
	return d, nil
}

// parseScope reads a token scope; empty means full.
func parseScope(s string) (storage.TokenScope, error) {
	switch sc := storage.TokenScope(s); sc {
	case "":
		return storage.ScopeFull, nil
	case storage.ScopeRead, storage.ScopeFull:
		return sc, nil
	}
	return "", &storage.ValidationError{Field: "scope", Problem: fmt.Sprintf("%q is not one of read, full", s)}
}

// tokenInput reads the token form of the API and the account page.
func tokenInput(name, ttl, scope string) (TokenInput, error) {
	d, err := parseTTL(ttl)
	if err != nil {
		return TokenInput{}, err
	}
	sc, err := parseScope(scope)
	if err != nil {
		return TokenInput{}, err
	}
	return TokenInput{Name: name, TTL: d, Scope: sc}, nil
}

// checkScope refuses what a token's scope does not allow. A read token
// sends GET and HEAD requests only, and opens no WebSocket: a signaling
// socket acts in a call.
func checkScope(c *fiber.Ctx, tok storage.APIToken) error {
	if tok.Scope != storage.ScopeRead {
		return nil
	}
	switch m := c.Method(); {
	case m != fiber.MethodGet && m != fiber.MethodHead, websocket.IsWebSocketUpgrade(c):
		return &Error{Status: fiber.StatusForbidden, Code: "token_scope",
			Message: fmt.Sprintf("API token %q is read-only: it may send GET and HEAD requests only", tok.Name)}
	}
	return nil
}

// TokenExpiry is when a token ends: its expiry, and at the latest maxTTL
// (when set) after its creation, for tokens stored without expiry. ok is
// false for a token that never ends.
func TokenExpiry(tok storage.APIToken, maxTTL time.Duration) (end time.Time, ok bool) {
	if maxTTL > 0 {
		end, ok = tok.CreatedAt.Add(maxTTL), true
	}
	if tok.ExpiresAt != nil && (!ok || tok.ExpiresAt.Before(end)) {
		end, ok = *tok.ExpiresAt, true
	}
	return end, ok
}

func (s *Server) apiTokens(c *fiber.Ctx) error {
	a, _ := actorOf(c)
	ts, err := s.deps.Org.Tokens(c.UserContext(), a.OrgID, a.UserID)
	if err != nil {
		return err
	}
	return c.JSON(nonNil(ts))
}

func (s *Server) apiCreateToken(c *fiber.Ctx) error {
	var in tokenIn
	if err := decodeJSON(c, &in); err != nil {
		return err
	}
	ti, err := tokenInput(in.Name, in.TTL, in.Scope)
	if err != nil {
		return err
	}
	a, _ := actorOf(c)
	tok, secret, err := s.deps.Tokens.CreateToken(c.UserContext(), a, ti)
	if err != nil {
		return err
	}
	return c.Status(fiber.StatusCreated).JSON(tokenOut{Token: tok, Secret: secret})
}

func (s *Server) apiDeleteToken(c *fiber.Ctx) error {
	a, _ := actorOf(c)
	if err := s.deps.Tokens.DeleteToken(c.UserContext(), a, c.Params("id")); err != nil {
		return err
	}
	return c.SendStatus(fiber.StatusNoContent)
}

// orgTokens lists the organisation's tokens with their users.
func (s *Server) orgTokens(c *fiber.Ctx, orgID string) ([]orgTokenOut, error) {
	ts, err := s.deps.Org.OrgTokens(c.UserContext(), orgID)
	if err != nil {
		return nil, err
	}
	users, err := s.deps.Org.Users(c.UserContext(), orgID)
	if err != nil {
		return nil, err
	}
	byID := make(map[string]storage.User, len(users))
	for _, u := range users {
		byID[u.ID] = u
	}
	out := make([]orgTokenOut, 0, len(ts))
	for _, t := range ts {
		u := byID[t.UserID]
		out = append(out, orgTokenOut{APIToken: t, UserEmail: u.Email, UserName: u.Name})
	}
	return out, nil
}

func (s *Server) apiOrgTokens(c *fiber.Ctx) error {
	a, _ := actorOf(c)
	out, err := s.orgTokens(c, a.OrgID)
	if err != nil {
		return err
	}
	return c.JSON(out)
}

func (s *Server) apiRevokeOrgToken(c *fiber.Ctx) error {
	a, _ := actorOf(c)
	if err := s.deps.Tokens.RevokeOrgToken(c.UserContext(), a, param(c, "id")); err != nil {
		return err
	}
	return c.SendStatus(fiber.StatusNoContent)
}
