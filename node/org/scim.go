package org

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"fmt"

	"siteline/node/internal/ids"
	"siteline/policy"
	"siteline/storage"
	"siteline/web"
)

// SCIM (RFC 7643/7644) lets the organisation's identity provider create,
// update, deactivate and delete members, and keep their teams, with a
// bearer token of the organisation. Its changes are made as the "scim"
// service, which holds every permission but may not touch the break-glass
// administrator.

// SCIMActor is who SCIM's changes in orgID are made by.
func SCIMActor(orgID string) web.Actor {
	return web.Actor{Local: true, Service: "scim", OrgID: orgID, Name: "SCIM"}
}

// SCIMTokenPrefix starts every SCIM token.
const SCIMTokenPrefix = "scim_"

// NewSCIMToken makes the organisation's SCIM token, replacing the one
// before; the secret is returned once and only its hash is stored.
func (s *Service) NewSCIMToken(ctx context.Context, a web.Actor) (string, error) {
	st, err := s.SSOSettings(ctx, a)
	if err != nil {
		return "", err
	}
	secret := SCIMTokenPrefix + GeneratePassword()
	sum := sha256.Sum256([]byte(secret))
	st.SCIMTokenHash = sum[:]
	st.OrgID = a.OrgID
	st.UpdatedAt = s.d.Now().UTC()
	if err := s.commit(ctx, a, entry{"sso.scim_token", a.OrgID, nil},
		storage.Change{Op: storage.OpPutSSOSettings, SSOSettings: &st}); err != nil {
		return "", err
	}
	return secret, nil
}

// CheckSCIMToken returns storage.ErrUnauthenticated unless secret is the
// organisation's SCIM token.
func (s *Service) CheckSCIMToken(ctx context.Context, orgID, secret string) error {
	st, err := s.SSOSettings(ctx, web.Actor{OrgID: orgID})
	if err != nil {
		return err
	}
	sum := sha256.Sum256([]byte(secret))
	if len(st.SCIMTokenHash) == 0 || subtle.ConstantTimeCompare(sum[:], st.SCIMTokenHash) != 1 {
		return fmt.Errorf("unknown SCIM token for this organisation: %w", storage.ErrUnauthenticated)
	}
	return nil
}

// CreateProvisionedUser creates a user without a password, with the
// regular role: they log in through single sign-on.
func (s *Service) CreateProvisionedUser(ctx context.Context, a web.Actor, email, name string, active bool) (storage.User, error) {
	email, err := normEmail("userName", email)
	if err != nil {
		return storage.User{}, err
	}
	if name == "" {
		name = email
	}
	if err := checkName("name", name); err != nil {
		return storage.User{}, err
	}
	if _, err := s.d.Store.UserByEmail(ctx, a.OrgID, email); err == nil {
		return storage.User{}, fmt.Errorf("a user with e-mail %s already exists: %w", email, storage.ErrConflict)
	}
	now := s.d.Now().UTC()
	u := storage.User{ID: ids.New(), OrgID: a.OrgID, Email: email, Name: name, Kind: storage.UserRegular, Active: active, CreatedAt: now, UpdatedAt: now}
	changes := []storage.Change{{Op: storage.OpPutUser, User: &u},
		{Op: storage.OpAddPolicy, Rules: assignments(a.OrgID, u.ID, []string{policy.RoleRegular})}}
	if err := s.commit(ctx, a, entry{"user.create", u.ID, map[string]any{"email": email, "name": name, "active": active}}, changes...); err != nil {
		return storage.User{}, err
	}
	return u, nil
}

// DeleteUser deletes a user of the actor's organisation; their sessions
// end at every node.
func (s *Service) DeleteUser(ctx context.Context, a web.Actor, id string) error {
	u, err := inOrg(ctx, a, "user", id, s.d.Store.User)
	if err != nil {
		return err
	}
	if err := s.mayManage(a, u); err != nil {
		return err
	}
	if err := s.guardBreakGlass(ctx, a, u.ID); err != nil {
		return err
	}
	rules := assignments(a.OrgID, u.ID, s.d.Enforcer.Roles(a.OrgID, u.ID))
	gone := u
	gone.Active = false
	var changes []storage.Change
	if len(rules) > 0 {
		changes = append(changes, storage.Change{Op: storage.OpRemovePolicy, Rules: rules})
	}
	if err := s.checkLockout(ctx, a.OrgID, changes, gone); err != nil {
		return err
	}
	// Deactivated first: applying that ends the user's sessions at every
	// node; the delete then takes the record.
	changes = append([]storage.Change{{Op: storage.OpPutUser, User: &gone, PasswordHash: u.PasswordHash, Existing: true}}, changes...)
	changes = append(changes, storage.Change{Op: storage.OpDeleteUser, ID: u.ID})
	if err := s.commit(ctx, a, entry{"user.delete", u.ID, map[string]any{"email": u.Email}}, changes...); err != nil {
		return err
	}
	return s.d.Store.DeleteUserWebSessions(ctx, u.ID)
}

// guardBreakGlass refuses SCIM a change to the break-glass administrator,
// the way in when the identity provider fails.
func (s *Service) guardBreakGlass(ctx context.Context, a web.Actor, userID string) error {
	if a.Service != "scim" {
		return nil
	}
	st, err := s.SSOSettings(ctx, a)
	if err != nil {
		return err
	}
	if st.BreakGlassUserID == userID {
		return fmt.Errorf("user %s is the break-glass administrator, which SCIM may not change: %w", userID, &storage.ForbiddenError{Permission: policy.AdminSSO})
	}
	return nil
}
