package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"siteline/storage"
)

// ApplyHistory is headquarters' side of forwarding (see history_outbox.go):
// records born at other nodes, applied here without adding them to this
// node's own outbox.

var _ storage.HistoryApplier = (*Store)(nil)

// ApplyHistory applies a batch of forwarded records in one transaction.
// Every insert is idempotent by id (a record applied twice changes nothing
// the second time); a session is upserted, the later status winning. A
// message that can never apply (malformed, invalid) is kept in
// history_rejected and counted, so it does not block the ones behind it;
// any other error rolls the whole batch back and is returned, and the
// caller retries.
func (s *Store) ApplyHistory(ctx context.Context, batch []storage.HistoryMessage) (storage.HistoryApplied, error) {
	var out storage.HistoryApplied
	var deletions bool
	now := time.Now().UTC()
	err := s.writeTx(ctx, func(tx *sql.Tx) error {
		out, deletions = storage.HistoryApplied{}, false
		marks := map[string]int64{}
		for _, m := range batch {
			if _, err := tx.ExecContext(ctx, `SAVEPOINT record`); err != nil {
				return err
			}
			var id, kind string
			var err error
			if m.Origin == "" || m.Seq <= 0 {
				err = &storage.ValidationError{Field: "origin", Problem: "and a positive seq are required"}
			} else {
				marks[m.Origin] = max(marks[m.Origin], m.Seq)
				id, kind, err = applyHistoryRecord(ctx, tx, m.Origin, m.Record)
			}
			if err == nil {
				out.Applied++
				deletions = deletions || kind == storage.HistoryMediaDeleted
				if _, err := tx.ExecContext(ctx, `RELEASE record`); err != nil {
					return err
				}
				continue
			}
			if _, rerr := tx.ExecContext(ctx, `ROLLBACK TO record`); rerr != nil {
				return errors.Join(err, rerr)
			}
			if !deterministic(err) {
				return err
			}
			rej := storage.HistoryRejection{Origin: m.Origin, Seq: m.Seq, ID: id, Reason: err.Error()}
			if err := exec(ctx, tx, `INSERT INTO history_rejected (origin, seq, id, reason, message, rejected_at)
				VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
				m.Origin, m.Seq, id, rej.Reason, []byte(m.Record), nanos(now)); err != nil {
				return err
			}
			out.Rejected = append(out.Rejected, rej)
		}
		for origin, seq := range marks {
			if err := exec(ctx, tx, `INSERT INTO history_marks (origin, seq, applied_at) VALUES (?, ?, ?)
				ON CONFLICT (origin) DO UPDATE SET seq = max(seq, excluded.seq), applied_at = excluded.applied_at`,
				origin, seq, nanos(now)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return storage.HistoryApplied{}, fmt.Errorf("apply %d history records: %w", len(batch), err)
	}
	if deletions {
		s.notifyDeletion()
	}
	return out, nil
}

// applyHistoryRecord applies one record that origin sent and returns its
// id and kind. Its errors are deterministic (storage.ErrInvalid and
// friends) when the record is at fault.
func applyHistoryRecord(ctx context.Context, tx *sql.Tx, origin string, raw json.RawMessage) (string, string, error) {
	rec, err := decodeHistoryRecord(raw)
	if err != nil {
		return rec.ID, rec.Kind, err
	}
	return rec.ID, rec.Kind, applyRecord(ctx, tx, origin, rec)
}

// decodeHistoryRecord decodes and checks a forwarded record.
func decodeHistoryRecord(raw json.RawMessage) (storage.HistoryRecord, error) {
	var rec storage.HistoryRecord
	if err := json.Unmarshal(raw, &rec); err != nil {
		return storage.HistoryRecord{}, fmt.Errorf("decode history record: %v: %w", err, storage.ErrInvalid)
	}
	if err := rec.Check(); err != nil {
		return rec, fmt.Errorf("history record %s (%s): %w", rec.ID, rec.Kind, err)
	}
	return rec, nil
}

// applyRecord applies one checked record.
func applyRecord(ctx context.Context, tx *sql.Tx, origin string, rec storage.HistoryRecord) error {
	if rec.Kind == storage.HistoryAudit {
		e := rec.Audit
		return exec(ctx, tx, `INSERT INTO audit_events (id, org_id, site_id, at, actor_id, action, target, detail)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING`,
			e.ID, e.OrgID, e.SiteID, nanos(e.At), e.ActorID, e.Action, e.Target, e.Detail)
	}
	if err := upsertSession(ctx, tx, *rec.Session); err != nil {
		return err
	}
	if rec.Kind == storage.HistoryServiceReport {
		return applyServiceReport(ctx, tx, rec)
	}
	if rec.Kind == storage.HistoryFields {
		_, err := applyFieldsTx(ctx, tx, rec.Session.ID, *rec.Fields)
		return err
	}
	if p := rec.Participant; p != nil {
		kind := p.UserKind
		if kind == "" {
			kind = storage.UserRegular
		}
		if err := exec(ctx, tx, `INSERT INTO session_participants (id, session_id, user_id, display_name,
			user_kind, device_kind, hidden, joined_at, left_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (id) DO UPDATE SET left_at = COALESCE(session_participants.left_at, excluded.left_at),
				hidden = min(session_participants.hidden, excluded.hidden)`,
			p.ID, p.SessionID, p.UserID, p.DisplayName, string(kind), p.DeviceKind, p.Hidden,
			nanos(p.JoinedAt), optNanos(p.LeftAt)); err != nil {
			return err
		}
	}
	if ev := rec.Event; ev != nil {
		payload := string(ev.Payload)
		if payload == "" {
			payload = "{}"
		}
		if err := exec(ctx, tx, `INSERT INTO session_events (id, session_id, seq, at, kind, actor_id, payload)
			VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
			ev.ID, ev.SessionID, ev.Seq, nanos(ev.At), ev.Kind, ev.ActorID, payload); err != nil {
			return err
		}
		if ev.Kind == storage.EventTakenOver || ev.Kind == storage.EventTransfer {
			if err := settleOwner(ctx, tx, ev.SessionID); err != nil {
				return err
			}
		}
	}
	if err := applyMediaRows(ctx, tx, origin, rec); err != nil {
		return err
	}
	if d := rec.Deletion; d != nil {
		return applyDeletion(ctx, tx, *d)
	}
	return nil
}

// applyMediaRows keeps the media or recording row an event announced, its
// blob key the SHA-256 of the bytes, which stay at origin for now.
func applyMediaRows(ctx context.Context, tx *sql.Tx, origin string, rec storage.HistoryRecord) error {
	if m := rec.Media; m != nil {
		annotations := ""
		if len(m.Annotations) > 0 {
			annotations = string(m.Annotations)
		}
		if err := exec(ctx, tx, `INSERT INTO media (id, session_id, org_id, kind, name, blob_key, content_type,
			size, sha256, annotations, created_by, created_at, participant_id, of_participant, origin)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING`,
			m.ID, m.SessionID, m.OrgID, m.Kind, m.Name, m.SHA256, m.ContentType, m.Size, m.SHA256,
			annotations, m.CreatedBy, nanos(m.CreatedAt), m.Participant, m.Of, origin); err != nil {
			return err
		}
		if err := settleDeletion(ctx, tx, storage.DeletedMedia, m.ID); err != nil {
			return err
		}
	}
	if r := rec.Recording; r != nil {
		tracks, err := json.Marshal(nonNilStrings(r.Tracks))
		if err != nil {
			return err
		}
		if err := exec(ctx, tx, `INSERT INTO recordings (id, session_id, org_id, blob_key, content_type, size,
			sha256, status, started_by, started_at, ended_at, name, duration_ms, tracks, participant_id, origin)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING`,
			r.ID, r.SessionID, r.OrgID, r.SHA256, r.ContentType, r.Size, r.SHA256, r.Status, r.StartedBy,
			nanos(r.StartedAt), optNanos(r.EndedAt), r.Name, r.DurationMS, string(tracks), r.Participant, origin); err != nil {
			return err
		}
		if err := settleDeletion(ctx, tx, storage.DeletedRecording, r.ID); err != nil {
			return err
		}
	}
	return nil
}

// upsertSession stores a forwarded session: new, or the later of the two
// when already present (a status never goes back: ringing, active, ended).
// The owner is the first record's; later owners come from the take-over
// and transfer events (settleOwner), whatever order records arrive in.
func upsertSession(ctx context.Context, tx *sql.Tx, ss storage.Session) error {
	return exec(ctx, tx, `INSERT INTO sessions (id, org_id, site_id, kind, name, goal, status, created_by,
		owner_id, team_id, started_at, ended_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (id) DO UPDATE SET
			status = CASE WHEN `+statusRank("excluded.status")+` > `+statusRank("sessions.status")+`
				THEN excluded.status ELSE sessions.status END,
			ended_at = COALESCE(sessions.ended_at, excluded.ended_at),
			updated_at = max(COALESCE(sessions.updated_at, 0), COALESCE(excluded.updated_at, 0))`,
		ss.ID, ss.OrgID, ss.SiteID, ss.Kind, ss.Name, ss.Goal, ss.Status, ss.CreatedBy, ss.Owner(), ss.TeamID,
		nanos(ss.StartedAt), optNanos(ss.EndedAt), nanos(ss.StartedAt))
}

// settleOwner sets a forwarded session's owner to the one its latest
// take-over or transfer event names (payload "owner"), so that the owner
// does not depend on the order the records were applied in.
func settleOwner(ctx context.Context, tx *sql.Tx, sessionID string) error {
	return exec(ctx, tx, `UPDATE sessions SET owner_id = COALESCE((SELECT json_extract(payload, '$.owner')
		FROM session_events WHERE session_id = ?1 AND kind IN (?2, ?3)
			AND json_extract(payload, '$.owner') IS NOT NULL ORDER BY seq DESC LIMIT 1), owner_id)
		WHERE id = ?1`, sessionID, storage.EventTakenOver, storage.EventTransfer)
}

func statusRank(col string) string {
	return `(CASE ` + col + ` WHEN 'ringing' THEN 0 WHEN 'active' THEN 1 WHEN 'ended' THEN 2 ELSE -1 END)`
}

// HistoryMarks returns the applied mark of each origin node.
func (s *Store) HistoryMarks(ctx context.Context) (map[string]int64, error) {
	rows, err := s.read.QueryContext(ctx, `SELECT origin, seq FROM history_marks`)
	if err != nil {
		return nil, fmt.Errorf("history marks: %w", err)
	}
	defer rows.Close()
	out := map[string]int64{}
	for rows.Next() {
		var origin string
		var seq int64
		if err := rows.Scan(&origin, &seq); err != nil {
			return nil, fmt.Errorf("history marks: %w", err)
		}
		out[origin] = seq
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("history marks: %w", err)
	}
	return out, nil
}

// HistoryRejected lists the messages kept in history_rejected, by origin
// and sequence, for an operator.
func (s *Store) HistoryRejected(ctx context.Context) ([]storage.HistoryRejection, error) {
	out, err := collect(ctx, s.read, func(r *sql.Rows) (storage.HistoryRejection, error) {
		var rej storage.HistoryRejection
		return rej, r.Scan(&rej.Origin, &rej.Seq, &rej.ID, &rej.Reason)
	}, `SELECT origin, seq, id, reason FROM history_rejected ORDER BY origin, seq`)
	if err != nil {
		return nil, fmt.Errorf("rejected history: %w", err)
	}
	return out, nil
}
