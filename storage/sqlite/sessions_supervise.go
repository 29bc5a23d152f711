package sqlite

import (
	"context"
	"database/sql"
	"fmt"

	"siteline/storage"
)

// SetSessionOwner makes ownerID the owning expert of a session that has
// not ended and appends ev (its take-over or transfer event), in one
// transaction. The history record carries the session with its new
// owner, so that headquarters learns of the change (upsertSession).
func (s *Store) SetSessionOwner(ctx context.Context, sessionID, ownerID string, ev storage.SessionEvent) error {
	if err := required("session.owner_id", ownerID); err != nil {
		return fmt.Errorf("set owner of session %s: %w", sessionID, err)
	}
	if ev.SessionID != sessionID {
		return fmt.Errorf("set owner of session %s: %w", sessionID, &storage.ValidationError{Field: "event.session_id", Problem: "differs from the session's"})
	}
	err := s.historyTx(ctx, func(tx *sql.Tx) error {
		if err := sessionExists(ctx, tx, sessionID); err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, `UPDATE sessions SET owner_id = ?, updated_at = max(COALESCE(updated_at, 0), ?)
			WHERE id = ? AND status <> 'ended'`, ownerID, nanos(ev.At), sessionID)
		if err != nil {
			return domainError(err)
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
			return fmt.Errorf("session %s has ended: %w", sessionID, storage.ErrConflict)
		}
		if err := appendEvent(ctx, tx, ev); err != nil {
			return err
		}
		return enqueueSessionRecord(ctx, tx, storage.HistoryEvent, ev.ID, sessionID, ev.At, "", ev.ID)
	})
	if err != nil {
		return fmt.Errorf("set owner of session %s: %w", sessionID, err)
	}
	return nil
}

// RevealParticipant marks a hidden participant visible and appends ev
// (its revealed event), in one transaction.
func (s *Store) RevealParticipant(ctx context.Context, participantID string, ev storage.SessionEvent) error {
	err := s.historyTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE session_participants SET hidden = 0
			WHERE id = ? AND session_id = ?`, participantID, ev.SessionID)
		if err != nil {
			return domainError(err)
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
			return fmt.Errorf("participant %s of session %s: %w", participantID, ev.SessionID, storage.ErrNotFound)
		}
		if err := appendEvent(ctx, tx, ev); err != nil {
			return err
		}
		return enqueueSessionRecord(ctx, tx, storage.HistoryEvent, ev.ID, ev.SessionID, ev.At, participantID, ev.ID)
	})
	if err != nil {
		return fmt.Errorf("reveal participant %s: %w", participantID, err)
	}
	return nil
}
