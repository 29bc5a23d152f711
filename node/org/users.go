package org

import (
	"context"
	"fmt"
	"net/mail"
	"slices"
	"strings"

	"siteline/node/internal/check"
	"siteline/node/internal/ids"
	"siteline/policy"
	"siteline/storage"
	"siteline/web"
)

func (s *Service) CreateUser(ctx context.Context, a web.Actor, in web.UserInput) (storage.User, error) {
	email, err := normEmail("email", in.Email)
	if err != nil {
		return storage.User{}, err
	}
	name := strings.TrimSpace(in.Name)
	if name == "" {
		name = email[:strings.IndexByte(email, '@')]
	}
	if err := checkName("name", name); err != nil {
		return storage.User{}, err
	}
	if err := CheckPasswordStrength("password", in.Password); err != nil {
		return storage.User{}, err
	}
	if _, err := s.d.Store.UserByEmail(ctx, a.OrgID, email); err == nil {
		return storage.User{}, fmt.Errorf("a user with e-mail %s already exists: %w", email, storage.ErrConflict)
	}
	roles := in.Roles
	if roles == nil {
		roles = []string{policy.RoleRegular}
	}
	if err := s.checkRoles(ctx, a.OrgID, roles); err != nil {
		return storage.User{}, err
	}
	if err := checkAccountRoles(roles); err != nil {
		return storage.User{}, err
	}
	if err := s.mayGrantRoles(a, roles); err != nil {
		return storage.User{}, err
	}
	hash, err := s.d.Hasher.Hash(in.Password)
	if err != nil {
		return storage.User{}, err
	}
	now := s.d.Now().UTC()
	u := storage.User{ID: ids.New(), OrgID: a.OrgID, Email: email, Name: name, Kind: storage.UserRegular, Active: true, CreatedAt: now, UpdatedAt: now}
	changes := []storage.Change{{Op: storage.OpPutUser, User: &u, PasswordHash: hash}}
	if rules := assignments(a.OrgID, u.ID, roles); len(rules) > 0 {
		changes = append(changes, storage.Change{Op: storage.OpAddPolicy, Rules: rules})
	}
	e := entry{"user.create", u.ID, map[string]any{"email": email, "name": name, "roles": roles}}
	if err := s.commit(ctx, a, e, changes...); err != nil {
		return storage.User{}, err
	}
	u.PasswordHash = hash
	return u, nil
}

func (s *Service) UpdateUser(ctx context.Context, a web.Actor, id string, p web.UserPatch) (storage.User, error) {
	old, err := inOrg(ctx, a, "user", id, s.d.Store.User)
	if err != nil {
		return old, err
	}
	if err := s.mayUpdate(a, old, p); err != nil {
		return old, err
	}
	if err := s.guardBreakGlass(ctx, a, old.ID); err != nil {
		return old, err
	}
	u := old
	var changes []storage.Change
	hash := u.PasswordHash
	if p.Email != nil {
		if u.Email, err = normEmail("email", *p.Email); err != nil {
			return old, err
		}
		if other, err := s.d.Store.UserByEmail(ctx, a.OrgID, u.Email); err == nil && other.ID != u.ID {
			return old, fmt.Errorf("a user with e-mail %s already exists: %w", u.Email, storage.ErrConflict)
		}
	}
	if p.Name != nil {
		u.Name = strings.TrimSpace(*p.Name)
		if err := checkName("name", u.Name); err != nil {
			return old, err
		}
	}
	if p.Active != nil {
		if !*p.Active && a.UserID == u.ID {
			return old, validation("active", "cannot be switched off for yourself: ask another administrator")
		}
		u.Active = *p.Active
	}
	if p.Password != nil {
		if err := CheckPasswordStrength("password", *p.Password); err != nil {
			return old, err
		}
		if hash, err = s.d.Hasher.Hash(*p.Password); err != nil {
			return old, err
		}
	}
	oldRoles := s.d.Enforcer.Roles(a.OrgID, u.ID)
	newRoles := oldRoles
	if p.Roles != nil {
		newRoles = *p.Roles
		if err := s.checkRoles(ctx, a.OrgID, newRoles); err != nil {
			return old, err
		}
		if err := checkAccountRoles(minus(newRoles, oldRoles)); err != nil {
			return old, err
		}
		if rm := assignments(a.OrgID, u.ID, minus(oldRoles, newRoles)); len(rm) > 0 {
			changes = append(changes, storage.Change{Op: storage.OpRemovePolicy, Rules: rm})
		}
		if add := assignments(a.OrgID, u.ID, minus(newRoles, oldRoles)); len(add) > 0 {
			changes = append(changes, storage.Change{Op: storage.OpAddPolicy, Rules: add})
		}
	}
	deactivated := old.Active && !u.Active
	if len(changes) > 0 || deactivated {
		if err := s.checkLockout(ctx, a.OrgID, changes, u); err != nil {
			return old, err
		}
	}
	u.UpdatedAt = s.d.Now().UTC()
	changes = append([]storage.Change{{Op: storage.OpPutUser, User: &u, PasswordHash: hash, Existing: true}}, changes...)
	if p.Password != nil || deactivated {
		// A reset password or a deactivation ends the user's API tokens.
		changes = append(changes, storage.Change{Op: storage.OpDelUserTokens, ID: u.ID})
	}
	detail := userChanges(old, u, p)
	if p.Roles != nil {
		detail["roles"] = [2][]string{oldRoles, newRoles}
	}
	if err := s.commit(ctx, a, entry{"user.update", u.ID, detail}, changes...); err != nil {
		return old, err
	}
	if !u.Active || p.Password != nil {
		// A deactivated user, or one whose password was reset, is logged
		// out everywhere on this node.
		if err := s.d.Store.DeleteUserWebSessions(ctx, u.ID); err != nil {
			return u, err
		}
	}
	if p.Password != nil {
		if err := s.d.FirstPassword.replaced(ctx, u.ID); err != nil {
			return u, err
		}
	}
	u.PasswordHash = hash
	return u, nil
}

