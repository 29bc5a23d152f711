package sqlite

import (
	"context"
	"database/sql"
	"fmt"

	"siteline/storage"
)

var _ storage.RingStore = (*Store)(nil)

// AnswerSession turns a ringing session active and appends ev (its
// answered event) in one transaction.
func (s *Store) AnswerSession(ctx context.Context, ev storage.SessionEvent) error {
	if ev.Kind != storage.EventAnswered {
		return fmt.Errorf("answer session %s: %w", ev.SessionID, &storage.ValidationError{Field: "event.kind", Problem: fmt.Sprintf("must be %q, not %q", storage.EventAnswered, ev.Kind)})
	}
	err := s.writeTx(ctx, func(tx *sql.Tx) error {
		if err := sessionExists(ctx, tx, ev.SessionID); err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, `UPDATE sessions SET status = 'active', updated_at = ?
			WHERE id = ? AND status = 'ringing'`, nanos(ev.At), ev.SessionID)
		if err != nil {
			return domainError(err)
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
			return fmt.Errorf("session %s is not ringing: %w", ev.SessionID, storage.ErrConflict)
		}
		return appendEvent(ctx, tx, ev)
	})
	if err != nil {
		return fmt.Errorf("answer session %s: %w", ev.SessionID, err)
	}
	return nil
}

// SessionGuests lists a session's guests by admission time.
func (s *Store) SessionGuests(ctx context.Context, sessionID string) ([]storage.Guest, error) {
	out, err := collect(ctx, s.read, func(r *sql.Rows) (storage.Guest, error) {
		var g storage.Guest
		var kind string
		err := r.Scan(&g.ID, &g.OrgID, &g.InvitationID, &g.SessionID, &kind, &g.Name, timeDest{&g.CreatedAt})
		g.Kind = storage.UserKind(kind)
		return g, err
	}, `SELECT id, org_id, invitation_id, session_id, kind, name, created_at FROM guests
		WHERE session_id = ? ORDER BY created_at, id`, sessionID)
	if err != nil {
		return nil, fmt.Errorf("guests of session %s: %w", sessionID, err)
	}
	return out, nil
}
