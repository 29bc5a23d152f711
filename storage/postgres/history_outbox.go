package postgres

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"siteline/storage"
)

// historyLock is the transaction-level advisory lock every write that adds
// to the history outbox takes first ("siteline" in ASCII; goose's own lock
// has another key). Holding it until commit makes those writes commit one
// at a time, so the outbox's seq, drawn from a sequence at insert, is
// never committed after a higher one: a publisher reading in seq order
// skips nothing. SQLite's single writer gives the same order for free.
const historyLock int64 = 0x736974656c696e65

// historyTx runs f in one transaction holding historyLock, and commits it.
func (s *Store) historyTx(ctx context.Context, f func(pgx.Tx) error) error {
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, historyLock); err != nil {
			return fmt.Errorf("take the history lock: %w", err)
		}
		return f(tx)
	})
}

// enqueueHistory adds rec to the outbox inside tx.
func enqueueHistory(ctx context.Context, tx pgx.Tx, at time.Time, rec storage.HistoryRecord) error {
	body, err := json.Marshal(rec)
	if err != nil {
		return fmt.Errorf("encode %s record %s: %w", rec.Kind, rec.ID, err)
	}
	return exec(ctx, tx, `INSERT INTO history_outbox (id, kind, record, created_at) VALUES ($1, $2, $3::json, $4)`,
		rec.ID, rec.Kind, string(body), nanos(at))
}

// enqueueSessionRecord adds a record about session sessionID, carrying the
// session as it stands in tx, and the given participant and event.
func enqueueSessionRecord(ctx context.Context, tx pgx.Tx, kind, id, sessionID string, at time.Time,
	participantID, eventID string) error {
	rec, err := sessionRecord(ctx, tx, kind, id, sessionID, participantID, eventID)
	if err != nil {
		return err
	}
	return enqueueHistory(ctx, tx, at, rec)
}

// sessionRecord is the record of kind about session sessionID as it
// stands in tx, with the given participant and event ("" for none).
func sessionRecord(ctx context.Context, tx pgx.Tx, kind, id, sessionID, participantID, eventID string) (storage.HistoryRecord, error) {
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

// PendingHistory lists up to limit unpublished records in sequence order.
func (s *Store) PendingHistory(ctx context.Context, limit int) ([]storage.HistoryOutboxRow, error) {
	if limit <= 0 {
		return nil, fmt.Errorf("pending history: %w", &storage.ValidationError{Field: "limit", Problem: "must be positive"})
	}
	rows, _ := s.pool.Query(ctx, `SELECT seq, id, kind, record::text, created_at FROM history_outbox
		WHERE published_at IS NULL ORDER BY seq LIMIT $1`, limit)
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (storage.HistoryOutboxRow, error) {
		var row storage.HistoryOutboxRow
		var rec string
		var created int64
		err := r.Scan(&row.Seq, &row.ID, &row.Kind, &rec, &created)
		row.Record, row.CreatedAt = json.RawMessage(rec), timeOf(&created)
		return row, err
	})
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
	if _, err := s.pool.Exec(ctx, `UPDATE history_outbox SET published_at = $1
		WHERE seq <= $2 AND published_at IS NULL`, nanos(at), through); err != nil {
		return fmt.Errorf("mark history published through %d: %w", through, domainError(err))
	}
	return nil
}

// HistoryCounts returns the last outbox sequence, the number of
// unpublished records and the number above acked. The last sequence is the
// identity sequence's, so it survives pruning; a transaction rolled back
// after drawing a number leaves that number unused (sequences are not
// transactional), which only the count of rows above a mark, not the
// sequence numbers themselves, has to bear.
func (s *Store) HistoryCounts(ctx context.Context, acked int64) (last, unpublished, unacked int64, err error) {
	err = s.pool.QueryRow(ctx, `SELECT
		COALESCE(pg_sequence_last_value(pg_get_serial_sequence('history_outbox', 'seq')::regclass), 0),
		(SELECT count(*) FROM history_outbox WHERE published_at IS NULL),
		(SELECT count(*) FROM history_outbox WHERE seq > $1)`, acked).Scan(&last, &unpublished, &unacked)
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
	tag, err := s.pool.Exec(ctx, `DELETE FROM history_outbox
		WHERE seq <= $1 AND published_at IS NOT NULL AND published_at < $2`, through, nanos(before))
	if err != nil {
		return 0, fmt.Errorf("prune history outbox: %w", domainError(err))
	}
	return tag.RowsAffected(), nil
}
