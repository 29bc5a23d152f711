package org

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"siteline/node/internal/ids"
	"siteline/node/sso"
	"siteline/storage"
	"siteline/web"
)

// SSOStore is what single sign-on reads besides Store.
type SSOStore interface {
	SSOSettings(ctx context.Context, orgID string) (storage.SSOSettings, error)
	// MemberInvitations: a first login accepts the person's pending
	// invitation.
	MemberInvitations(ctx context.Context, orgID string) ([]storage.MemberInvitation, error)
	UserTeams(ctx context.Context, userID string) ([]storage.TeamMembership, error)
	UserLabels(ctx context.Context, orgID string) (map[string][]string, error)
}

var _ sso.Provisioner = (*Service)(nil)

// SSOSettings returns the single sign-on settings of the actor's
// organisation.
func (s *Service) SSOSettings(ctx context.Context, a web.Actor) (storage.SSOSettings, error) {
	if s.d.SSO == nil {
		return storage.SSOSettings{OrgID: a.OrgID}, nil
	}
	return s.d.SSO.SSOSettings(ctx, a.OrgID)
}

// PutSSOSettings replaces the single sign-on settings of the actor's
// organisation. The mapping's roles, teams and labels must exist; a
// break-glass administrator must be an active user.
func (s *Service) PutSSOSettings(ctx context.Context, a web.Actor, st storage.SSOSettings) (storage.SSOSettings, error) {
	st.OrgID = a.OrgID
	st.UpdatedAt = s.d.Now().UTC()
	if err := st.Validate(); err != nil {
		return st, err
	}
	teams, err := s.d.Store.Teams(ctx, a.OrgID)
	if err != nil {
		return st, err
	}
	labels, err := s.d.Store.Labels(ctx, a.OrgID)
	if err != nil {
		return st, err
	}
	if err := s.checkRoles(ctx, a.OrgID, st.DefaultRoles); err != nil {
		return st, validation("default_roles", problemOf(err))
	}
	for i, m := range st.Mapping {
		if err := s.checkRoles(ctx, a.OrgID, m.Roles); err != nil {
			return st, validation(fmt.Sprintf("mapping[%d].roles", i), problemOf(err))
		}
		if err := checkAccountRoles(m.Roles); err != nil {
			return st, validation(fmt.Sprintf("mapping[%d].roles", i), problemOf(err))
		}
		for _, t := range m.Teams {
			if !slices.ContainsFunc(teams, func(x storage.Team) bool { return x.ID == t }) {
				return st, validation(fmt.Sprintf("mapping[%d].teams", i), fmt.Sprintf("%q is not a team of this organisation", t))
			}
		}
		for _, l := range m.Labels {
			if !slices.ContainsFunc(labels, func(x storage.Label) bool { return x.ID == l }) {
				return st, validation(fmt.Sprintf("mapping[%d].labels", i), fmt.Sprintf("%q is not a label of this organisation", l))
			}
		}
	}
	if st.BreakGlassUserID != "" {
		u, err := inOrg(ctx, a, "user", st.BreakGlassUserID, s.d.Store.User)
		if err != nil {
			return st, validation("break_glass_user_id", problemOf(err))
		}
		if !u.Active {
			return st, validation("break_glass_user_id", fmt.Sprintf("%s is deactivated", u.Email))
		}
	}
	detail := map[string]any{"company": st.Company, "oidc": st.OIDC != nil, "saml": st.SAML != nil,
		"require_sso": st.RequireSSO, "break_glass_user_id": st.BreakGlassUserID, "mapping": st.Mapping}
	return st, s.commit(ctx, a, entry{"sso.update", a.OrgID, detail},
		storage.Change{Op: storage.OpPutSSOSettings, SSOSettings: &st})
}

func problemOf(err error) string {
	var ve *storage.ValidationError
	if errors.As(err, &ve) {
		return ve.Problem
	}
	return err.Error()
}

