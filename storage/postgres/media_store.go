package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"siteline/storage"
)

// The rest of storage.MediaStore and the blob sweeper's store, as
// storage/sqlite's media.go and media_delete.go have them: rows written
// at this node (origin "") with their session event and its history
// record in one transaction, the lists that leave tombstones out, and the
// queue of deletions whose bytes the sweeper has not dealt with yet.

var _ storage.MediaStore = (*Store)(nil)

// AddMedia stores a snapshot or file row and appends its event.
func (s *Store) AddMedia(ctx context.Context, m storage.Media, ev storage.SessionEvent) error {
	if err := m.Check(ev); err != nil {
		return fmt.Errorf("add media %s: %w", m.ID, err)
	}
	var annotations *string
	if len(m.Annotations) > 0 {
		if !json.Valid(m.Annotations) {
			return fmt.Errorf("add media %s: %w", m.ID, &storage.ValidationError{Field: "media.annotations", Problem: "is not valid JSON"})
		}
		a := string(m.Annotations)
		annotations = &a
	}
	err := s.historyTx(ctx, func(tx pgx.Tx) error {
		if err := sessionExists(ctx, tx, m.SessionID); err != nil {
			return err
		}
		if err := exec(ctx, tx, `INSERT INTO media (id, session_id, org_id, kind, name, blob_key, content_type,
			size, sha256, annotations, created_by, created_at, participant_id, of_participant)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10::json, $11, $12, $13, $14)`,
			m.ID, m.SessionID, m.OrgID, m.Kind, m.Name, m.BlobKey, m.ContentType, m.Size, m.SHA256,
			annotations, m.CreatedBy, nanos(m.CreatedAt), m.Participant, m.Of); err != nil {
			return err
		}
		return appendHistoryEvent(ctx, tx, ev, func(rec *storage.HistoryRecord) { rec.Media = &m })
	})
	if err != nil {
		return fmt.Errorf("add %s %s to session %s: %w", m.Kind, m.ID, m.SessionID, err)
	}
	return nil
}

// appendHistoryEvent appends ev inside tx with its history record, as
// AppendSessionEvent does, and lets attach add the row ev announces to
// the record.
func appendHistoryEvent(ctx context.Context, tx pgx.Tx, ev storage.SessionEvent, attach func(*storage.HistoryRecord)) error {
	if err := appendEvent(ctx, tx, ev); err != nil {
		return err
	}
	rec, err := sessionRecord(ctx, tx, storage.HistoryEvent, ev.ID, ev.SessionID, "", ev.ID)
	if err != nil {
		return err
	}
	attach(&rec)
	return enqueueHistory(ctx, tx, ev.At, rec)
}

// AddRecording stores a recording file's row and appends its event; a
// recording without a status is complete.
func (s *Store) AddRecording(ctx context.Context, r storage.Recording, ev storage.SessionEvent) error {
	if err := required("recording.id", r.ID, "recording.session_id", r.SessionID, "recording.org_id", r.OrgID,
		"recording.blob_key", r.BlobKey); err != nil {
		return fmt.Errorf("add recording %s: %w", r.ID, err)
	}
	switch {
	case r.StartedAt.IsZero():
		return fmt.Errorf("add recording %s: %w", r.ID, &storage.ValidationError{Field: "recording.started_at", Problem: "is required"})
	case ev.SessionID != r.SessionID:
		return fmt.Errorf("add recording %s: %w", r.ID, &storage.ValidationError{Field: "event.session_id", Problem: "differs from the recording's"})
	}
	if r.Status == "" {
		r.Status = storage.RecordingComplete
	}
	if r.Tracks == nil {
		r.Tracks = []string{}
	}
	tracks, err := json.Marshal(r.Tracks)
	if err != nil {
		return fmt.Errorf("add recording %s: %w", r.ID, err)
	}
	err = s.historyTx(ctx, func(tx pgx.Tx) error {
		if err := sessionExists(ctx, tx, r.SessionID); err != nil {
			return err
		}
		if err := exec(ctx, tx, `INSERT INTO recordings (id, session_id, org_id, blob_key, content_type, size,
			sha256, status, started_by, started_at, ended_at, name, duration_ms, tracks, participant_id)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14::json, $15)`,
			r.ID, r.SessionID, r.OrgID, r.BlobKey, r.ContentType, r.Size, r.SHA256, r.Status, r.StartedBy,
			nanos(r.StartedAt), optNanos(r.EndedAt), r.Name, r.DurationMS, string(tracks), r.Participant); err != nil {
			return err
		}
		return appendHistoryEvent(ctx, tx, ev, func(rec *storage.HistoryRecord) { rec.Recording = &r })
	})
	if err != nil {
		return fmt.Errorf("add recording %s to session %s: %w", r.ID, r.SessionID, err)
	}
	return nil
}

