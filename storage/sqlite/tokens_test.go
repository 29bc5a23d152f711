package sqlite

import (
	"context"
	"errors"
	"testing"

	"siteline/storage"
)

func TestTokenScopesAndRevocationOfAUser(t *testing.T) {
	s, _ := openTestStore(t)
	ctx := context.Background()
	mustApply(t, s, 1, seed())
	mustApply(t, s, 2, cmd(
		storage.Change{Op: storage.OpPutToken, Token: &storage.APIToken{ID: "k7", OrgID: "o1", UserID: "u1", Name: "reader",
			Scope: storage.ScopeRead, CreatedAt: t0}, TokenHash: hashOf("secret-7")},
	))
	tok, err := s.TokenByHash(ctx, hashOf("secret-7"))
	if err != nil || tok.Scope != storage.ScopeRead {
		t.Fatalf("read token = %+v, %v", tok, err)
	}
	// A token proposed without scope (an earlier release) is full.
	if tok, err := s.TokenByHash(ctx, hashOf("secret-1")); err != nil || tok.Scope != storage.ScopeFull {
		t.Errorf("token without scope = %+v, %v", tok, err)
	}
	err = s.Apply(ctx, 3, viaJSON(t, cmd(storage.Change{Op: storage.OpPutToken, Token: &storage.APIToken{ID: "k8", OrgID: "o1",
		UserID: "u1", Name: "odd", Scope: "admin", CreatedAt: t0}, TokenHash: hashOf("secret-8")})))
	if !errors.Is(err, storage.ErrInvalid) {
		t.Errorf("unknown scope = %v, want ErrInvalid", err)
	}

	all, err := s.OrgTokens(ctx, "o1")
	if err != nil || len(all) < 3 {
		t.Fatalf("org tokens = %d, %v", len(all), err)
	}
	mustApply(t, s, 4, cmd(storage.Change{Op: storage.OpDelUserTokens, ID: "u1"}))
	if mine, err := s.Tokens(ctx, "u1"); err != nil || len(mine) != 0 {
		t.Errorf("u1's tokens after revocation = %d, %v", len(mine), err)
	}
	if others, err := s.Tokens(ctx, "u2"); err != nil || len(others) == 0 {
		t.Errorf("u2's tokens after u1's revocation = %d, %v", len(others), err)
	}
}
