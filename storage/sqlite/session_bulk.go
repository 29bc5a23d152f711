package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"

	"siteline/storage"
)

// BulkLoad fills a store with many past sessions fast: the history
// generator at a million sessions. The rows are those LoadSessions
// writes, and the store's own triggers keep the full-text index in step
// as they do for every write; what differs is the pace: prepared
// statements, one transaction for many batches, a large page cache and
// commits that wait for the disk only at the end (synchronous=OFF while
// loading: a crash loses the load, which is development data). While a
// BulkLoad is open it holds the writer: nothing else can write.
type BulkLoad struct {
	s        *Store
	tx       *sql.Tx
	stmts    [4]*sql.Stmt // sessions, labels, participants, events
	pending  int          // sessions in the open transaction
	restore  []string     // pragmas to run at the end
	indexes  []string     // CREATE INDEX statements to run at the end
	triggers []string     // CREATE TRIGGER statements of the rollups, to run at the end
	finished bool
}

// bulkCommitEvery is how many sessions one transaction of a bulk load
// holds: large enough that commits cost nothing, small enough that the
// WAL stays a few hundred megabytes.
const bulkCommitEvery = 50000

// bulkCacheKiB is the writer's page cache during a bulk load (1 GiB): the
// indexes of a million sessions then stay in memory.
const bulkCacheKiB = -1 << 20

// BulkLoad starts a bulk load. Call Finish to commit the rest and give the
// writer back; a BulkLoad left without Finish holds the writer.
func (s *Store) BulkLoad(ctx context.Context) (*BulkLoad, error) {
	l := &BulkLoad{s: s}
	var cache int64
	var sync, temp int64
	if err := s.write.QueryRowContext(ctx, `PRAGMA cache_size`).Scan(&cache); err != nil {
		return nil, fmt.Errorf("bulk load: %w", err)
	}
	if err := s.write.QueryRowContext(ctx, `PRAGMA synchronous`).Scan(&sync); err != nil {
		return nil, fmt.Errorf("bulk load: %w", err)
	}
	if err := s.write.QueryRowContext(ctx, `PRAGMA temp_store`).Scan(&temp); err != nil {
		return nil, fmt.Errorf("bulk load: %w", err)
	}
	l.restore = []string{fmt.Sprintf(`PRAGMA cache_size = %d`, cache), fmt.Sprintf(`PRAGMA synchronous = %d`, sync), fmt.Sprintf(`PRAGMA temp_store = %d`, temp)}
	// The rebuild of the rollups and the indexes sorts every row they
	// hold: with the writer's in-memory temp store a million sessions'
	// rollups (about 89 million rows) would sort in RAM. They sort in
	// temporary files instead.
	for _, p := range []string{fmt.Sprintf(`PRAGMA cache_size = %d`, bulkCacheKiB), `PRAGMA synchronous = OFF`, `PRAGMA temp_store = FILE`} {
		if _, err := s.write.ExecContext(ctx, p); err != nil {
			_ = l.undo(ctx)
			return nil, fmt.Errorf("bulk load: %w", err)
		}
	}
	if err := l.dropIndexes(ctx); err != nil {
		_ = l.undo(ctx)
		return nil, fmt.Errorf("bulk load: %w", err)
	}
	if err := l.dropRollupTriggers(ctx); err != nil {
		_ = l.undo(ctx)
		return nil, fmt.Errorf("bulk load: %w", err)
	}
	if err := l.begin(ctx); err != nil {
		_ = l.undo(ctx)
		return nil, fmt.Errorf("bulk load: %w", err)
	}
	return l, nil
}

