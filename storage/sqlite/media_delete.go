package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"siteline/storage"
)

// Deleting session media (migration 00014). The row stays as a tombstone;
// the deletion is kept in media_deletions too, by the row's id, and
// travels to headquarters as a HistoryMediaDeleted record in the same
// transaction, with its session event and the audit event. Headquarters
// applies it whether or not the row is there yet: a row that arrives
// later is written as a tombstone. The bytes are the node's sweeper's:
// PendingBlobDeletions lists the deletions whose bytes it has not dealt
// with yet, and DeletionNotify wakes it when there are new ones.

// DeletionNotify receives a value after a deletion is committed here or
// applied from another node's history. Wake-ups coalesce.
func (s *Store) DeletionNotify() <-chan struct{} { return s.deletionCh }

func (s *Store) notifyDeletion() {
	select {
	case s.deletionCh <- struct{}{}:
	default:
	}
}

// DeleteMedia tombstones a media or recording row and writes the event,
// the audit event and their history records, all in one transaction.
func (s *Store) DeleteMedia(ctx context.Context, d storage.MediaDeletion, ev storage.SessionEvent, audit storage.AuditEvent) error {
	if err := d.Check(); err != nil {
		return fmt.Errorf("delete %s %s: %w", d.What, d.ID, err)
	}
	switch {
	case ev.SessionID != d.SessionID:
		return fmt.Errorf("delete %s %s: %w", d.What, d.ID, &storage.ValidationError{Field: "event.session_id", Problem: "differs from the deleted row's"})
	case audit.ID == "" || audit.OrgID == "" || audit.ActorID == "" || audit.Action == "" || audit.At.IsZero():
		return fmt.Errorf("delete %s %s: %w", d.What, d.ID, &storage.ValidationError{Field: "audit", Problem: "needs id, org_id, actor_id, action and at"})
	}
	err := s.historyTx(ctx, func(tx *sql.Tx) error {
		if err := tombstone(ctx, tx, d, true); err != nil {
			return err
		}
		if err := keepDeletion(ctx, tx, d); err != nil {
			return err
		}
		if err := appendHistoryEvent(ctx, tx, ev, func(rec *storage.HistoryRecord) {
			rec.Kind, rec.Deletion = storage.HistoryMediaDeleted, &d
		}); err != nil {
			return err
		}
		if err := exec(ctx, tx, `INSERT INTO audit_events (id, org_id, site_id, at, actor_id, action, target, detail)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?)`, audit.ID, audit.OrgID, audit.SiteID, nanos(audit.At), audit.ActorID,
			audit.Action, audit.Target, audit.Detail); err != nil {
			return err
		}
		return enqueueHistory(ctx, tx, audit.At, storage.HistoryRecord{ID: audit.ID, Kind: storage.HistoryAudit, Audit: &audit})
	})
	if err != nil {
		return fmt.Errorf("delete %s %s of session %s: %w", d.What, d.ID, d.SessionID, err)
	}
	s.notifyDeletion()
	return nil
}

// tombstone marks the row d deletes. strict (a deletion made here) wants
// a live row of d's session: none is storage.ErrNotFound, a tombstone
// already storage.ErrConflict. Applied from history, a row that is not
// there (yet) or deleted already changes nothing.
func tombstone(ctx context.Context, tx *sql.Tx, d storage.MediaDeletion, strict bool) error {
	q := `UPDATE media SET deleted_at = ?, deleted_by = ? WHERE id = ? AND session_id = ? AND deleted_at IS NULL`
	table := "media"
	if d.What == storage.DeletedRecording {
		q = `UPDATE recordings SET status = 'deleted', deleted_at = ?, deleted_by = ?
			WHERE id = ? AND session_id = ? AND status <> 'deleted'`
		table = "recordings"
	}
	res, err := tx.ExecContext(ctx, q, nanos(d.At), d.By, d.ID, d.SessionID)
	if err != nil {
		return domainError(err)
	}
	if n, err := res.RowsAffected(); err != nil || n > 0 || !strict {
		return err
	}
	var one int
	err = tx.QueryRowContext(ctx, `SELECT 1 FROM `+table+` WHERE id = ? AND session_id = ?`, d.ID, d.SessionID).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("%s %s: %w", d.What, d.ID, storage.ErrNotFound)
	}
	if err != nil {
		return err
	}
	return fmt.Errorf("%s %s is deleted already: %w", d.What, d.ID, storage.ErrConflict)
}

