package pgmigrate

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"siteline/storage"
)

// goalKeyBatch is how many sessions' goal keys one statement sets.
const goalKeyBatch = 1000

// fillGoalKeys sets the goal key (storage/postgres's sessions.goal_key,
// migration 00010: storage.GoalKey of the goal, which the dashboards
// count goals by) of the sessions copied without one, batch by batch. It
// is computed here, in Go, as the store computes it; the dashboards' rows
// follow from refreshDashboards.
func (m *migration) fillGoalKeys(ctx context.Context) error {
	after := "" // ids in byte order: a goal whose key is "" (blanks) is passed, not read again
	for {
		rows, _ := m.pg.Query(ctx, `SELECT id, goal FROM sessions WHERE goal <> '' AND goal_key = ''
			AND id COLLATE "C" > $1 ORDER BY id COLLATE "C" LIMIT $2`, after, goalKeyBatch)
		var ids, keys []string
		var id, goal string
		_, err := pgx.ForEachRow(rows, []any{&id, &goal}, func() error {
			ids, keys = append(ids, id), append(keys, storage.GoalKey(goal))
			return nil
		})
		if err != nil {
			return fmt.Errorf("goal keys: %w", err)
		}
		if len(ids) == 0 {
			return nil
		}
		after = ids[len(ids)-1]
		// The dashboards' rows are computed once after this
		// (refreshDashboards): their triggers stay off here too.
		sessions := &table{name: "sessions"}
		err = pgx.BeginFunc(ctx, m.pg, func(tx pgx.Tx) error {
			if err := switchTriggers(ctx, tx, sessions, m.dashboardTriggers["sessions"], "DISABLE"); err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, `UPDATE sessions s SET goal_key = k.key
				FROM unnest($1::text[], $2::text[]) AS k(id, key) WHERE s.id = k.id`, ids, keys); err != nil {
				return err
			}
			return switchTriggers(ctx, tx, sessions, m.dashboardTriggers["sessions"], "ENABLE")
		})
		if err != nil {
			return fmt.Errorf("goal keys: %w", err)
		}
		if len(ids) < goalKeyBatch {
			return nil
		}
	}
}
