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

// The outbox of site history (migration 00005): each site-history write
// adds its storage.HistoryRecord in its own transaction, through
// historyTx; the node's publisher reads it back with PendingHistory.

var _ storage.HistoryOutbox = (*Store)(nil)

// HistoryNotify receives a value after a transaction that added outbox
// records commits; a publisher waits on it instead of polling. Wake-ups
// coalesce: one pending value stands for any number of commits.
func (s *Store) HistoryNotify() <-chan struct{} { return s.historyCh }

// historyTx runs f in one write transaction, like writeTx, and wakes the
// publisher once it has committed.
func (s *Store) historyTx(ctx context.Context, f func(*sql.Tx) error) error {
	if err := s.writeTx(ctx, f); err != nil {
		return err
	}
	select {
	case s.historyCh <- struct{}{}:
	default:
	}
	return nil
}

// enqueueHistory adds rec to the outbox inside tx.
func enqueueHistory(ctx context.Context, tx *sql.Tx, at time.Time, rec storage.HistoryRecord) error {
	body, err := json.Marshal(rec)
	if err != nil {
		return fmt.Errorf("encode %s record %s: %w", rec.Kind, rec.ID, err)
	}
	return exec(ctx, tx, `INSERT INTO history_outbox (id, kind, record, created_at) VALUES (?, ?, ?, ?)`,
		rec.ID, rec.Kind, string(body), nanos(at))
}

// enqueueSessionRecord adds a record about session id, carrying the
// session as it stands in tx, and the given participant and event.
func enqueueSessionRecord(ctx context.Context, tx *sql.Tx, kind, id, sessionID string, at time.Time,
	participantID, eventID string) error {
	rec, err := sessionRecord(ctx, tx, kind, id, sessionID, participantID, eventID)
	if err != nil {
		return err
	}
	return enqueueHistory(ctx, tx, at, rec)
}

// sessionRecord builds a record about session id as enqueueSessionRecord
// adds it, for a caller that attaches more to it.
func sessionRecord(ctx context.Context, tx *sql.Tx, kind, id, sessionID, participantID, eventID string) (storage.HistoryRecord, error) {
	ss, err := sessionIn(ctx, tx, sessionID)
	if err != nil {
		return storage.HistoryRecord{}, err
	}
	rec := storage.HistoryRecord{ID: id, Kind: kind, Session: &ss}
	if participantID != "" {
		p, err := participantIn(ctx, tx, participantID)
		if err != nil {
			return rec, err
		}
		rec.Participant = &p
	}
	if eventID != "" {
		ev, err := eventIn(ctx, tx, eventID)
		if err != nil {
			return rec, err
		}
		rec.Event = &ev
	}
	return rec, nil
}

const sessionColumns = `id, org_id, site_id, kind, name, goal, status, created_by, owner_id, started_at, ended_at, team_id`

func scanSession(r interface{ Scan(...any) error }) (storage.Session, error) {
	var ss storage.Session
	err := r.Scan(&ss.ID, &ss.OrgID, &ss.SiteID, &ss.Kind, &ss.Name, &ss.Goal, &ss.Status, &ss.CreatedBy,
		&ss.OwnerID, timeDest{&ss.StartedAt}, optTimeDest{&ss.EndedAt}, &ss.TeamID)
	return ss, err
}

