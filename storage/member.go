package storage

import (
	"context"
	"time"
)

// The states of a member invitation, as of a given time.
const (
	MemberInvitePending = "pending"
	MemberInviteUsed    = "used"
	MemberInviteRevoked = "revoked"
	MemberInviteExpired = "expired"
)

// MemberInvitation asks someone to become a user of an organisation: an
// e-mail with a single-use activation link, the roles and teams the user
// will have. It is organisation data (replicated), so the link works at
// every node. Only the SHA-256 of the link's token is kept.
type MemberInvitation struct {
	ID      string   `json:"id"`
	OrgID   string   `json:"org_id"`
	Email   string   `json:"email"`
	Roles   []string `json:"roles"`
	TeamIDs []string `json:"team_ids"`
	// LabelIDs are applied to the user the link creates.
	LabelIDs  []string  `json:"label_ids,omitempty"`
	TokenHash []byte    `json:"-"`
	CreatedBy string    `json:"created_by"`
	CreatedAt time.Time `json:"created_at"`
	// SentAt is the last time a link was sent (creation or resend); Sends
	// counts them.
	SentAt    time.Time  `json:"sent_at"`
	Sends     int        `json:"sends"`
	ExpiresAt time.Time  `json:"expires_at"`
	UsedAt    *time.Time `json:"used_at,omitempty"`
	UserID    string     `json:"user_id,omitempty"` // the user the link created
	RevokedAt *time.Time `json:"revoked_at,omitempty"`
}

// State is the invitation's state at now.
func (m MemberInvitation) State(now time.Time) string {
	switch {
	case m.UsedAt != nil:
		return MemberInviteUsed
	case m.RevokedAt != nil:
		return MemberInviteRevoked
	case !now.Before(m.ExpiresAt):
		return MemberInviteExpired
	}
	return MemberInvitePending
}

// MemberInvitationReader reads the local copy of member invitations.
type MemberInvitationReader interface {
	// MemberInvitations lists an organisation's invitations, newest first.
	MemberInvitations(ctx context.Context, orgID string) ([]MemberInvitation, error)
	MemberInvitation(ctx context.Context, id string) (MemberInvitation, error)
	// MemberInvitationByHash finds the invitation whose token hashes to
	// hash; ErrNotFound when none.
	MemberInvitationByHash(ctx context.Context, hash []byte) (MemberInvitation, error)
}
