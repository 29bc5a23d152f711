package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"siteline/storage"
)

// AppendSessionEvent appends one event to a session, synced before it
// returns; a session that does not exist is storage.ErrNotFound.
func (s *Store) AppendSessionEvent(ctx context.Context, ev storage.SessionEvent) error {
	err := s.historyTx(ctx, func(tx *sql.Tx) error {
		if err := sessionExists(ctx, tx, ev.SessionID); err != nil {
			return err
		}
		if err := appendEvent(ctx, tx, ev); err != nil {
			return err
		}
		return enqueueSessionRecord(ctx, tx, storage.HistoryEvent, ev.ID, ev.SessionID, ev.At, "", ev.ID)
	})
	if err != nil {
		return fmt.Errorf("append %s event to session %s: %w", ev.Kind, ev.SessionID, err)
	}
	return nil
}

// EndSession sets a session's status to ended and its end time, and
// appends the ended event, in one transaction.
func (s *Store) EndSession(ctx context.Context, sessionID string, at time.Time, ev storage.SessionEvent) error {
	if at.IsZero() {
		return fmt.Errorf("end session %s: %w", sessionID, &storage.ValidationError{Field: "session.ended_at", Problem: "is required"})
	}
	if ev.SessionID != sessionID {
		return fmt.Errorf("end session %s: %w", sessionID, &storage.ValidationError{Field: "event.session_id", Problem: "differs from the session's"})
	}
	err := s.historyTx(ctx, func(tx *sql.Tx) error {
		if err := sessionExists(ctx, tx, sessionID); err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, `UPDATE sessions SET status = 'ended', ended_at = ?, updated_at = ?
			WHERE id = ? AND status <> 'ended'`, nanos(at), nanos(at), sessionID)
		if err != nil {
			return domainError(err)
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
			return fmt.Errorf("session %s has already ended: %w", sessionID, storage.ErrConflict)
		}
		if err := appendEvent(ctx, tx, ev); err != nil {
			return err
		}
		return enqueueSessionRecord(ctx, tx, storage.HistorySessionEnded, ev.ID, sessionID, at, "", ev.ID)
	})
	if err != nil {
		return fmt.Errorf("end session %s: %w", sessionID, err)
	}
	return nil
}

func sessionExists(ctx context.Context, tx *sql.Tx, id string) error {
	var one int
	err := tx.QueryRowContext(ctx, `SELECT 1 FROM sessions WHERE id = ?`, id).Scan(&one)
	if err == sql.ErrNoRows {
		return fmt.Errorf("session %s: %w", id, storage.ErrNotFound)
	}
	return err
}
