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
	ss, err := sessionIn(ctx, tx, sessionID)
	if err != nil {
		return err
	}
	rec := storage.HistoryRecord{ID: id, Kind: kind, Session: &ss}
	if participantID != "" {
		p, err := participantIn(ctx, tx, participantID)
		if err != nil {
			return err
		}
		rec.Participant = &p
	}
	if eventID != "" {
		ev, err := eventIn(ctx, tx, eventID)
		if err != nil {
			return err
		}
		rec.Event = &ev
	}
	return enqueueHistory(ctx, tx, at, rec)
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