// keepDeletion stores d in media_deletions; the first deletion of a row
// is the one kept.
func keepDeletion(ctx context.Context, tx *sql.Tx, d storage.MediaDeletion) error {
	return exec(ctx, tx, `INSERT INTO media_deletions (id, what, session_id, org_id, kind, name, sha256,
		deleted_at, deleted_by, by_name) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING`,
		d.ID, d.What, d.SessionID, d.OrgID, d.Kind, d.Name, d.SHA256, nanos(d.At), d.By, d.ByName)
}

// applyDeletion applies a forwarded deletion: kept, and the row, if it is
// here, tombstoned.
func applyDeletion(ctx context.Context, tx *sql.Tx, d storage.MediaDeletion) error {
	if err := keepDeletion(ctx, tx, d); err != nil {
		return err
	}
	return tombstone(ctx, tx, d, false)
}

// settleDeletion tombstones a forwarded row that was just applied if its
// deletion came first.
func settleDeletion(ctx context.Context, tx *sql.Tx, what, id string) error {
	var d storage.MediaDeletion
	err := tx.QueryRowContext(ctx, `SELECT id, session_id, deleted_at, deleted_by FROM media_deletions
		WHERE id = ? AND what = ?`, id, what).Scan(&d.ID, &d.SessionID, timeDest{&d.At}, &d.By)
	if errors.Is(err, sql.ErrNoRows) {
		return nil
	}
	if err != nil {
		return err
	}
	d.What = what
	return tombstone(ctx, tx, d, false)
}

const deletionColumns = `id, what, session_id, org_id, kind, name, sha256, deleted_at, deleted_by, by_name`

func scanDeletion(r interface{ Scan(...any) error }) (storage.MediaDeletion, error) {
	var d storage.MediaDeletion
	err := r.Scan(&d.ID, &d.What, &d.SessionID, &d.OrgID, &d.Kind, &d.Name, &d.SHA256, timeDest{&d.At}, &d.By, &d.ByName)
	return d, err
}

// SessionDeletions lists a session's deleted media and recordings.
func (s *Store) SessionDeletions(ctx context.Context, sessionID string) ([]storage.MediaDeletion, error) {
	out, err := collect(ctx, s.read, func(r *sql.Rows) (storage.MediaDeletion, error) { return scanDeletion(r) },
		`SELECT `+deletionColumns+` FROM media_deletions WHERE session_id = ? ORDER BY deleted_at, id`, sessionID)
	if err != nil {
		return nil, fmt.Errorf("deleted media of session %s: %w", sessionID, err)
	}
	return out, nil
}

// PendingBlobDeletions lists up to limit deletions whose bytes the
// sweeper has not dealt with yet, oldest first.
func (s *Store) PendingBlobDeletions(ctx context.Context, limit int) ([]storage.MediaDeletion, error) {
	out, err := collect(ctx, s.read, func(r *sql.Rows) (storage.MediaDeletion, error) { return scanDeletion(r) },
		`SELECT `+deletionColumns+` FROM media_deletions WHERE blob_done = 0 ORDER BY deleted_at, id LIMIT ?`, limit)
	if err != nil {
		return nil, fmt.Errorf("pending media deletions: %w", err)
	}
	return out, nil
}

// MarkBlobDeletionDone records that the bytes of deletion id were dealt
// with: removed, or kept for a live row that shares them.
func (s *Store) MarkBlobDeletionDone(ctx context.Context, id string) error {
	err := s.writeTx(ctx, func(tx *sql.Tx) error {
		return exec(ctx, tx, `UPDATE media_deletions SET blob_done = 1 WHERE id = ?`, id)
	})
	if err != nil {
		return fmt.Errorf("media deletion %s done: %w", id, err)
	}
	return nil
}

// MediaBlobLive reports whether a media or recording row that is not
// deleted refers to blob key.
func (s *Store) MediaBlobLive(ctx context.Context, key string) (bool, error) {
	var n int
	err := s.read.QueryRowContext(ctx, `SELECT
		(SELECT count(*) FROM media WHERE blob_key = ? AND deleted_at IS NULL) +
		(SELECT count(*) FROM recordings WHERE blob_key = ? AND status <> 'deleted')`, key, key).Scan(&n)
	if err != nil {
		return false, fmt.Errorf("blob %s in use: %w", key, err)
	}
	return n > 0, nil
}