// ssoRequired reports whether u may not log in with a password: the
// organisation requires single sign-on and u is not its break-glass
// administrator.
func (s *Service) ssoRequired(ctx context.Context, u storage.User) bool {
	if s.d.SSO == nil {
		return false
	}
	st, err := s.d.SSO.SSOSettings(ctx, u.OrgID)
	if err != nil {
		s.d.Log.Warn("sso settings not read at login", "org", u.OrgID, "err", err)
		return false
	}
	return st.RequireSSO && st.Enabled() && u.ID != st.BreakGlassUserID
}

// ProvisionSSO creates the user of a first single sign-on login, or
// updates the one with the same e-mail: name, and the roles, teams and
// labels the mapping decides. The change is made in the user's own name.
func (s *Service) ProvisionSSO(ctx context.Context, orgID string, p sso.Provision) (storage.User, error) {
	if s.d.SSO == nil {
		return storage.User{}, errors.New("org: single sign-on needs Deps.SSO")
	}
	email, err := normEmail("email", p.Email)
	if err != nil {
		return storage.User{}, err
	}
	if err := s.checkRoles(ctx, orgID, p.Roles); err != nil {
		return storage.User{}, fmt.Errorf("the single sign-on mapping is out of date: %w", err)
	}
	now := s.d.Now().UTC()
	u, err := s.d.Store.UserByEmail(ctx, orgID, email)
	created := errors.Is(err, storage.ErrNotFound)
	switch {
	case created:
		name := p.Name
		if name == "" {
			name = email
		}
		u = storage.User{ID: ids.New(), OrgID: orgID, Email: email, Name: name, Kind: storage.UserRegular, Active: true, CreatedAt: now}
	case err != nil:
		return u, err
	case !u.Active:
		return u, fmt.Errorf("user %s is deactivated: %w", email, storage.ErrUnauthenticated)
	case u.Kind != storage.UserRegular:
		return u, fmt.Errorf("%s is not a regular user: %w", email, storage.ErrUnauthenticated)
	}
	if st, err := s.d.SSO.SSOSettings(ctx, orgID); err != nil {
		return u, err
	} else if !created && u.ID == st.BreakGlassUserID {
		// The way in when the provider fails is never the provider's to
		// log in or remap.
		return u, fmt.Errorf("%s is the break-glass administrator, who logs in with a password only: %w", email, storage.ErrUnauthenticated)
	}
	if p.Name != "" {
		u.Name = p.Name
	}
	u.UpdatedAt = now
	changes := []storage.Change{{Op: storage.OpPutUser, User: &u, PasswordHash: u.PasswordHash, Existing: !created}}
	// Invited, the person signs in through the provider instead of
	// opening the link: the first login accepts the invitation, with its
	// roles, teams and labels besides the mapping's.
	var invitation string
	if created {
		accept, extra, err := s.acceptInvitationBySSO(ctx, orgID, email, u.ID, now)
		if err != nil {
			return u, err
		}
		if accept != nil {
			invitation = accept.MemberInvitation.ID
			changes = append(changes, *accept)
			p.Roles = union(p.Roles, extra.Roles)
			p.Teams = union(p.Teams, extra.TeamIDs)
			p.Labels = union(p.Labels, extra.LabelIDs)
		}
	}

	oldRoles := s.d.Enforcer.Roles(orgID, u.ID)
	newRoles := append(minus(oldRoles, p.GovernedRoles), p.Roles...)
	if rm := assignments(orgID, u.ID, minus(oldRoles, newRoles)); len(rm) > 0 {
		changes = append(changes, storage.Change{Op: storage.OpRemovePolicy, Rules: rm})
	}
	if add := assignments(orgID, u.ID, minus(newRoles, oldRoles)); len(add) > 0 {
		changes = append(changes, storage.Change{Op: storage.OpAddPolicy, Rules: add})
	}

	// A team or label the mapping names but that was deleted since is
	// left out.
	teams, err := s.d.Store.Teams(ctx, orgID)
	if err != nil {
		return u, err
	}
	p.Teams = slices.DeleteFunc(slices.Clone(p.Teams), func(id string) bool {
		gone := !slices.ContainsFunc(teams, func(t storage.Team) bool { return t.ID == id })
		if gone {
			s.d.Log.Warn("single sign-on mapping names a team that no longer exists", "org", orgID, "team", id)
		}
		return gone
	})
	var oldTeams []string
	if !created {
		ms, err := s.d.SSO.UserTeams(ctx, u.ID)
		if err != nil {
			return u, err
		}
		for _, m := range ms {
			oldTeams = append(oldTeams, m.TeamID)
		}
	}
	for _, t := range minus(p.Teams, oldTeams) {
		m := storage.TeamMembership{TeamID: t, UserID: u.ID, Role: storage.TeamMember}
		changes = append(changes, storage.Change{Op: storage.OpSetTeamMember, Membership: &m}, teamLinkChange(orgID, u.ID, t, true))
	}
	for _, t := range minus(slices.DeleteFunc(slices.Clone(oldTeams), func(t string) bool { return !slices.Contains(p.GovernedTeams, t) }), p.Teams) {
		m := storage.TeamMembership{TeamID: t, UserID: u.ID}
		changes = append(changes, storage.Change{Op: storage.OpDelTeamMember, Membership: &m}, teamLinkChange(orgID, u.ID, t, false))
	}

	known, err := s.d.Store.Labels(ctx, orgID)
	if err != nil {
		return u, err
	}
	p.Labels = slices.DeleteFunc(slices.Clone(p.Labels), func(id string) bool {
		return !slices.ContainsFunc(known, func(l storage.Label) bool { return l.ID == id })
	})
	var oldLabels []string
	if !created {
		all, err := s.d.SSO.UserLabels(ctx, orgID)
		if err != nil {
			return u, err
		}
		oldLabels = all[u.ID]
	}
	labels := append(minus(oldLabels, p.GovernedLabels), p.Labels...)
	slices.Sort(labels)
	labels = slices.Compact(labels)
	if !slices.Equal(labels, sortedCopy(oldLabels)) {
		changes = append(changes, storage.Change{Op: storage.OpSetUserLabels, ID: u.ID, LabelIDs: labels})
	}
	if !created {
		if err := s.checkLockout(ctx, orgID, changes, u); err != nil {
			return u, err
		}
	}
	action := "user.sso_update"
	if created {
		action = "user.sso_create"
	}
	a := web.Actor{UserID: u.ID, OrgID: orgID}
	detail := map[string]any{"email": email, "roles": newRoles, "teams": p.Teams, "labels": p.Labels}
	if invitation != "" {
		detail["invitation"] = invitation
	}
	if err := s.commit(ctx, a, entry{action, u.ID, detail}, changes...); err != nil {
		return u, err
	}
	s.loggedIn(ctx, u.ID)
	return u, nil
}

