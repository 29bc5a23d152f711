package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"siteline/storage"
)

// Session media as headquarters keeps it: the rows of snapshots, files
// and recordings other nodes forwarded, with the node that holds their
// bytes as their origin, and their deletions (tombstones). Written only by
// the history applier here; the bytes are fetched from the origin when
// first opened (cluster/history).

// applyMediaRows keeps the media or recording row an event announced,
// its blob key the SHA-256 of the bytes, which stay at origin for now.
func applyMediaRows(ctx context.Context, tx pgx.Tx, origin string, rec storage.HistoryRecord) error {
	if m := rec.Media; m != nil {
		var annotations *string
		if len(m.Annotations) > 0 {
			a := string(m.Annotations)
			annotations = &a
		}
		if err := exec(ctx, tx, `INSERT INTO media (id, session_id, org_id, kind, name, blob_key, content_type,
			size, sha256, annotations, created_by, created_at, participant_id, of_participant, origin)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $6, $9::json, $10, $11, $12, $13, $14) ON CONFLICT (id) DO NOTHING`,
			m.ID, m.SessionID, m.OrgID, m.Kind, m.Name, m.SHA256, m.ContentType, m.Size,
			annotations, m.CreatedBy, nanos(m.CreatedAt), m.Participant, m.Of, origin); err != nil {
			return err
		}
		if err := settleDeletion(ctx, tx, storage.DeletedMedia, m.ID); err != nil {
			return err
		}
	}
	if r := rec.Recording; r != nil {
		tracks := r.Tracks
		if tracks == nil {
			tracks = []string{}
		}
		body, err := json.Marshal(tracks)
		if err != nil {
			return err
		}
		if err := exec(ctx, tx, `INSERT INTO recordings (id, session_id, org_id, blob_key, content_type, size,
			sha256, status, started_by, started_at, ended_at, name, duration_ms, tracks, participant_id, origin)
			VALUES ($1, $2, $3, $4, $5, $6, $4, $7, $8, $9, $10, $11, $12, $13::json, $14, $15) ON CONFLICT (id) DO NOTHING`,
			r.ID, r.SessionID, r.OrgID, r.SHA256, r.ContentType, r.Size, r.Status, r.StartedBy,
			nanos(r.StartedAt), optNanos(r.EndedAt), r.Name, r.DurationMS, string(body), r.Participant, origin); err != nil {
			return err
		}
		if err := settleDeletion(ctx, tx, storage.DeletedRecording, r.ID); err != nil {
			return err
		}
	}
	return nil
}

// applyDeletion applies a forwarded deletion: kept (the first deletion of
// a row is the one kept), and the row, if it is here, tombstoned.
func applyDeletion(ctx context.Context, tx pgx.Tx, d storage.MediaDeletion) error {
	if err := keepDeletion(ctx, tx, d); err != nil {
		return err
	}
	return tombstone(ctx, tx, d)
}

// settleDeletion tombstones a forwarded row that was just applied if its
// deletion came first.
func settleDeletion(ctx context.Context, tx pgx.Tx, what, id string) error {
	d := storage.MediaDeletion{What: what}
	var at int64
	err := tx.QueryRow(ctx, `SELECT id, session_id, deleted_at, deleted_by FROM media_deletions
		WHERE id = $1 AND what = $2`, id, what).Scan(&d.ID, &d.SessionID, &at, &d.By)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil
	}
	if err != nil {
		return err
	}
	d.At = timeOf(&at)
	return tombstone(ctx, tx, d)
}

// tombstone marks the row d deletes, if it is here and not deleted yet.
func tombstone(ctx context.Context, tx pgx.Tx, d storage.MediaDeletion) error {
	q := `UPDATE media SET deleted_at = $1, deleted_by = $2 WHERE id = $3 AND session_id = $4 AND deleted_at IS NULL`
	if d.What == storage.DeletedRecording {
		q = `UPDATE recordings SET status = 'deleted', deleted_at = $1, deleted_by = $2
			WHERE id = $3 AND session_id = $4 AND status <> 'deleted'`
	}
	return exec(ctx, tx, q, nanos(d.At), d.By, d.ID, d.SessionID)
}

const mediaColumns = `id, session_id, org_id, kind, name, blob_key, content_type, size, sha256, annotations::text,
	created_by, created_at, participant_id, of_participant, origin, deleted_at, deleted_by`

func scanMedia(r pgx.Row) (storage.Media, error) {
	var m storage.Media
	var annotations *string
	var created int64
	var deleted *int64
	err := r.Scan(&m.ID, &m.SessionID, &m.OrgID, &m.Kind, &m.Name, &m.BlobKey, &m.ContentType, &m.Size, &m.SHA256,
		&annotations, &m.CreatedBy, &created, &m.Participant, &m.Of, &m.Origin, &deleted, &m.DeletedBy)
	if annotations != nil {
		m.Annotations = json.RawMessage(*annotations)
	}
	m.CreatedAt, m.DeletedAt = timeOf(&created), optTimeOf(deleted)
	return m, err
}

// Media returns one media row, a tombstone included, or
// storage.ErrNotFound.
func (s *Store) Media(ctx context.Context, id string) (storage.Media, error) {
	m, err := scanMedia(s.pool.QueryRow(ctx, `SELECT `+mediaColumns+` FROM media WHERE id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return m, fmt.Errorf("media %s: %w", id, storage.ErrNotFound)
	}
	if err != nil {
		return m, fmt.Errorf("media %s: %w", id, err)
	}
	return m, nil
}

const recordingColumns = `id, session_id, org_id, blob_key, content_type, size, sha256, status, started_by,
	started_at, ended_at, name, duration_ms, tracks::text, participant_id, origin, deleted_at, deleted_by`

func scanRecording(row pgx.Row) (storage.Recording, error) {
	var r storage.Recording
	var tracks string
	var started int64
	var ended, deleted *int64
	err := row.Scan(&r.ID, &r.SessionID, &r.OrgID, &r.BlobKey, &r.ContentType, &r.Size, &r.SHA256, &r.Status, &r.StartedBy,
		&started, &ended, &r.Name, &r.DurationMS, &tracks, &r.Participant, &r.Origin, &deleted, &r.DeletedBy)
	if err == nil {
		err = json.Unmarshal([]byte(tracks), &r.Tracks)
	}
	r.StartedAt, r.EndedAt, r.DeletedAt = timeOf(&started), optTimeOf(ended), optTimeOf(deleted)
	return r, err
}

// Recording returns one recording, a tombstone included (status
// deleted), or storage.ErrNotFound.
func (s *Store) Recording(ctx context.Context, id string) (storage.Recording, error) {
	r, err := scanRecording(s.pool.QueryRow(ctx, `SELECT `+recordingColumns+` FROM recordings WHERE id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return r, fmt.Errorf("recording %s: %w", id, storage.ErrNotFound)
	}
	if err != nil {
		return r, fmt.Errorf("recording %s: %w", id, err)
	}
	return r, nil
}

// SessionDeletions lists a session's deleted media and recordings.
func (s *Store) SessionDeletions(ctx context.Context, sessionID string) ([]storage.MediaDeletion, error) {
	rows, _ := s.pool.Query(ctx, `SELECT `+deletionColumns+` FROM media_deletions
		WHERE session_id = $1 ORDER BY deleted_at, id`, sessionID)
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (storage.MediaDeletion, error) { return scanDeletion(r) })
	if err != nil {
		return nil, fmt.Errorf("deleted media of session %s: %w", sessionID, err)
	}
	return out, nil
}