// SessionMedia lists a session's media in the order they were shared,
// deleted ones left out.
func (s *Store) SessionMedia(ctx context.Context, sessionID string) ([]storage.Media, error) {
	rows, _ := s.pool.Query(ctx, `SELECT `+mediaColumns+` FROM media WHERE session_id = $1 AND deleted_at IS NULL
		ORDER BY created_at, id`, sessionID)
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (storage.Media, error) { return scanMedia(r) })
	if err != nil {
		return nil, fmt.Errorf("media of session %s: %w", sessionID, err)
	}
	return out, nil
}

// SessionRecordings lists a session's recordings by start time, deleted
// ones left out.
func (s *Store) SessionRecordings(ctx context.Context, sessionID string) ([]storage.Recording, error) {
	rows, _ := s.pool.Query(ctx, `SELECT `+recordingColumns+` FROM recordings WHERE session_id = $1 AND status <> 'deleted'
		ORDER BY started_at, id`, sessionID)
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (storage.Recording, error) { return scanRecording(r) })
	if err != nil {
		return nil, fmt.Errorf("recordings of session %s: %w", sessionID, err)
	}
	return out, nil
}

// ForwardedBlobs lists the blobs of forwarded media and recordings that
// are not deleted, once each, by key: the origin that sorts first byte by
// byte and the largest size when rows over one blob disagree, as SQLite's
// min and max pick them.
func (s *Store) ForwardedBlobs(ctx context.Context) ([]storage.BlobRef, error) {
	rows, _ := s.pool.Query(ctx, `SELECT blob_key, min(origin COLLATE "C"), max(size) FROM (
		SELECT blob_key, origin, size FROM media WHERE origin <> '' AND deleted_at IS NULL
		UNION ALL
		SELECT blob_key, origin, size FROM recordings WHERE origin <> '' AND status <> 'deleted') AS forwarded
		GROUP BY blob_key ORDER BY blob_key COLLATE "C"`)
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (storage.BlobRef, error) {
		var b storage.BlobRef
		return b, r.Scan(&b.Key, &b.Origin, &b.Size)
	})
	if err != nil {
		return nil, fmt.Errorf("forwarded blobs: %w", err)
	}
	return out, nil
}