func sessionIn(ctx context.Context, q querier, id string) (storage.Session, error) {
	ss, err := scanSession(q.QueryRowContext(ctx, `SELECT `+sessionColumns+` FROM sessions WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return ss, fmt.Errorf("session %s: %w", id, storage.ErrNotFound)
	}
	return ss, err
}

func participantIn(ctx context.Context, q querier, id string) (storage.SessionParticipant, error) {
	var p storage.SessionParticipant
	var kind string
	err := q.QueryRowContext(ctx, `SELECT id, session_id, user_id, display_name, user_kind, device_kind, hidden,
		joined_at, left_at FROM session_participants WHERE id = ?`, id).Scan(&p.ID, &p.SessionID, &p.UserID,
		&p.DisplayName, &kind, &p.DeviceKind, &p.Hidden, timeDest{&p.JoinedAt}, optTimeDest{&p.LeftAt})
	p.UserKind = storage.UserKind(kind)
	if errors.Is(err, sql.ErrNoRows) {
		return p, fmt.Errorf("participant %s: %w", id, storage.ErrNotFound)
	}
	return p, err
}

func eventIn(ctx context.Context, q querier, id string) (storage.SessionEvent, error) {
	var ev storage.SessionEvent
	var payload string
	err := q.QueryRowContext(ctx, `SELECT id, session_id, seq, at, kind, actor_id, payload FROM session_events
		WHERE id = ?`, id).Scan(&ev.ID, &ev.SessionID, &ev.Seq, timeDest{&ev.At}, &ev.Kind, &ev.ActorID, &payload)
	ev.Payload = json.RawMessage(payload)
	if errors.Is(err, sql.ErrNoRows) {
		return ev, fmt.Errorf("event %s: %w", id, storage.ErrNotFound)
	}
	return ev, err
}

// PendingHistory lists up to limit unpublished records in sequence order.
func (s *Store) PendingHistory(ctx context.Context, limit int) ([]storage.HistoryOutboxRow, error) {
	if limit <= 0 {
		return nil, fmt.Errorf("pending history: %w", &storage.ValidationError{Field: "limit", Problem: "must be positive"})
	}
	out, err := collect(ctx, s.read, func(r *sql.Rows) (storage.HistoryOutboxRow, error) {
		var row storage.HistoryOutboxRow
		var rec string
		err := r.Scan(&row.Seq, &row.ID, &row.Kind, &rec, timeDest{&row.CreatedAt})
		row.Record = json.RawMessage(rec)
		return row, err
	}, `SELECT seq, id, kind, record, created_at FROM history_outbox
		WHERE published_at IS NULL ORDER BY seq LIMIT ?`, limit)
	if err != nil {
		return nil, fmt.Errorf("pending history: %w", err)
	}
	return out, nil
}

// MarkHistoryPublished stamps every unpublished record up to through.
func (s *Store) MarkHistoryPublished(ctx context.Context, through int64, at time.Time) error {
	if at.IsZero() {
		return fmt.Errorf("mark history published through %d: %w", through, &storage.ValidationError{Field: "at", Problem: "is required"})
	}
	if err := exec(ctx, s.write, `UPDATE history_outbox SET published_at = ?
		WHERE seq <= ? AND published_at IS NULL`, nanos(at), through); err != nil {
		return fmt.Errorf("mark history published through %d: %w", through, err)
	}
	return nil
}

// HistoryCounts returns the last outbox sequence, the number of
// unpublished records and the number above acked. The last sequence comes
// from sqlite_sequence, so it survives pruning.
func (s *Store) HistoryCounts(ctx context.Context, acked int64) (last, unpublished, unacked int64, err error) {
	err = s.read.QueryRowContext(ctx, `SELECT
		COALESCE((SELECT seq FROM sqlite_sequence WHERE name = 'history_outbox'), 0),
		(SELECT count(*) FROM history_outbox WHERE published_at IS NULL),
		(SELECT count(*) FROM history_outbox WHERE seq > ?)`, acked).Scan(&last, &unpublished, &unacked)
	if err != nil {
		return 0, 0, 0, fmt.Errorf("history counts: %w", err)
	}
	return last, unpublished, unacked, nil
}

// PruneHistoryOutbox deletes published records at or below through that
// were published before before.
func (s *Store) PruneHistoryOutbox(ctx context.Context, through int64, before time.Time) (int64, error) {
	if before.IsZero() {
		return 0, fmt.Errorf("prune history outbox: %w", &storage.ValidationError{Field: "before", Problem: "is required"})
	}
	res, err := s.write.ExecContext(ctx, `DELETE FROM history_outbox
		WHERE seq <= ? AND published_at IS NOT NULL AND published_at < ?`, through, nanos(before))
	if err != nil {
		return 0, fmt.Errorf("prune history outbox: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("prune history outbox: %w", err)
	}
	return n, nil
}

// HistorySince lists up to limit records with a sequence above after,
// published or not, in sequence order: the reading of a second consumer of
// the outbox that keeps its own position (a node whose own history is
// applied to a history store of its own, such as PostgreSQL). Sequence
// order is commit order here, as the store has one writer.
func (s *Store) HistorySince(ctx context.Context, after int64, limit int) ([]storage.HistoryOutboxRow, error) {
	if limit <= 0 {
		return nil, fmt.Errorf("history since %d: %w", after, &storage.ValidationError{Field: "limit", Problem: "must be positive"})
	}
	out, err := collect(ctx, s.read, func(r *sql.Rows) (storage.HistoryOutboxRow, error) {
		var row storage.HistoryOutboxRow
		var rec string
		err := r.Scan(&row.Seq, &row.ID, &row.Kind, &rec, timeDest{&row.CreatedAt}, optTimeDest{&row.PublishedAt})
		row.Record = json.RawMessage(rec)
		return row, err
	}, `SELECT seq, id, kind, record, created_at, published_at FROM history_outbox
		WHERE seq > ? ORDER BY seq LIMIT ?`, after, limit)
	if err != nil {
		return nil, fmt.Errorf("history since %d: %w", after, err)
	}
	return out, nil
}

// EnqueueHistory adds records written elsewhere to the outbox, in order
// and in one transaction, under new sequence numbers; a record whose id
// the outbox holds already is skipped, so a copy interrupted and redone
// adds each once. It returns how many it added. A node whose history
// store is PostgreSQL moves the records that store wrote here, so that
// its one outbox forwards them.
func (s *Store) EnqueueHistory(ctx context.Context, rows []storage.HistoryOutboxRow) (int, error) {
	added := 0
	err := s.historyTx(ctx, func(tx *sql.Tx) error {
		for _, r := range rows {
			if r.ID == "" || !json.Valid(r.Record) {
				return fmt.Errorf("record %q: %w", r.ID, &storage.ValidationError{Field: "record", Problem: "needs an id and a JSON record"})
			}
			// Not ON CONFLICT DO NOTHING: an insert it ignores still
			// draws a sequence number, and the outbox's are gapless.
			res, err := tx.ExecContext(ctx, `INSERT INTO history_outbox (id, kind, record, created_at)
				SELECT ?, ?, ?, ? WHERE NOT EXISTS (SELECT 1 FROM history_outbox WHERE id = ?)`,
				r.ID, r.Kind, string(r.Record), nanos(r.CreatedAt), r.ID)
			if err != nil {
				return err
			}
			n, err := res.RowsAffected()
			if err != nil {
				return err
			}
			added += int(n)
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("enqueue history: %w", err)
	}
	return added, nil
}
