package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"siteline/storage"
)

var _ storage.MemberInvitationReader = (*Store)(nil)

// MemberInvitations lists an organisation's member invitations, newest
// first.
func (s *Store) MemberInvitations(ctx context.Context, orgID string) ([]storage.MemberInvitation, error) {
	list, err := queryMemberInvites(ctx, s.read, "WHERE org_id = ?", orgID)
	return many(list, err, "list member invitations of org "+orgID)
}

// MemberInvitation returns one member invitation.
func (s *Store) MemberInvitation(ctx context.Context, id string) (storage.MemberInvitation, error) {
	list, err := queryMemberInvites(ctx, s.read, "WHERE id = ?", id)
	return one(list, err, "member invitation "+id)
}

// MemberInvitationByHash finds a member invitation by the SHA-256 of its
// token.
func (s *Store) MemberInvitationByHash(ctx context.Context, hash []byte) (storage.MemberInvitation, error) {
	list, err := queryMemberInvites(ctx, s.read, "WHERE token_hash = ?", hash)
	return one(list, err, "member invitation")
}

func queryMemberInvites(ctx context.Context, q querier, where string, args ...any) ([]storage.MemberInvitation, error) {
	return collect(ctx, q, func(r *sql.Rows) (storage.MemberInvitation, error) {
		var m storage.MemberInvitation
		var roles, teams, labels string
		err := r.Scan(&m.ID, &m.OrgID, &m.Email, &roles, &teams, &labels, &m.TokenHash, &m.CreatedBy,
			timeDest{&m.CreatedAt}, timeDest{&m.SentAt}, &m.Sends, timeDest{&m.ExpiresAt},
			optTimeDest{&m.UsedAt}, stringDest{&m.UserID}, optTimeDest{&m.RevokedAt})
		if err != nil {
			return m, err
		}
		if err := json.Unmarshal([]byte(roles), &m.Roles); err != nil {
			return m, fmt.Errorf("roles of member invitation %s: %w", m.ID, err)
		}
		if err := json.Unmarshal([]byte(teams), &m.TeamIDs); err != nil {
			return m, fmt.Errorf("teams of member invitation %s: %w", m.ID, err)
		}
		if err := json.Unmarshal([]byte(labels), &m.LabelIDs); err != nil {
			return m, fmt.Errorf("labels of member invitation %s: %w", m.ID, err)
		}
		if len(m.LabelIDs) == 0 {
			m.LabelIDs = nil
		}
		return m, nil
	}, `SELECT id, org_id, email, roles, team_ids, label_ids, token_hash, created_by, created_at, sent_at, sends,
		expires_at, used_at, user_id, revoked_at
		FROM member_invitations `+where+` ORDER BY created_at DESC, id`, args...)
}

