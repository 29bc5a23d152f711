package pgmigrate

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// The search documents of storage/postgres (migration 00008): a trigger
// running session_search_refresh on sessions, participants, chat events
// and service reports sets a session's document again at every row
// written, from all of its rows. Left on during the copy, it makes each
// session's document once per row: most of the copy's time (1,600 rows/s
// with it on 20,000 generated sessions). The copy turns those triggers off
// inside each batch's transaction, where the role owns the table (ALTER
// TABLE ... DISABLE TRIGGER is transactional: a batch that fails leaves
// them on), and makes every session's document once at the end, by the
// function the trigger calls. The other triggers of the schema, such as
// the dashboards' counts, fire as for any write.
const (
	searchRefreshFunction = "session_search_refresh"
	searchProgress        = "sessions.search" // the refresh's row in siteline_migrate_progress
)

// findSearchTriggers lists, per table, the search triggers the copy may
// turn off: those calling searchRefreshFunction on tables the role owns.
// None found (a schema that renamed them, a role that owns nothing) is no
// error: the triggers then run at every row, which is slower only.
func (m *migration) findSearchTriggers(ctx context.Context) error {
	rows, err := m.pg.Query(ctx, `SELECT c.relname::text, t.tgname::text FROM pg_trigger t
		JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_proc p ON p.oid = t.tgfoid
		WHERE p.proname = $1 AND NOT t.tgisinternal
		AND c.relnamespace = current_schema()::regnamespace AND pg_has_role(c.relowner, 'USAGE')
		ORDER BY 1, 2`, searchRefreshFunction)
	if err != nil {
		return fmt.Errorf("find the search triggers: %w", err)
	}
	m.searchTriggers = map[string][]string{}
	var table, trigger string
	_, err = pgx.ForEachRow(rows, []any{&table, &trigger}, func() error {
		m.searchTriggers[table] = append(m.searchTriggers[table], trigger)
		return nil
	})
	if err != nil {
		return fmt.Errorf("find the search triggers: %w", err)
	}
	return nil
}

// switchTriggers turns t's triggers on or off (how is ENABLE or DISABLE)
// within tx.
func switchTriggers(ctx context.Context, tx pgx.Tx, t *table, triggers []string, how string) error {
	for _, name := range triggers {
		if _, err := tx.Exec(ctx, "ALTER TABLE "+pgx.Identifier{t.name}.Sanitize()+" "+how+" TRIGGER "+pgx.Identifier{name}.Sanitize()); err != nil {
			return fmt.Errorf("%s trigger %s: %w", how, name, err)
		}
	}
	return nil
}

// refreshSearch makes the search document of every session, batch by
// batch in id order, recording its progress as the copy does. After a run
// that copied rows with the triggers off it starts from the first session;
// otherwise it resumes where an interrupted refresh stopped (nothing, once
// complete).
func (m *migration) refreshSearch(ctx context.Context, copied bool) (int64, error) {
	if len(m.searchTriggers) == 0 {
		return 0, nil
	}
	start := time.Now()
	var after *string
	if copied {
		if _, err := m.pg.Exec(ctx, `DELETE FROM siteline_migrate_progress WHERE source = $1 AND table_name = $2`, m.source, searchProgress); err != nil {
			return 0, fmt.Errorf("refresh the search documents: %w", err)
		}
	} else {
		var last string
		err := m.pg.QueryRow(ctx, `SELECT last_key FROM siteline_migrate_progress WHERE source = $1 AND table_name = $2`,
			m.source, searchProgress).Scan(&last)
		switch {
		case errors.Is(err, pgx.ErrNoRows):
		case err != nil:
			return 0, fmt.Errorf("refresh the search documents: %w", err)
		default:
			after = &last
		}
	}
	var done int64
	batches := 0
	for {
		var last *string
		var n int64
		err := pgx.BeginFunc(ctx, m.pg, func(tx pgx.Tx) error {
			err := tx.QueryRow(ctx, `WITH batch AS (
					SELECT id FROM sessions WHERE $1::text IS NULL OR id COLLATE "C" > $1 ORDER BY id COLLATE "C" LIMIT $2),
				done AS (UPDATE sessions s SET search = session_search_doc(s.id) FROM batch WHERE s.id = batch.id RETURNING s.id)
				SELECT max(id COLLATE "C"), count(*) FROM done`, after, m.opts.Batch).Scan(&last, &n)
			if err != nil || last == nil {
				return err
			}
			return m.saveProgress(ctx, tx, searchProgress, *last)
		})
		if err != nil {
			return done, fmt.Errorf("refresh the search documents: %w", err)
		}
		if last == nil {
			break
		}
		done += n
		after = last
		batches++
		if m.opts.afterBatch != nil {
			m.opts.afterBatch(searchProgress, batches)
		}
	}
	if done > 0 {
		fmt.Fprintf(m.opts.Progress, "search documents: %d sessions in %s (%s)\n", done, time.Since(start).Round(time.Millisecond), rate(done, time.Since(start)))
	}
	return done, nil
}
