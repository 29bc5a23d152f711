package storage

import (
	"context"
	"time"
)

// DeliveryCancelled is the status of an e-mail of the outbox that will not
// be sent: what it was about was replaced (a new activation link) or
// withdrawn (a revoked invitation) before it went out.
const DeliveryCancelled = "cancelled"

// Kinds of the e-mails of the mail outbox.
const (
	MailMemberInvitation = "member_invitation" // RefID is a member invitation
)

// MailDelivery is one e-mail of the node's outbox other than a guest
// invitation's (those are Deliveries of their invitation): written before
// the request that made it is answered, attempted, and retried with
// backoff until sent or given up. Its message holds a link that must not
// be kept in clear, so Sealed is the whole message encrypted with a
// node-local key, kept only while the e-mail is pending.
type MailDelivery struct {
	ID            string     `json:"id"`
	OrgID         string     `json:"org_id"`
	Kind          string     `json:"kind"`
	RefID         string     `json:"ref_id"` // what it is about, by Kind
	Recipient     string     `json:"to"`
	Status        string     `json:"status"` // DeliveryPending, Sent, Failed or Cancelled
	Attempts      int        `json:"attempts"`
	NextAttemptAt time.Time  `json:"next_attempt_at"`
	LastError     string     `json:"last_error,omitempty"`
	Sealed        []byte     `json:"-"`
	CreatedAt     time.Time  `json:"created_at"`
	SentAt        *time.Time `json:"sent_at,omitempty"`
}

// MailOutbox holds the outbox of MailDeliveries. Every write is on disk
// before it returns.
type MailOutbox interface {
	// QueueMail adds a pending e-mail, due at its NextAttemptAt, and
	// cancels the e-mails of the same Kind and RefID still pending (a new
	// link replaces the old one), in one transaction.
	QueueMail(ctx context.Context, d MailDelivery) error
	// UpdateMail records an attempt (status, attempts, next attempt, last
	// error, sent time, sealed message) of an e-mail still pending;
	// ErrConflict when it is not pending any more (cancelled meanwhile),
	// ErrNotFound when unknown.
	UpdateMail(ctx context.Context, d MailDelivery) error
	// CancelMails cancels the pending e-mails of kind about refID.
	CancelMails(ctx context.Context, kind, refID string) error
	// DueMails lists pending e-mails due at now, oldest due first.
	DueMails(ctx context.Context, now time.Time, limit int) ([]MailDelivery, error)
	// Mails lists the e-mails of kind about the refIDs, newest first.
	Mails(ctx context.Context, kind string, refIDs []string) ([]MailDelivery, error)
}
