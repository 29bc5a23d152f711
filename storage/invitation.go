package storage

import (
	"context"
	"time"
)

// Invitation statuses of a delivery (the outbox of e-mail and SMS sends).
const (
	DeliveryPending = "pending" // not sent yet, or failed and to be retried
	DeliverySent    = "sent"
	DeliveryFailed  = "failed" // gave up after the last attempt
)

// Invitation is a link that lets a guest into one call (a conference
// invitation) or that creates a call ringing its creator (a service
// request). Only the SHA-256 of its token is kept.
type Invitation struct {
	ID           string `json:"id"`
	OrgID        string `json:"org_id"`
	SiteID       string `json:"site_id"`
	Kind         string `json:"kind"` // SessionConference or SessionServiceRequest
	TokenHash    []byte `json:"-"`
	SessionID    string `json:"session_id,omitempty"` // "" for a service request not opened yet
	CreatedBy    string `json:"created_by"`
	InviteeName  string `json:"invitee_name,omitempty"`
	InviteeEmail string `json:"invitee_email,omitempty"`
	InviteePhone string `json:"invitee_phone,omitempty"`
	Subject      string `json:"subject,omitempty"` // a service request's call name
	Goal         string `json:"goal,omitempty"`
	// TeamID is the team whose queue a service request goes to; "" rings
	// its creator.
	TeamID    string     `json:"team_id,omitempty"`
	GuestKind UserKind   `json:"guest_kind,omitempty"` // set when redeemed
	CreatedAt time.Time  `json:"created_at"`
	ExpiresAt *time.Time `json:"expires_at,omitempty"`
	UsedAt    *time.Time `json:"used_at,omitempty"`
	RevokedAt *time.Time `json:"revoked_at,omitempty"`
	// TermsAcceptedAt and TermsVersion record the guest's acceptance of
	// the terms of use (also kept in terms_acceptances).
	TermsAcceptedAt *time.Time `json:"terms_accepted_at,omitempty"`
	TermsVersion    string     `json:"terms_version,omitempty"`
}

// Guest is an unregistered participant admitted by one invitation to one
// call. Guests are site data, not users of the organisation.
type Guest struct {
	ID           string    `json:"id"`
	OrgID        string    `json:"org_id"`
	InvitationID string    `json:"invitation_id"`
	SessionID    string    `json:"session_id"`
	Kind         UserKind  `json:"kind"`
	Name         string    `json:"name"`
	CreatedAt    time.Time `json:"created_at"`
}

// TermsAcceptance is a guest's confirmation of the terms of use.
type TermsAcceptance struct {
	ID           string    `json:"id"`
	InvitationID string    `json:"invitation_id"`
	SessionID    string    `json:"session_id"`
	UserID       string    `json:"user_id"`
	TermsVersion string    `json:"terms_version"`
	AcceptedAt   time.Time `json:"accepted_at"`
	Address      string    `json:"address"`
	UserAgent    string    `json:"user_agent"`
}

// Delivery is one sending of an invitation link by e-mail or SMS, queued in
// the outbox and retried until sent or given up. Sealed is the link,
// encrypted with a node-local key, kept only while the delivery is pending.
type Delivery struct {
	ID            string     `json:"id"`
	InvitationID  string     `json:"invitation_id"`
	Channel       string     `json:"channel"` // email | sms
	Recipient     string     `json:"to"`
	Status        string     `json:"status"`
	Attempts      int        `json:"attempts"`
	NextAttemptAt time.Time  `json:"next_attempt_at"`
	LastError     string     `json:"last_error,omitempty"`
	Sealed        []byte     `json:"-"`
	CreatedAt     time.Time  `json:"created_at"`
	SentAt        *time.Time `json:"sent_at,omitempty"`
}

// Redemption is what opening a link writes in one transaction: the link
// marked used, the terms acceptance, the guest, and for a service request
// the call it creates.
type Redemption struct {
	InvitationID string
	At           time.Time
	Guest        Guest
	Terms        TermsAcceptance
	NewSession   *Session
	// Queue, with a NewSession, puts the call into a team's queue in the
	// same transaction (owner none until a member takes it), with
	// QueuedEvent.
	Queue       *QueueEntry
	QueuedEvent *SessionEvent
}

// InvitationStore holds invitations, guests and the delivery outbox. Every
// write is on disk before it returns.
type InvitationStore interface {
	// CreateInvitation stores an invitation and its first deliveries.
	CreateInvitation(ctx context.Context, inv Invitation, deliveries []Delivery) error
	Invitation(ctx context.Context, id string) (Invitation, error)
	InvitationByHash(ctx context.Context, hash []byte) (Invitation, error)
	// Invitations lists an organisation's invitations, newest first;
	// createdBy "" lists everyone's.
	Invitations(ctx context.Context, orgID, createdBy string) ([]Invitation, error)
	// RevokeInvitation marks an invitation revoked; ErrConflict when it
	// was used or revoked already.
	RevokeInvitation(ctx context.Context, id string, at time.Time) error
	// RedeemInvitation marks the link used and writes the rest of r, or
	// returns ErrConflict and writes nothing when the link was used or
	// revoked in the meantime.
	RedeemInvitation(ctx context.Context, r Redemption) error
	Guest(ctx context.Context, id string) (Guest, error)

	AddDelivery(ctx context.Context, d Delivery) error
	Deliveries(ctx context.Context, invitationID string) ([]Delivery, error)
	// DueDeliveries lists pending deliveries whose next attempt is due.
	DueDeliveries(ctx context.Context, now time.Time, limit int) ([]Delivery, error)
	// UpdateDelivery records an attempt: status, attempts, next attempt,
	// last error, sent time and sealed link.
	UpdateDelivery(ctx context.Context, d Delivery) error

	// OwnedSessions lists the calls of a kind owned by a user that have
	// not ended, newest first.
	OwnedSessions(ctx context.Context, orgID, ownerID, kind string) ([]Session, error)
	// CountOwnedSessions counts the calls OwnedSessions lists.
	CountOwnedSessions(ctx context.Context, orgID, ownerID, kind string) (int, error)
}
