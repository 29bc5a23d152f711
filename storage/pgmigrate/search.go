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
// function the trigger calls.
//
// The dashboards' rollups (migration 00010) likewise: their triggers,
// deferred to each batch's commit, compute a session's rows again each time
// one of its tables is written (sessions, then participants, then labels,
// then events), which made the copy of 1,000,000 sessions run at under 300
// sessions/s. They are off in each batch too, and every ended session's
// rows are computed once at the end, a batch of sessions at a time
// (dashboard_refresh_set, migration 00011), resumable as the search
// documents are.
const (
	searchRefreshFunction = "session_search_refresh"
	searchProgress        = "sessions.search" // the refresh's row in siteline_migrate_progress
	// dashboardFunctions start the names of the functions the dashboards'
	// triggers call.
	dashboardFunctions = "dashboard_"
	dashboardProgress  = "sessions.dashboard"
)

// findSearchTriggers lists, per table, the search triggers the copy may
// turn off: those calling searchRefreshFunction on tables the role owns.
// None found (a schema that renamed them, a role that owns nothing) is no
// error: the triggers then run at every row, which is slower only.
func (m *migration) findSearchTriggers(ctx context.Context) error {
	rows, err := m.pg.Query(ctx, `SELECT c.relname::text, t.tgname::text, p.proname = $1 FROM pg_trigger t
		JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_proc p ON p.oid = t.tgfoid
		WHERE (p.proname = $1 OR starts_with(p.proname, $2)) AND NOT t.tgisinternal
		AND c.relnamespace = current_schema()::regnamespace AND pg_has_role(c.relowner, 'USAGE')
		ORDER BY 1, 2`, searchRefreshFunction, dashboardFunctions)
	if err != nil {
		return fmt.Errorf("find the search triggers: %w", err)
	}
	m.searchTriggers, m.dashboardTriggers = map[string][]string{}, map[string][]string{}
	var table, trigger string
	var search bool
	_, err = pgx.ForEachRow(rows, []any{&table, &trigger, &search}, func() error {
		if search {
			m.searchTriggers[table] = append(m.searchTriggers[table], trigger)
		} else {
			m.dashboardTriggers[table] = append(m.dashboardTriggers[table], trigger)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("find the search triggers: %w", err)
	}
	return nil
}

// offTriggers are the triggers a batch of t turns off.
func (m *migration) offTriggers(t string) []string {
	return append(append([]string(nil), m.searchTriggers[t]...), m.dashboardTriggers[t]...)
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
	return m.refreshSessions(ctx, copied, searchProgress, "search documents",
		`UPDATE sessions s SET search = session_search_doc(s.id) FROM batch WHERE s.id = batch.id RETURNING s.id`, "")
}

// refreshDashboards computes the dashboards' rows of every ended session
// once, as refreshSearch makes the search documents.
func (m *migration) refreshDashboards(ctx context.Context, copied bool) (int64, error) {
	if len(m.dashboardTriggers) == 0 {
		return 0, nil
	}
	// The sites list the breakdown by site reads, which the sessions'
	// trigger adds to, as migration 00010 fills it.
	if _, err := m.pg.Exec(ctx, `INSERT INTO dashboard_sites (org_id, site_id)
		SELECT DISTINCT org_id, site_id FROM sessions ON CONFLICT DO NOTHING`); err != nil {
		return 0, fmt.Errorf("refresh the dashboard rows: %w", err)
	}
	// One dashboard_refresh_set per batch: each rollup row the batch's
	// sessions share is written once, not once per session.
	done := `SELECT batch.id FROM batch CROSS JOIN (SELECT dashboard_refresh_set(array_agg(id)) FROM batch) AS refreshed`
	if m.opts.refreshEach {
		done = `SELECT id, dashboard_refresh(id) FROM batch`
	}
	return m.refreshSessions(ctx, copied, dashboardProgress, "dashboard rows", done, "ended_at IS NOT NULL AND ")
}

// refreshSessions runs done (a statement over the CTE batch, returning
// the ids it did) on every session where filter holds, batch by batch in
// id order, recording its progress under progress as the copy does. After
// a run that copied rows with the triggers off it starts from the first
// session; otherwise it resumes where an interrupted refresh stopped
// (nothing, once complete).
func (m *migration) refreshSessions(ctx context.Context, copied bool, progress, what, done, filter string) (int64, error) {
	start := time.Now()
	var after *string
	if copied {
		if _, err := m.pg.Exec(ctx, `DELETE FROM siteline_migrate_progress WHERE source = $1 AND table_name = $2`, m.source, progress); err != nil {
			return 0, fmt.Errorf("refresh the %s: %w", what, err)
		}
	} else {
		var last string
		err := m.pg.QueryRow(ctx, `SELECT last_key FROM siteline_migrate_progress WHERE source = $1 AND table_name = $2`,
			m.source, progress).Scan(&last)
		switch {
		case errors.Is(err, pgx.ErrNoRows):
		case err != nil:
			return 0, fmt.Errorf("refresh the %s: %w", what, err)
		default:
			after = &last
		}
	}
	var count int64
	batches := 0
	for {
		var last *string
		var n int64
		err := pgx.BeginFunc(ctx, m.pg, func(tx pgx.Tx) error {
			err := tx.QueryRow(ctx, `WITH batch AS (
					SELECT id FROM sessions WHERE `+filter+`($1::text IS NULL OR id COLLATE "C" > $1) ORDER BY id COLLATE "C" LIMIT $2),
				done AS (`+done+`)
				SELECT max(id COLLATE "C"), count(*) FROM done`, after, m.opts.Batch).Scan(&last, &n)
			if err != nil || last == nil {
				return err
			}
			return m.saveProgress(ctx, tx, progress, *last)
		})
		if err != nil {
			return count, fmt.Errorf("refresh the %s: %w", what, err)
		}
		if last == nil {
			break
		}
		count += n
		after = last
		batches++
		if m.opts.afterBatch != nil {
			m.opts.afterBatch(progress, batches)
		}
	}
	if count > 0 {
		fmt.Fprintf(m.opts.Progress, "%s: %d sessions in %s (%s)\n", what, count, time.Since(start).Round(time.Millisecond), rate(count, time.Since(start)))
	}
	return count, nil
}
