package web

import (
	"fmt"

	"github.com/gofiber/fiber/v2"

	"siteline/policy"
	"siteline/storage"
)

// accountOrgTokens adds every user's API tokens to the account page of a
// holder of admin_organisation_api-tokens.
func (s *Server) accountOrgTokens(c *fiber.Ctx, a Actor, d *accountData) error {
	if d.CanOrgTokens = s.can(a, policy.AdminOrgTokens); !d.CanOrgTokens {
		return nil
	}
	var err error
	d.OrgTokens, err = s.orgTokens(c, a.OrgID)
	return err
}

func (s *Server) uiRevokeOrgToken(c *fiber.Ctx) error {
	a, _ := actorOf(c)
	id := param(c, "id")
	toks, err := s.deps.Org.OrgTokens(c.UserContext(), a.OrgID)
	if err != nil {
		return err
	}
	for _, t := range toks {
		if t.ID == id {
			if err := s.deps.Tokens.RevokeOrgToken(c.UserContext(), a, id); err != nil {
				return failed(c, &formState{Name: "org-token"}, err, s.showAccount)
			}
			return done(c, "/account#org-tokens", fmt.Sprintf("Revoked token %s.", t.Name))
		}
	}
	return fmt.Errorf("API token %s: %w", id, storage.ErrNotFound)
}