// userChanges is the audit detail of an update of old to u, roles aside.
func userChanges(old, u storage.User, p web.UserPatch) map[string]any {
	detail := map[string]any{}
	if p.Email != nil && old.Email != u.Email {
		detail["email"] = [2]string{old.Email, u.Email}
	}
	if p.Name != nil && old.Name != u.Name {
		detail["name"] = [2]string{old.Name, u.Name}
	}
	if old.Active != u.Active {
		detail["active"] = [2]bool{old.Active, u.Active}
	}
	if p.Password != nil {
		detail["password"] = "reset"
	}
	if p.Password != nil || old.Active && !u.Active {
		detail["api_tokens"] = "revoked"
	}
	return detail
}

// checkRoles refuses roles the organisation does not define.
func (s *Service) checkRoles(ctx context.Context, orgID string, roles []string) error {
	defined, err := s.d.Store.Roles(ctx, orgID)
	if err != nil {
		return err
	}
	for _, r := range roles {
		if !hasRole(defined, r) {
			return validation("roles", fmt.Sprintf("%q is not a role of this organisation", r))
		}
	}
	return nil
}

// checkAccountRoles refuses to give a registered account a guest role:
// guests get those by the kind of device they join with.
func checkAccountRoles(roles []string) error {
	for _, r := range roles {
		if policy.IsGuestRole(r) {
			return validation("roles", fmt.Sprintf("%s is a guest's role: guests get it when they join from a link, a registered account cannot hold it", r))
		}
	}
	return nil
}

// checkLockout refuses a change to a user after which nobody active could
// administer the organisation's policies.
func (s *Service) checkLockout(ctx context.Context, orgID string, changes []storage.Change, u storage.User) error {
	rules, err := s.d.Store.Policy(ctx, orgID)
	if err != nil {
		return err
	}
	for _, ch := range changes {
		switch ch.Op {
		case storage.OpAddPolicy:
			rules = append(rules, ch.Rules...)
		case storage.OpRemovePolicy:
			rules = withoutRules(rules, ch.Rules...)
		}
	}
	users, err := s.d.Store.Users(ctx, orgID)
	if err != nil {
		return err
	}
	var active []string
	for _, x := range users {
		if x.ID == u.ID {
			x = u
		}
		if x.Active {
			active = append(active, x.ID)
		}
	}
	return policy.CheckLockout(orgID, rules, active)
}

func sameRule(a, b storage.PolicyRule) bool {
	return a.OrgID == b.OrgID && a.PType == b.PType && slices.Equal(a.V, b.V)
}

func assignments(orgID, userID string, roles []string) []storage.PolicyRule {
	var out []storage.PolicyRule
	for _, r := range roles {
		out = append(out, policy.Assign(orgID, userID, r))
	}
	return out
}

// minus returns the elements of a not in b.
func minus(a, b []string) []string {
	var out []string
	for _, x := range a {
		if !slices.Contains(b, x) {
			out = append(out, x)
		}
	}
	return out
}

func normEmail(field, s string) (string, error) {
	s = strings.ToLower(strings.TrimSpace(s))
	addr, err := mail.ParseAddress(s)
	if err != nil || addr.Address != s || len(s) > 254 {
		return "", validation(field, fmt.Sprintf("%q is not an e-mail address", s))
	}
	return s, nil
}

func checkName(field, s string) error {
	switch {
	case s == "":
		return validation(field, "is required")
	case len(s) > 200:
		return validation(field, "must be at most 200 bytes")
	}
	return check.NameChars(field, s)
}