// MediaBlobLive reports whether a media or recording row that is not
// deleted refers to blob key.
func (s *Store) MediaBlobLive(ctx context.Context, key string) (bool, error) {
	var live bool
	err := s.pool.QueryRow(ctx, `SELECT
		EXISTS (SELECT 1 FROM media WHERE blob_key = $1 AND deleted_at IS NULL) OR
		EXISTS (SELECT 1 FROM recordings WHERE blob_key = $1 AND status <> 'deleted')`, key).Scan(&live)
	if err != nil {
		return false, fmt.Errorf("blob %s in use: %w", key, err)
	}
	return live, nil
}

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
// the audit event and their history records, all in one transaction. A
// row that is not there is storage.ErrNotFound, one deleted already
// storage.ErrConflict.
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
	err := s.historyTx(ctx, func(tx pgx.Tx) error {
		if err := tombstoneLive(ctx, tx, d); err != nil {
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
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`, audit.ID, audit.OrgID, audit.SiteID, nanos(audit.At), audit.ActorID,
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

// tombstoneLive marks the live row of d's session that d deletes: none is
// storage.ErrNotFound, a tombstone already storage.ErrConflict. (Applied
// from history, tombstone changes what is there and nothing else.)
func tombstoneLive(ctx context.Context, tx pgx.Tx, d storage.MediaDeletion) error {
	q := `UPDATE media SET deleted_at = $1, deleted_by = $2 WHERE id = $3 AND session_id = $4 AND deleted_at IS NULL`
	table := "media"
	if d.What == storage.DeletedRecording {
		q = `UPDATE recordings SET status = 'deleted', deleted_at = $1, deleted_by = $2
			WHERE id = $3 AND session_id = $4 AND status <> 'deleted'`
		table = "recordings"
	}
	tag, err := tx.Exec(ctx, q, nanos(d.At), d.By, d.ID, d.SessionID)
	if err != nil {
		return domainError(err)
	}
	if tag.RowsAffected() > 0 {
		return nil
	}
	var one int
	err = tx.QueryRow(ctx, `SELECT 1 FROM `+table+` WHERE id = $1 AND session_id = $2`, d.ID, d.SessionID).Scan(&one)
	if errors.Is(err, pgx.ErrNoRows) {
		return fmt.Errorf("%s %s: %w", d.What, d.ID, storage.ErrNotFound)
	}
	if err != nil {
		return err
	}
	return fmt.Errorf("%s %s is deleted already: %w", d.What, d.ID, storage.ErrConflict)
}

// keepDeletion stores d in media_deletions; the first deletion of a row
// is the one kept.
func keepDeletion(ctx context.Context, tx pgx.Tx, d storage.MediaDeletion) error {
	return exec(ctx, tx, `INSERT INTO media_deletions (id, what, session_id, org_id, kind, name, sha256,
		deleted_at, deleted_by, by_name) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT (id) DO NOTHING`,
		d.ID, d.What, d.SessionID, d.OrgID, d.Kind, d.Name, d.SHA256, nanos(d.At), d.By, d.ByName)
}

const deletionColumns = `id, what, session_id, org_id, kind, name, sha256, deleted_at, deleted_by, by_name`

func scanDeletion(r pgx.Row) (storage.MediaDeletion, error) {
	var d storage.MediaDeletion
	var at int64
	err := r.Scan(&d.ID, &d.What, &d.SessionID, &d.OrgID, &d.Kind, &d.Name, &d.SHA256, &at, &d.By, &d.ByName)
	d.At = timeOf(&at)
	return d, err
}

// PendingBlobDeletions lists up to limit deletions whose bytes the
// sweeper has not dealt with yet, oldest first.
func (s *Store) PendingBlobDeletions(ctx context.Context, limit int) ([]storage.MediaDeletion, error) {
	rows, _ := s.pool.Query(ctx, `SELECT `+deletionColumns+` FROM media_deletions WHERE NOT blob_done
		ORDER BY deleted_at, id LIMIT $1`, limitArg(limit))
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (storage.MediaDeletion, error) { return scanDeletion(r) })
	if err != nil {
		return nil, fmt.Errorf("pending media deletions: %w", err)
	}
	return out, nil
}

// MarkBlobDeletionDone records that the bytes of deletion id were dealt
// with: removed, or kept for a live row that shares them.
func (s *Store) MarkBlobDeletionDone(ctx context.Context, id string) error {
	if _, err := s.pool.Exec(ctx, `UPDATE media_deletions SET blob_done = true WHERE id = $1`, id); err != nil {
		return fmt.Errorf("media deletion %s done: %w", id, domainError(err))
	}
	return nil
}

// limitArg is limit as a LIMIT's argument: a negative one is no limit,
// as in SQLite, where PostgreSQL would refuse it.
func limitArg(limit int) any {
	if limit < 0 {
		return nil
	}
	return limit
}
