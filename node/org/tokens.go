package org

import (
	"context"
	"crypto/sha256"
	"fmt"
	"slices"
	"strings"
	"time"

	"siteline/node/internal/ids"
	"siteline/storage"
	"siteline/web"
)

// CreateToken mints an API token for the actor. Its lifetime is the
// node's default when none is asked, and never more than tokens.max_ttl.
// A token minted with a token needs a full-scope one, and neither outlives
// it nor gets a wider scope.
func (s *Service) CreateToken(ctx context.Context, a web.Actor, in web.TokenInput) (storage.APIToken, string, error) {
	if a.Local {
		return storage.APIToken{}, "", validation("user", "the local operator has no account: log in as a user to create a token")
	}
	if p := a.Token; p != nil && p.Scope != storage.ScopeFull {
		return storage.APIToken{}, "", &web.Error{Status: 403, Code: "token_scope",
			Message: fmt.Sprintf("API token %q has scope %s: only a full-scope token may create tokens", p.Name, p.Scope)}
	}
	name := strings.TrimSpace(in.Name)
	if err := checkName("name", name); err != nil {
		return storage.APIToken{}, "", err
	}
	now := s.d.Now().UTC()
	maxTTL := s.d.TokenMaxTTL
	if in.TTL > maxTTL {
		return storage.APIToken{}, "", validation("ttl", fmt.Sprintf("must be at most %s (tokens.max_ttl)", days(maxTTL)))
	}
	exp := now.Add(in.TTL)
	if in.TTL == 0 {
		exp = now.Add(s.d.TokenDefaultTTL)
	}
	if p := a.Token; p != nil {
		end, _ := web.TokenExpiry(*p, maxTTL)
		switch {
		case in.TTL == 0 && exp.After(end):
			exp = end // the default, cut to the parent's lifetime
		case exp.After(end):
			return storage.APIToken{}, "", validation("ttl", fmt.Sprintf("must not outlive the token %q that creates it, which expires at %s", p.Name, end.UTC().Format(time.RFC3339)))
		}
	}
	scope := in.Scope
	if scope == "" {
		scope = storage.ScopeFull
	}
	secret := web.TokenPrefix + GeneratePassword() + GeneratePassword()
	sum := sha256.Sum256([]byte(secret))
	t := storage.APIToken{ID: ids.New(), OrgID: a.OrgID, UserID: a.UserID, Name: name, Scope: scope, CreatedAt: now, ExpiresAt: &exp}
	detail := map[string]any{"name": name, "scope": scope, "expires_at": t.ExpiresAt}
	if a.Token != nil {
		detail["created_with"] = a.Token.ID
	}
	if err := s.commit(ctx, a, entry{"token.create", t.ID, detail},
		storage.Change{Op: storage.OpPutToken, Token: &t, TokenHash: sum[:]}); err != nil {
		return t, "", err
	}
	t.Hash = sum[:]
	return t, secret, nil
}

// days writes a lifetime in whole days when it is one.
func days(d time.Duration) string {
	if d%(24*time.Hour) == 0 {
		return fmt.Sprintf("%dd", d/(24*time.Hour))
	}
	return d.String()
}

func (s *Service) DeleteToken(ctx context.Context, a web.Actor, id string) error {
	toks, err := s.d.Store.Tokens(ctx, a.UserID)
	if err != nil {
		return err
	}
	return s.dropToken(ctx, a, toks, id, "token.delete")
}

// RevokeOrgToken revokes any token of the actor's organisation (the route
// checks admin_organisation_api-tokens).
func (s *Service) RevokeOrgToken(ctx context.Context, a web.Actor, id string) error {
	toks, err := s.d.Store.OrgTokens(ctx, a.OrgID)
	if err != nil {
		return err
	}
	return s.dropToken(ctx, a, toks, id, "token.revoke")
}

// dropToken deletes token id, which must be among toks (those the actor may
// delete), and audits it as action.
func (s *Service) dropToken(ctx context.Context, a web.Actor, toks []storage.APIToken, id, action string) error {
	i := slices.IndexFunc(toks, func(t storage.APIToken) bool { return t.ID == id })
	if i < 0 {
		return notFound("API token", id)
	}
	return s.commit(ctx, a, entry{action, id, map[string]string{"name": toks[i].Name, "user": toks[i].UserID}},
		storage.Change{Op: storage.OpDelToken, ID: id})
}
