package org

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"siteline/storage"
	"siteline/web"
)

// Authenticate checks a login. An unknown e-mail and a user without a
// password cost a hash all the same, so timing tells nothing.
func (s *Service) Authenticate(ctx context.Context, email, password string) (storage.User, error) {
	h := s.d.Hasher
	release, err := h.wait(ctx)
	if err != nil {
		return storage.User{}, err
	}
	defer release()
	u, err := s.d.Store.UserByLogin(ctx, strings.ToLower(strings.TrimSpace(email)))
	if errors.Is(err, storage.ErrNotFound) {
		_, _ = Verify(h.dummyHash(), password)
		return u, storage.ErrUnauthenticated
	}
	if err != nil {
		return u, err
	}
	if u.PasswordHash == "" {
		_, _ = Verify(h.dummyHash(), password)
		return u, storage.ErrUnauthenticated
	}
	ok, err := Verify(u.PasswordHash, password)
	if err != nil {
		return u, fmt.Errorf("verify password of %s: %w", u.Email, err)
	}
	if !ok || !u.Active || u.Kind != storage.UserRegular {
		return u, storage.ErrUnauthenticated
	}
	if s.ssoRequired(ctx, u) {
		return u, web.ErrSSORequired
	}
	s.d.FirstPassword.loggedIn(ctx, u.ID)
	s.loggedIn(ctx, u.ID)
	return u, nil
}

// loggedIn records a login at this node (Deps.Logins). The login stands
// without its record: the members list then shows the previous one.
func (s *Service) loggedIn(ctx context.Context, userID string) {
	if s.d.Logins == nil {
		return
	}
	if err := s.d.Logins.RecordLogin(ctx, userID, s.d.Now().UTC()); err != nil {
		s.d.Log.Warn("last login not recorded", "user", userID, "err", err)
	}
}

// PasswordChangeRequired reports whether the user still has the password
// generated at installation.
func (s *Service) PasswordChangeRequired(ctx context.Context, userID string) bool {
	return s.d.FirstPassword.Required(ctx, userID)
}

func (s *Service) ChangePassword(ctx context.Context, a web.Actor, current, next string) error {
	if a.Local {
		return validation("user", "the local operator has no password: use `siteline user passwd`")
	}
	u, err := s.d.Store.User(ctx, a.UserID)
	if err != nil {
		return err
	}
	if ok, err := Verify(u.PasswordHash, current); err != nil || !ok {
		return validation("current", "is not your current password")
	}
	if next == current {
		return validation("new", "must differ from the current password")
	}
	if err := CheckPasswordStrength("new", next); err != nil {
		return err
	}
	hash, err := s.d.Hasher.Hash(next)
	if err != nil {
		return err
	}
	u.UpdatedAt = s.d.Now().UTC()
	// The API tokens made under the old password end with it.
	if err := s.commit(ctx, a, entry{"user.password", u.ID, map[string]string{"api_tokens": "revoked"}},
		storage.Change{Op: storage.OpPutUser, User: &u, PasswordHash: hash, Existing: true},
		storage.Change{Op: storage.OpDelUserTokens, ID: u.ID}); err != nil {
		return err
	}
	// Whoever knew the old password is logged out: every session of the
	// user ends here, and the web layer renews the one that asked.
	if err := s.d.Store.DeleteUserWebSessions(ctx, u.ID); err != nil {
		return err
	}
	return s.d.FirstPassword.replaced(ctx, u.ID)
}