// dropRollupTriggers drops the triggers that keep the dashboards' rollups
// (migrations 00025 and 00033) in step, to be created again by undo once
// the rollups are computed afresh from every session (rebuildRollups):
// through the triggers each loaded session would cost its participants,
// labels and answer a pass each over hundreds of rollup rows.
func (l *BulkLoad) dropRollupTriggers(ctx context.Context) error {
	rows, err := l.s.write.QueryContext(ctx, `SELECT name, sql FROM sqlite_schema
		WHERE type = 'trigger' AND name LIKE 'dashboard\_%' ESCAPE '\' ORDER BY name`)
	if err != nil {
		return err
	}
	var names []string
	for rows.Next() {
		var name, create string
		if err := rows.Scan(&name, &create); err != nil {
			rows.Close()
			return err
		}
		names = append(names, name)
		l.triggers = append(l.triggers, create)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	for _, name := range names {
		if _, err := l.s.write.ExecContext(ctx, `DROP TRIGGER "`+name+`"`); err != nil {
			return err
		}
	}
	return nil
}

// rebuildRollups computes the dashboards' rollups from every session, as
// migration 00033 first did, and creates their triggers again, in one
// transaction.
func (l *BulkLoad) rebuildRollups(ctx context.Context) error {
	if len(l.triggers) == 0 {
		return nil
	}
	tx, err := l.s.write.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	for _, q := range append([]string{
		`DELETE FROM dashboard_counts`,
		`INSERT INTO dashboard_counts (org_id, metric, dim, span, site_id, outcome, t, key, val, n)
			SELECT org_id, metric, dim, span, site_id, outcome, t, key, val, count(*) FROM dashboard_contrib
			GROUP BY org_id, metric, dim, span, site_id, outcome, t, key, val`,
		`INSERT INTO dashboard_sites (org_id, site_id) SELECT DISTINCT org_id, site_id FROM sessions
			WHERE true ON CONFLICT DO NOTHING`,
	}, l.triggers...) {
		if _, err := tx.ExecContext(ctx, q); err != nil {
			return err
		}
	}
	if err := tx.Commit(); err != nil {
		return err
	}
	l.triggers = nil
	return nil
}

// dropIndexes drops the secondary indexes of the session tables, to be
// built again by undo from their own SQL: building an index from sorted
// rows at the end is several times faster than inserting a million random
// keys into it one by one. The indexes of primary keys and UNIQUE
// constraints stay (SQLite has no SQL for them), and so does the index the
// session search's triggers find a session's participants by
// (keptIndexes): without it indexing each loaded session would scan every
// participant loaded before it.
func (l *BulkLoad) dropIndexes(ctx context.Context) error {
	rows, err := l.s.write.QueryContext(ctx, `SELECT name, sql FROM sqlite_schema
		WHERE type = 'index' AND sql IS NOT NULL
		AND tbl_name IN ('sessions', 'session_labels', 'session_participants', 'session_events')
		AND name NOT IN (`+keptIndexes+`)
		ORDER BY name`)
	if err != nil {
		return err
	}
	var names []string
	for rows.Next() {
		var name, create string
		if err := rows.Scan(&name, &create); err != nil {
			rows.Close()
			return err
		}
		names = append(names, name)
		l.indexes = append(l.indexes, create)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	for _, name := range names {
		if _, err := l.s.write.ExecContext(ctx, `DROP INDEX "`+name+`"`); err != nil {
			return err
		}
	}
	return nil
}

// keptIndexes are the secondary indexes a load keeps: the view
// session_search_text (migration 00021), which the triggers read as each
// session is inserted, finds a session's participants by this one (its
// events by the UNIQUE (session_id, seq) index, which always stays).
const keptIndexes = `'session_participants_session'`

func (l *BulkLoad) begin(ctx context.Context) error {
	tx, err := l.s.write.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `PRAGMA defer_foreign_keys = ON`); err != nil { // loadOrder
		_ = tx.Rollback()
		return err
	}
	for i, q := range loadStatements {
		if l.stmts[i], err = tx.PrepareContext(ctx, q); err != nil {
			_ = tx.Rollback()
			return err
		}
	}
	l.tx, l.pending = tx, 0
	return nil
}

// LoadSessions adds sessions to the load; it commits every
// bulkCommitEvery sessions. An invalid session is a
// *storage.ValidationError and loads nothing of its batch (what earlier
// batches of the open transaction wrote stays).
func (l *BulkLoad) LoadSessions(ctx context.Context, bundles []storage.SessionBundle) error {
	if l.finished {
		return errors.New("bulk load: already finished")
	}
	var rows loadRows
	for _, b := range bundles {
		if err := rows.add(b); err != nil {
			return fmt.Errorf("bulk load: session %s: %w", b.Session.ID, err)
		}
	}
	tables := rows.tables()
	for _, i := range loadOrder {
		if len(tables[i]) == 0 {
			continue
		}
		data, err := json.Marshal(tables[i])
		if err != nil {
			return fmt.Errorf("bulk load: %w", err)
		}
		if _, err := l.stmts[i].ExecContext(ctx, string(data)); err != nil {
			return fmt.Errorf("bulk load: %w", domainError(err))
		}
	}
	l.pending += len(bundles)
	if l.pending >= bulkCommitEvery {
		if err := l.tx.Commit(); err != nil {
			return fmt.Errorf("bulk load: %w", domainError(err))
		}
		if err := l.begin(ctx); err != nil {
			return fmt.Errorf("bulk load: %w", err)
		}
	}
	return nil
}

// Finish commits what is left, checkpoints the WAL and restores the
// writer's settings.
func (l *BulkLoad) Finish(ctx context.Context) error {
	if l.finished {
		return nil
	}
	l.finished = true
	err := l.tx.Commit()
	if uerr := l.undo(ctx); err == nil {
		err = uerr
	}
	if err == nil {
		_, err = l.s.write.ExecContext(ctx, `PRAGMA wal_checkpoint(TRUNCATE)`)
	}
	if err != nil {
		return fmt.Errorf("bulk load: finish: %w", domainError(err))
	}
	return nil
}

// Abort rolls back the open transaction (earlier commits stay) and
// restores the writer's settings.
func (l *BulkLoad) Abort(ctx context.Context) {
	if l.finished {
		return
	}
	l.finished = true
	_ = l.tx.Rollback()
	_ = l.undo(ctx)
}

// undo builds the dropped indexes again, computes the rollups afresh with
// their triggers back, and restores the writer's settings. An index that
// cannot be built is logged: the store still answers, slower. Rollups
// that cannot be computed are logged and returned: the dashboards would
// be wrong.
func (l *BulkLoad) undo(ctx context.Context) error {
	ctx = context.WithoutCancel(ctx)
	for _, create := range l.indexes {
		if _, err := l.s.write.ExecContext(ctx, create); err != nil {
			l.s.logger.Error("bulk load: index not built again", "sql", create, "err", err)
		}
	}
	l.indexes = nil
	err := l.rebuildRollups(ctx)
	if err != nil {
		l.s.logger.Error("bulk load: dashboard rollups not computed", "err", err)
		err = fmt.Errorf("dashboard rollups: %w", err)
	}
	for _, p := range l.restore {
		_, _ = l.s.write.ExecContext(ctx, p)
	}
	return err
}
