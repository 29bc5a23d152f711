package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"siteline/storage"
)

// The storage.MailOutbox methods, on mail_deliveries (migration 00027).

var _ storage.MailOutbox = (*Store)(nil)

const mailColumns = `id, org_id, kind, ref_id, recipient, status, attempts, next_attempt_at, last_error,
	sealed, created_at, sent_at`

func scanMail(r *sql.Rows) (storage.MailDelivery, error) {
	var d storage.MailDelivery
	err := r.Scan(&d.ID, &d.OrgID, &d.Kind, &d.RefID, &d.Recipient, &d.Status, &d.Attempts, timeDest{&d.NextAttemptAt},
		&d.LastError, &d.Sealed, timeDest{&d.CreatedAt}, optTimeDest{&d.SentAt})
	return d, err
}

// QueueMail adds a pending e-mail and cancels the pending ones about the
// same thing, in one transaction.
func (s *Store) QueueMail(ctx context.Context, d storage.MailDelivery) error {
	if err := required("mail.id", d.ID, "mail.org_id", d.OrgID, "mail.kind", d.Kind, "mail.ref_id", d.RefID,
		"mail.recipient", d.Recipient); err != nil {
		return fmt.Errorf("queue mail: %w", err)
	}
	if len(d.Sealed) == 0 {
		return fmt.Errorf("queue mail %s: %w", d.ID, &storage.ValidationError{Field: "mail.sealed", Problem: "is required: a pending e-mail keeps its message"})
	}
	err := s.writeTx(ctx, func(tx *sql.Tx) error {
		if err := cancelMails(ctx, tx, d.Kind, d.RefID); err != nil {
			return err
		}
		return exec(ctx, tx, `INSERT INTO mail_deliveries (id, org_id, kind, ref_id, recipient, status, attempts,
			next_attempt_at, last_error, sealed, created_at) VALUES (?, ?, ?, ?, ?, 'pending', 0, ?, '', ?, ?)`,
			d.ID, d.OrgID, d.Kind, d.RefID, d.Recipient, nanos(d.NextAttemptAt), d.Sealed, nanos(d.CreatedAt))
	})
	if err != nil {
		return fmt.Errorf("queue mail %s: %w", d.ID, err)
	}
	return nil
}

func cancelMails(ctx context.Context, q querier, kind, refID string) error {
	return exec(ctx, q, `UPDATE mail_deliveries SET status = 'cancelled', sealed = NULL
		WHERE kind = ? AND ref_id = ? AND status = 'pending'`, kind, refID)
}

// CancelMails cancels the pending e-mails of kind about refID.
func (s *Store) CancelMails(ctx context.Context, kind, refID string) error {
	if err := cancelMails(ctx, s.write, kind, refID); err != nil {
		return fmt.Errorf("cancel the mails of %s %s: %w", kind, refID, err)
	}
	return nil
}

// UpdateMail records an attempt of an e-mail still pending.
func (s *Store) UpdateMail(ctx context.Context, d storage.MailDelivery) error {
	err := s.writeTx(ctx, func(tx *sql.Tx) error {
		var status string
		err := tx.QueryRowContext(ctx, `SELECT status FROM mail_deliveries WHERE id = ?`, d.ID).Scan(&status)
		if err == sql.ErrNoRows {
			return storage.ErrNotFound
		} else if err != nil {
			return err
		}
		if status != storage.DeliveryPending {
			return fmt.Errorf("it is %s already: %w", status, storage.ErrConflict)
		}
		return exec(ctx, tx, `UPDATE mail_deliveries SET status = ?, attempts = ?, next_attempt_at = ?,
			last_error = ?, sealed = ?, sent_at = ? WHERE id = ?`,
			d.Status, d.Attempts, nanos(d.NextAttemptAt), d.LastError, d.Sealed, optNanos(d.SentAt), d.ID)
	})
	if err != nil {
		return fmt.Errorf("update mail %s: %w", d.ID, err)
	}
	return nil
}

// DueMails lists pending e-mails due at now, oldest due first.
func (s *Store) DueMails(ctx context.Context, now time.Time, limit int) ([]storage.MailDelivery, error) {
	out, err := collect(ctx, s.read, scanMail, `SELECT `+mailColumns+` FROM mail_deliveries
		WHERE status = 'pending' AND next_attempt_at <= ? ORDER BY next_attempt_at, id LIMIT ?`, nanos(now), limit)
	if err != nil {
		return nil, fmt.Errorf("due mails: %w", err)
	}
	return out, nil
}

// Mails lists the e-mails of kind about refIDs, newest first.
func (s *Store) Mails(ctx context.Context, kind string, refIDs []string) ([]storage.MailDelivery, error) {
	if len(refIDs) == 0 {
		return nil, nil
	}
	args := []any{kind}
	for _, id := range refIDs {
		args = append(args, id)
	}
	out, err := collect(ctx, s.read, scanMail, `SELECT `+mailColumns+` FROM mail_deliveries
		WHERE kind = ? AND ref_id IN (?`+strings.Repeat(", ?", len(refIDs)-1)+`)
		ORDER BY created_at DESC, id DESC`, args...)
	if err != nil {
		return nil, fmt.Errorf("mails of %s: %w", kind, err)
	}
	return out, nil
}
