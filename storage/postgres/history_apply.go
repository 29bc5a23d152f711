package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"siteline/storage"
)

// ApplyHistory is headquarters' side of forwarding: records born at other
// nodes, applied here without adding them to this store's own outbox, as
// storage/sqlite's history_apply.go does.

// ApplyHistory applies a batch of forwarded records in one transaction.
// Every insert is idempotent by id (a record applied twice changes nothing
// the second time); a session is upserted, the later status winning. A
// message that can never apply (malformed, invalid) is kept in
// history_rejected and listed, so it does not block the ones behind it;
// any other error rolls the whole batch back and is returned, and the
// caller retries.
func (s *Store) ApplyHistory(ctx context.Context, batch []storage.HistoryMessage) (storage.HistoryApplied, error) {
	var out storage.HistoryApplied
	var deletions bool
	now := time.Now().UTC()
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		out, deletions = storage.HistoryApplied{}, false
		marks := map[string]int64{}
		for _, m := range batch {
			var id, kind string
			var err error
			if m.Origin == "" || m.Seq <= 0 {
				err = &storage.ValidationError{Field: "origin", Problem: "and a positive seq are required"}
			} else {
				marks[m.Origin] = max(marks[m.Origin], m.Seq)
				// A savepoint per record: a record that fails is undone
				// alone and the transaction goes on.
				err = pgx.BeginFunc(ctx, tx, func(sp pgx.Tx) error {
					var err error
					id, kind, err = s.applyHistoryRecord(ctx, sp, m.Origin, m.Record)
					return err
				})
			}
			if err == nil {
				out.Applied++
				deletions = deletions || kind == storage.HistoryMediaDeleted
				continue
			}
			if !deterministic(err) {
				return err
			}
			rej := storage.HistoryRejection{Origin: m.Origin, Seq: m.Seq, ID: id, Reason: err.Error()}
			if err := exec(ctx, tx, `INSERT INTO history_rejected (origin, seq, id, reason, message, rejected_at)
				VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING`,
				m.Origin, m.Seq, id, rej.Reason, []byte(m.Record), nanos(now)); err != nil {
				return err
			}
			out.Rejected = append(out.Rejected, rej)
		}
		for origin, seq := range marks {
			if err := exec(ctx, tx, `INSERT INTO history_marks (origin, seq, applied_at) VALUES ($1, $2, $3)
				ON CONFLICT (origin) DO UPDATE SET seq = GREATEST(history_marks.seq, excluded.seq), applied_at = excluded.applied_at`,
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
		// The sweeper removes the bytes headquarters holds of what the
		// deletions removed, once they are committed.
		s.notifyDeletion()
	}
	return out, nil
}

// deterministic reports whether err comes from the record itself, and so
// fails the same way on every try, as opposed to an I/O, context or
// configuration error of this node.
func deterministic(err error) bool {
	return errors.Is(err, storage.ErrInvalid) ||
		errors.Is(err, storage.ErrConflict) ||
		errors.Is(err, storage.ErrNotFound)
}

// applyHistoryRecord decodes, checks and applies one record, and returns
// its id and kind.
func (s *Store) applyHistoryRecord(ctx context.Context, tx pgx.Tx, origin string, raw json.RawMessage) (string, string, error) {
	var rec storage.HistoryRecord
	if err := json.Unmarshal(raw, &rec); err != nil {
		return "", "", fmt.Errorf("decode history record: %v: %w", err, storage.ErrInvalid)
	}
	if err := rec.Check(); err != nil {
		return rec.ID, rec.Kind, fmt.Errorf("history record %s (%s): %w", rec.ID, rec.Kind, err)
	}
	return rec.ID, rec.Kind, s.applyRecord(ctx, tx, origin, rec)
}

// applyRecord applies one checked record that origin sent.
func (s *Store) applyRecord(ctx context.Context, tx pgx.Tx, origin string, rec storage.HistoryRecord) error {
	if rec.Kind == storage.HistoryAudit {
		_, err := insertAudit(ctx, tx, *rec.Audit)
		return err
	}
	if err := upsertSession(ctx, tx, *rec.Session); err != nil {
		return err
	}
	if rec.Kind == storage.HistoryServiceReport {
		return applyServiceReport(ctx, tx, *rec.Report)
	}
	if rec.Kind == storage.HistoryFields {
		_, err := s.applyFieldsTx(ctx, tx, rec.Session.ID, *rec.Fields)
		return err
	}
	if p := rec.Participant; p != nil {
		kind := p.UserKind
		if kind == "" {
			kind = storage.UserRegular
		}
		if err := exec(ctx, tx, `INSERT INTO session_participants (id, session_id, user_id, display_name,
			user_kind, device_kind, hidden, joined_at, left_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
			ON CONFLICT (id) DO UPDATE SET left_at = COALESCE(session_participants.left_at, excluded.left_at),
				hidden = session_participants.hidden AND excluded.hidden`,
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
			VALUES ($1, $2, $3, $4, $5, $6, $7::json) ON CONFLICT DO NOTHING`,
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

// upsertSession stores a forwarded session: new, or the later of the two
// when already present (a status never goes back: ringing, active, ended).
// The owner is the first record's; later owners come from the take-over
// and transfer events (settleOwner), whatever order records arrive in.
func upsertSession(ctx context.Context, tx pgx.Tx, ss storage.Session) error {
	return exec(ctx, tx, `INSERT INTO sessions (id, org_id, site_id, kind, name, goal, status, created_by,
		owner_id, team_id, started_at, ended_at, updated_at, goal_key) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $11, $13)
		ON CONFLICT (id) DO UPDATE SET
			status = CASE WHEN `+statusRank("excluded.status")+` > `+statusRank("sessions.status")+`
				THEN excluded.status ELSE sessions.status END,
			ended_at = COALESCE(sessions.ended_at, excluded.ended_at),
			updated_at = GREATEST(COALESCE(sessions.updated_at, 0), COALESCE(excluded.updated_at, 0))`,
		ss.ID, ss.OrgID, ss.SiteID, ss.Kind, ss.Name, ss.Goal, ss.Status, ss.CreatedBy, ss.Owner(), ss.TeamID,
		nanos(ss.StartedAt), optNanos(ss.EndedAt), storage.GoalKey(ss.Goal))
}

func statusRank(col string) string {
	return `(CASE ` + col + ` WHEN 'ringing' THEN 0 WHEN 'active' THEN 1 WHEN 'ended' THEN 2 ELSE -1 END)`
}

// settleOwner sets a forwarded session's owner to the one its latest
// take-over or transfer event names (payload "owner"), so that the owner
// does not depend on the order the records were applied in.
func settleOwner(ctx context.Context, tx pgx.Tx, sessionID string) error {
	return exec(ctx, tx, `UPDATE sessions SET owner_id = COALESCE((SELECT payload->>'owner'
		FROM session_events WHERE session_id = $1 AND kind IN ($2, $3)
			AND payload->>'owner' IS NOT NULL ORDER BY seq DESC LIMIT 1), owner_id)
		WHERE id = $1`, sessionID, storage.EventTakenOver, storage.EventTransfer)
}

// HistoryMarks returns the applied mark of each origin node.
func (s *Store) HistoryMarks(ctx context.Context) (map[string]int64, error) {
	rows, _ := s.pool.Query(ctx, `SELECT origin, seq FROM history_marks`)
	out := map[string]int64{}
	var origin string
	var seq int64
	_, err := pgx.ForEachRow(rows, []any{&origin, &seq}, func() error {
		out[origin] = seq
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("history marks: %w", err)
	}
	return out, nil
}

// HistoryRejected lists the messages kept in history_rejected, by origin
// and sequence, for an operator.
func (s *Store) HistoryRejected(ctx context.Context) ([]storage.HistoryRejection, error) {
	rows, _ := s.pool.Query(ctx, `SELECT origin, seq, id, reason FROM history_rejected ORDER BY origin, seq`)
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (storage.HistoryRejection, error) {
		var rej storage.HistoryRejection
		return rej, r.Scan(&rej.Origin, &rej.Seq, &rej.ID, &rej.Reason)
	})
	if err != nil {
		return nil, fmt.Errorf("rejected history: %w", err)
	}
	return out, nil
}