func sortedCopy(l []string) []string {
	c := slices.Clone(l)
	slices.Sort(c)
	return c
}

// acceptInvitationBySSO returns the change accepting the pending member
// invitation of email for userID, with what of its roles, teams and labels
// still exists; nil when the person has no pending invitation.
func (s *Service) acceptInvitationBySSO(ctx context.Context, orgID, email, userID string, now time.Time) (*storage.Change, storage.MemberInvitation, error) {
	invs, err := s.d.SSO.MemberInvitations(ctx, orgID)
	if err != nil {
		return nil, storage.MemberInvitation{}, err
	}
	for _, inv := range invs {
		if inv.Email != email || inv.State(now) != storage.MemberInvitePending {
			continue
		}
		roles, teams, labels, err := s.invitationStillThere(ctx, inv)
		if err != nil {
			return nil, storage.MemberInvitation{}, err
		}
		used := inv
		used.UsedAt, used.UserID = &now, userID
		ch := storage.Change{Op: storage.OpAcceptMemberInvite, MemberInvitation: &used, TokenHash: inv.TokenHash}
		return &ch, storage.MemberInvitation{Roles: roles, TeamIDs: teams, LabelIDs: labels}, nil
	}
	return nil, storage.MemberInvitation{}, nil
}

// union is a followed by the elements of b not in a.
func union(a, b []string) []string {
	out := slices.Clone(a)
	for _, x := range b {
		if !slices.Contains(out, x) {
			out = append(out, x)
		}
	}
	return out
}
