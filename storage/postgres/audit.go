package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"siteline/storage"
)

// AppendAudit stores an audit event and adds its record to the history
// outbox in the same transaction. Appending an event whose id is already
// stored does nothing, so forwarded events can be replayed safely.
func (s *Store) AppendAudit(ctx context.Context, e storage.AuditEvent) error {
	if err := required("audit.id", e.ID, "audit.org_id", e.OrgID, "audit.actor_id", e.ActorID, "audit.action", e.Action); err != nil {
		return fmt.Errorf("append audit event %s: %w", e.ID, err)
	}
	if e.At.IsZero() {
		return fmt.Errorf("append audit event %s: %w", e.ID, &storage.ValidationError{Field: "audit.at", Problem: "is required"})
	}
	err := s.historyTx(ctx, func(tx pgx.Tx) error {
		inserted, err := insertAudit(ctx, tx, e)
		if err != nil || !inserted {
			return err // a replay: its record is in the outbox already
		}
		return enqueueHistory(ctx, tx, e.At, storage.HistoryRecord{ID: e.ID, Kind: storage.HistoryAudit, Audit: &e})
	})
	if err != nil {
		return fmt.Errorf("append audit event %s: %w", e.ID, err)
	}
	return nil
}

// insertAudit stores e unless its id is stored already; it reports
// whether it did.
func insertAudit(ctx context.Context, tx pgx.Tx, e storage.AuditEvent) (bool, error) {
	tag, err := tx.Exec(ctx, `INSERT INTO audit_events (id, org_id, site_id, at, actor_id, action, target, detail)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (id) DO NOTHING`,
		e.ID, e.OrgID, e.SiteID, nanos(e.At), e.ActorID, e.Action, e.Target, e.Detail)
	if err != nil {
		return false, domainError(err)
	}
	return tag.RowsAffected() > 0, nil
}

// Audit lists audit events newest first. OrgID "" means every
// organisation, Action is a literal, case-sensitive prefix ("user."), a
// zero Before means no upper bound and Limit <= 0 means no limit.
func (s *Store) Audit(ctx context.Context, f storage.AuditFilter) ([]storage.AuditEvent, error) {
	query := `SELECT id, org_id, site_id, at, actor_id, action, target, detail FROM audit_events WHERE true`
	var args []any
	arg := func(v any) string {
		args = append(args, v)
		return fmt.Sprintf("$%d", len(args))
	}
	if f.OrgID != "" {
		query += ` AND org_id = ` + arg(f.OrgID)
	}
	if f.Action != "" {
		// starts_with, not LIKE: LIKE treats '_' and '%' as wildcards.
		query += ` AND starts_with(action, ` + arg(f.Action) + `)`
	}
	if !f.Before.IsZero() {
		query += ` AND at < ` + arg(nanos(f.Before))
	}
	query += ` ORDER BY at DESC, id DESC`
	if f.Limit > 0 {
		query += ` LIMIT ` + arg(f.Limit)
	}
	rows, _ := s.pool.Query(ctx, query, args...)
	events, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (storage.AuditEvent, error) {
		var e storage.AuditEvent
		var at int64
		err := r.Scan(&e.ID, &e.OrgID, &e.SiteID, &at, &e.ActorID, &e.Action, &e.Target, &e.Detail)
		e.At = timeOf(&at)
		return e, err
	})
	if err != nil {
		return nil, fmt.Errorf("list audit events: %w", domainError(err))
	}
	return events, nil
}
