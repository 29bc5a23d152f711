package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"

	"siteline/storage"
)

// The storage.MediaStore methods, on the media and recordings tables
// (migrations 00002 and 00007). A row and its session event are written in
// one transaction with the event's history record, like the other session
// writes; the bytes are in the node's blob store before the row is.

var _ storage.MediaStore = (*Store)(nil)

// AddMedia stores a snapshot or file row and appends its event.
func (s *Store) AddMedia(ctx context.Context, m storage.Media, ev storage.SessionEvent) error {
	if err := m.Check(ev); err != nil {
		return fmt.Errorf("add media %s: %w", m.ID, err)
	}
	annotations := ""
	if len(m.Annotations) > 0 {
		if !json.Valid(m.Annotations) {
			return fmt.Errorf("add media %s: %w", m.ID, &storage.ValidationError{Field: "media.annotations", Problem: "is not valid JSON"})
		}
		annotations = string(m.Annotations)
	}
	err := s.historyTx(ctx, func(tx *sql.Tx) error {
		if err := sessionExists(ctx, tx, m.SessionID); err != nil {
			return err
		}
		if err := exec(ctx, tx, `INSERT INTO media (id, session_id, org_id, kind, name, blob_key, content_type,
			size, sha256, annotations, created_by, created_at, participant_id, of_participant)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
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
func appendHistoryEvent(ctx context.Context, tx *sql.Tx, ev storage.SessionEvent, attach func(*storage.HistoryRecord)) error {
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

const mediaColumns = `id, session_id, org_id, kind, name, blob_key, content_type, size, sha256, annotations,
	created_by, created_at, participant_id, of_participant, origin, deleted_at, deleted_by`

func scanMedia(r interface{ Scan(...any) error }) (storage.Media, error) {
	var m storage.Media
	var annotations string
	err := r.Scan(&m.ID, &m.SessionID, &m.OrgID, &m.Kind, &m.Name, &m.BlobKey, &m.ContentType, &m.Size,
		&m.SHA256, &annotations, &m.CreatedBy, timeDest{&m.CreatedAt}, &m.Participant, &m.Of, &m.Origin,
		optTimeDest{&m.DeletedAt}, &m.DeletedBy)
	if annotations != "" {
		m.Annotations = json.RawMessage(annotations)
	}
	return m, err
}

// Media returns one media row, a tombstone included, or
// storage.ErrNotFound.
func (s *Store) Media(ctx context.Context, id string) (storage.Media, error) {
	m, err := scanMedia(s.read.QueryRowContext(ctx, `SELECT `+mediaColumns+` FROM media WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return m, fmt.Errorf("media %s: %w", id, storage.ErrNotFound)
	}
	if err != nil {
		return m, fmt.Errorf("media %s: %w", id, err)
	}
	return m, nil
}

// SessionMedia lists a session's media in the order they were shared.
func (s *Store) SessionMedia(ctx context.Context, sessionID string) ([]storage.Media, error) {
	out, err := collect(ctx, s.read, func(r *sql.Rows) (storage.Media, error) { return scanMedia(r) },
		`SELECT `+mediaColumns+` FROM media WHERE session_id = ? AND deleted_at IS NULL
		ORDER BY created_at, id`, sessionID)
	if err != nil {
		return nil, fmt.Errorf("media of session %s: %w", sessionID, err)
	}
	return out, nil
}

// AddRecording stores a recording file's row and appends its event.
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
	tracks, err := json.Marshal(nonNilStrings(r.Tracks))
	if err != nil {
		return fmt.Errorf("add recording %s: %w", r.ID, err)
	}
	err = s.historyTx(ctx, func(tx *sql.Tx) error {
		if err := sessionExists(ctx, tx, r.SessionID); err != nil {
			return err
		}
		if err := exec(ctx, tx, `INSERT INTO recordings (id, session_id, org_id, blob_key, content_type, size,
			sha256, status, started_by, started_at, ended_at, name, duration_ms, tracks, participant_id)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
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

func nonNilStrings(v []string) []string {
	if v == nil {
		return []string{}
	}
	return v
}

const recordingColumns = `id, session_id, org_id, blob_key, content_type, size, sha256, status, started_by,
	started_at, ended_at, name, duration_ms, tracks, participant_id, origin, deleted_at, deleted_by`

func scanRecording(r interface{ Scan(...any) error }) (storage.Recording, error) {
	var rec storage.Recording
	var tracks string
	err := r.Scan(&rec.ID, &rec.SessionID, &rec.OrgID, &rec.BlobKey, &rec.ContentType, &rec.Size, &rec.SHA256,
		&rec.Status, &rec.StartedBy, timeDest{&rec.StartedAt}, optTimeDest{&rec.EndedAt}, &rec.Name,
		&rec.DurationMS, &tracks, &rec.Participant, &rec.Origin, optTimeDest{&rec.DeletedAt}, &rec.DeletedBy)
	if err == nil {
		err = json.Unmarshal([]byte(tracks), &rec.Tracks)
	}
	return rec, err
}

// Recording returns one recording, a tombstone included (status
// deleted), or storage.ErrNotFound.
func (s *Store) Recording(ctx context.Context, id string) (storage.Recording, error) {
	rec, err := scanRecording(s.read.QueryRowContext(ctx, `SELECT `+recordingColumns+` FROM recordings
		WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return rec, fmt.Errorf("recording %s: %w", id, storage.ErrNotFound)
	}
	if err != nil {
		return rec, fmt.Errorf("recording %s: %w", id, err)
	}
	return rec, nil
}

// SessionRecordings lists a session's recordings by start time.
func (s *Store) SessionRecordings(ctx context.Context, sessionID string) ([]storage.Recording, error) {
	out, err := collect(ctx, s.read, func(r *sql.Rows) (storage.Recording, error) { return scanRecording(r) },
		`SELECT `+recordingColumns+` FROM recordings WHERE session_id = ? AND status <> 'deleted'
		ORDER BY started_at, id`, sessionID)
	if err != nil {
		return nil, fmt.Errorf("recordings of session %s: %w", sessionID, err)
	}
	return out, nil
}

// ForwardedBlobs lists the blobs of forwarded media and recordings.
func (s *Store) ForwardedBlobs(ctx context.Context) ([]storage.BlobRef, error) {
	out, err := collect(ctx, s.read, func(r *sql.Rows) (storage.BlobRef, error) {
		var b storage.BlobRef
		return b, r.Scan(&b.Key, &b.Origin, &b.Size)
	}, `SELECT blob_key, min(origin), max(size) FROM (
		SELECT blob_key, origin, size FROM media WHERE origin <> '' AND deleted_at IS NULL
		UNION ALL
		SELECT blob_key, origin, size FROM recordings WHERE origin <> '' AND status <> 'deleted')
		GROUP BY blob_key ORDER BY blob_key`)
	if err != nil {
		return nil, fmt.Errorf("forwarded blobs: %w", err)
	}
	return out, nil
}