// putMemberInvite inserts m, or renews it (token hash, expiry, last send)
// while it is still pending.
func putMemberInvite(ctx context.Context, q querier, m storage.MemberInvitation) error {
	if err := required("member_invitation.id", m.ID, "member_invitation.org_id", m.OrgID,
		"member_invitation.email", m.Email, "member_invitation.created_by", m.CreatedBy); err != nil {
		return err
	}
	if len(m.TokenHash) == 0 {
		return &storage.ValidationError{Field: "token_hash", Problem: "is required"}
	}
	if err := requireOrg(ctx, q, m.OrgID); err != nil {
		return err
	}
	old, err := queryMemberInvites(ctx, q, "WHERE id = ?", m.ID)
	if err != nil {
		return err
	}
	if len(old) == 1 {
		if err := stillPending(old[0]); err != nil {
			return err
		}
		if old[0].OrgID != m.OrgID {
			return &storage.ValidationError{Field: "member_invitation.org_id", Problem: "cannot move an invitation to another organisation"}
		}
		return exec(ctx, q, `UPDATE member_invitations SET token_hash = ?, sent_at = ?, sends = ?, expires_at = ?
			WHERE id = ?`, m.TokenHash, nanos(m.SentAt), m.Sends, nanos(m.ExpiresAt), m.ID)
	}
	return exec(ctx, q, `INSERT INTO member_invitations
		(id, org_id, email, roles, team_ids, label_ids, token_hash, created_by, created_at, sent_at, sends, expires_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		m.ID, m.OrgID, strings.ToLower(m.Email), jsonList(m.Roles), jsonList(m.TeamIDs), jsonList(m.LabelIDs), m.TokenHash, m.CreatedBy,
		nanos(m.CreatedAt), nanos(m.SentAt), m.Sends, nanos(m.ExpiresAt))
}

// revokeMemberInvite marks a pending invitation revoked at m.RevokedAt.
func revokeMemberInvite(ctx context.Context, q querier, m storage.MemberInvitation) error {
	if m.RevokedAt == nil {
		return &storage.ValidationError{Field: "member_invitation.revoked_at", Problem: "is required"}
	}
	old, err := memberInvite(ctx, q, m.ID)
	if err != nil {
		return err
	}
	if err := stillPending(old); err != nil {
		return err
	}
	return exec(ctx, q, "UPDATE member_invitations SET revoked_at = ? WHERE id = ?", nanos(*m.RevokedAt), m.ID)
}

// acceptMemberInvite marks an invitation used by m.UserID at m.UsedAt. It
// must still be pending, hold the token hash the accept was made with and
// not have expired at m.UsedAt; every node judges the same.
func acceptMemberInvite(ctx context.Context, q querier, m storage.MemberInvitation, hash []byte) error {
	if m.UsedAt == nil || m.UserID == "" {
		return &storage.ValidationError{Field: "member_invitation.used_at", Problem: "and user_id are required"}
	}
	old, err := memberInvite(ctx, q, m.ID)
	if err != nil {
		return err
	}
	if err := stillPending(old); err != nil {
		return err
	}
	if string(old.TokenHash) != string(hash) {
		return fmt.Errorf("member invitation %s: the link was replaced by a newer one: %w", m.ID, storage.ErrConflict)
	}
	if !m.UsedAt.Before(old.ExpiresAt) {
		return fmt.Errorf("member invitation %s: the link expired at %s: %w", m.ID, old.ExpiresAt.Format(time.RFC3339), storage.ErrConflict)
	}
	return exec(ctx, q, "UPDATE member_invitations SET used_at = ?, user_id = ? WHERE id = ?", nanos(*m.UsedAt), m.UserID, m.ID)
}

// stillPending refuses an invitation already used or revoked.
func stillPending(m storage.MemberInvitation) error {
	switch {
	case m.UsedAt != nil:
		return fmt.Errorf("member invitation %s was used already: %w", m.ID, storage.ErrConflict)
	case m.RevokedAt != nil:
		return fmt.Errorf("member invitation %s was revoked: %w", m.ID, storage.ErrConflict)
	}
	return nil
}

// jsonList is a list as stored, or given to json_each: a JSON array, []
// when empty.
func jsonList(s []string) string {
	if s == nil {
		s = []string{}
	}
	b, _ := json.Marshal(s)
	return string(b)
}

func memberInvite(ctx context.Context, q querier, id string) (storage.MemberInvitation, error) {
	list, err := queryMemberInvites(ctx, q, "WHERE id = ?", id)
	return one(list, err, "member invitation "+id)
}

// restoreMemberInvite inserts m as a snapshot holds it, state included.
func restoreMemberInvite(ctx context.Context, q querier, m storage.MemberInvitation, hash []byte) error {
	return exec(ctx, q, `INSERT INTO member_invitations
		(id, org_id, email, roles, team_ids, label_ids, token_hash, created_by, created_at, sent_at, sends, expires_at,
			used_at, user_id, revoked_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		m.ID, m.OrgID, m.Email, jsonList(m.Roles), jsonList(m.TeamIDs), jsonList(m.LabelIDs), hash, m.CreatedBy,
		nanos(m.CreatedAt), nanos(m.SentAt), m.Sends, nanos(m.ExpiresAt),
		optNanos(m.UsedAt), nullString(m.UserID), optNanos(m.RevokedAt))
}
