package web

import (
	"errors"
	"fmt"

	"github.com/gofiber/fiber/v2"

	"siteline/policy"
	"siteline/storage"
)

type accountData struct {
	Local     bool
	User      storage.User
	Roles     []string
	Teams     []teamRef
	CanTokens bool
	Tokens    []storage.APIToken
	NewToken  *newToken
	TTLs      []ttlOption
	// OrgTokens are every user's tokens, for holders of
	// admin_organisation_api-tokens (ui_tokens.go).
	CanOrgTokens bool
	OrgTokens    []orgTokenOut
}

type newToken struct{ Name, Secret string }

type ttlOption struct{ Value, Label string }

func (s *Server) uiAccount(c *fiber.Ctx) error { return s.showAccount(c, fiber.StatusOK, &formState{}) }

func (s *Server) showAccount(c *fiber.Ctx, status int, f *formState) error {
	return s.renderAccount(c, status, f, nil)
}

func (s *Server) renderAccount(c *fiber.Ctx, status int, f *formState, nt *newToken) error {
	a, _ := actorOf(c)
	d := accountData{Local: a.Local, NewToken: nt, TTLs: []ttlOption{
		{"30d", "30 days"}, {"90d", "90 days"}, {"365d", "1 year"},
	}}
	if !a.Local {
		var err error
		if d.User, err = s.deps.Org.User(c.UserContext(), a.OrgID, a.UserID); err != nil {
			return err
		}
		d.Roles = s.deps.Authz.Roles(a.OrgID, a.UserID)
		if d.Teams, err = s.teamRefs(c, a.UserID); err != nil {
			return err
		}
		d.CanTokens = s.can(a, policy.AdminAPITokens)
		if d.CanTokens {
			if d.Tokens, err = s.deps.Org.Tokens(c.UserContext(), a.OrgID, a.UserID); err != nil {
				return err
			}
		}
		if err := s.accountOrgTokens(c, a, &d); err != nil {
			return err
		}
	}
	v := s.view(c, "Your account", "account")
	v.Form = f
	v.Data = d
	return s.ui.render(c, status, "account", v)
}

func (s *Server) uiChangePassword(c *fiber.Ctx) error {
	a, _ := actorOf(c)
	f := &formState{Name: "password"}
	if a.Local {
		return failed(c, f, invalid("current", "cannot be changed for the local operator, who has no password"), s.showAccount)
	}
	next := secret(c, "new")
	if next != secret(c, "confirm") {
		return failed(c, f, invalid("confirm", "does not match the new password"), s.showAccount)
	}
	if err := s.deps.Accounts.ChangePassword(c.UserContext(), a, secret(c, "current"), next); err != nil {
		if errors.Is(err, storage.ErrUnauthenticated) {
			err = invalid("current", "is not your current password")
		}
		return failed(c, f, err, s.showAccount)
	}
	if err := s.renewSession(c); err != nil { // password_gate.go
		return err
	}
	return done(c, "/account", "Your password was changed; your other sessions are logged out.")
}

func (s *Server) uiCreateToken(c *fiber.Ctx) error {
	f := readForm(c, "token", "name", "ttl", "scope")
	in, err := tokenInput(f.V("name"), f.V("ttl"), f.V("scope"))
	if err != nil {
		return failed(c, f, err, s.showAccount)
	}
	a, _ := actorOf(c)
	tok, sec, err := s.deps.Tokens.CreateToken(c.UserContext(), a, in)
	if err != nil {
		return failed(c, f, err, s.showAccount)
	}
	// The secret is shown on this response only: no redirect, no cookie.
	return s.renderAccount(c, fiber.StatusCreated, &formState{}, &newToken{Name: tok.Name, Secret: sec})
}

func (s *Server) uiDeleteToken(c *fiber.Ctx) error {
	a, _ := actorOf(c)
	id := param(c, "id")
	toks, err := s.deps.Org.Tokens(c.UserContext(), a.OrgID, a.UserID)
	if err != nil {
		return err
	}
	for _, t := range toks {
		if t.ID == id {
			if err := s.deps.Tokens.DeleteToken(c.UserContext(), a, id); err != nil {
				return failed(c, &formState{Name: "token"}, err, s.showAccount)
			}
			return done(c, "/account#tokens", fmt.Sprintf("Revoked token %s.", t.Name))
		}
	}
	return fmt.Errorf("API token %s: %w", id, storage.ErrNotFound)
}
