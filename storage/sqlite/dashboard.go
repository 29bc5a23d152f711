package sqlite

import (
	"context"
	"database/sql/driver"
	"fmt"
	"strings"
	"time"

	"modernc.org/sqlite"

	"siteline/storage"
)

// The dashboards' reads over dashboard_counts (migrations 00025 and
// 00033), which triggers keep in step with the session history in the
// transaction of every write; storage.ReadDashboard makes the reads and
// this file runs them. A read sums the rows of the query's days, sites and
// outcome: its cost grows with the days and groups asked for, not with
// the number of sessions.

var _ storage.DashboardStore = (*Store)(nil)

func init() {
	// dashboard_goal is storage.GoalKey in SQL, for the rollups' goal
	// metric (migration 00033). Registered before any connection opens.
	sqlite.MustRegisterDeterministicScalarFunction("dashboard_goal", 1,
		func(_ *sqlite.FunctionContext, args []driver.Value) (driver.Value, error) {
			switch v := args[0].(type) {
			case string:
				return storage.GoalKey(v), nil
			case []byte:
				return storage.GoalKey(string(v)), nil
			case nil:
				return "", nil
			default:
				return nil, fmt.Errorf("dashboard_goal: %T is not text", v)
			}
		})
}

// DashboardCounts sums the rollups of q (storage.ReadDashboard).
func (s *Store) DashboardCounts(ctx context.Context, q storage.DashboardQuery) (storage.DashboardCounts, error) {
	return storage.ReadDashboard(ctx, rollups{s}, q)
}

// rollups reads dashboard_counts for storage.ReadDashboard.
type rollups struct{ s *Store }

// RollupNames reads the names of orgID's sites (dashboard_sites) and
// outcomes (the values of the outcome metric's months, every site and
// outcome: a row per month and outcome).
func (r rollups) RollupNames(ctx context.Context, orgID string) (sites, outcomes []string, err error) {
	for _, n := range []struct {
		q    string
		into *[]string
	}{
		{`SELECT site_id FROM dashboard_sites WHERE org_id = ?`, &sites},
		{`SELECT DISTINCT val FROM dashboard_counts
			WHERE org_id = ? AND metric = 'outcome' AND dim = '' AND span = 1 AND site_id = '*' AND outcome = '*'`, &outcomes},
	} {
		rows, err := r.s.read.QueryContext(ctx, n.q, orgID)
		if err != nil {
			return nil, nil, err
		}
		for rows.Next() {
			var v string
			if err := rows.Scan(&v); err != nil {
				rows.Close()
				return nil, nil, err
			}
			*n.into = append(*n.into, v)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, nil, err
		}
	}
	return sites, outcomes, nil
}

// SumRollups sums the rows of one metric over the pieces of a range.
func (r rollups) SumRollups(ctx context.Context, sum storage.RollupSum) ([]storage.DashboardCount, error) {
	where, whereArgs := rollupWhere(sum.Rows)
	table := "dashboard_counts"
	if sum.Rows.Key != "" {
		// Without statistics SQLite would take the primary key's range,
		// every key's rows.
		table = "dashboard_counts INDEXED BY dashboard_counts_key"
	}
	value := sum.Value.SQL()
	if sum.Value == storage.RollupNone {
		value = "0"
	}
	var parts []string
	var args []any
	for _, p := range sum.Pieces {
		parts = append(parts, `SELECT `+sum.Group.SQL()+` AS g, `+value+` AS v, `+sum.Text.SQL()+` AS x, n FROM `+table+`
			WHERE metric = ? AND dim = ? AND span = ? AND `+where+` AND t >= ? AND t < ?`)
		args = append(args, sum.Metric, sum.Rows.Dim, p.Span)
		args = append(args, whereArgs...)
		args = append(args, p.Lo, p.Hi)
	}
	tail := ""
	if sum.Top > 0 {
		tail = fmt.Sprintf(" ORDER BY 4 DESC, 3 LIMIT %d", sum.Top)
	}
	q := `SELECT g, v, x, sum(n) FROM (` + strings.Join(parts, " UNION ALL ") + `)
		GROUP BY 1, 2, 3 HAVING sum(n) != 0` + tail
	rows, err := r.s.read.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	list := []storage.DashboardCount{}
	for rows.Next() {
		var c storage.DashboardCount
		if err := rows.Scan(&c.Group, &c.Value, &c.Text, &c.N); err != nil {
			return nil, err
		}
		list = append(list, c)
	}
	return list, rows.Err()
}

// rollupWhere is the condition that picks rows, but the metric, dim and
// range. A list of sites or outcomes is named as values, not as IN
// (SELECT ...): with that, the index lookup stops at the column and reads
// every day and month the rollups hold.
func rollupWhere(rows storage.RollupRows) (string, []any) {
	w := []string{"org_id = ?"}
	args := []any{rows.OrgID}
	in := func(col string, vals []string) {
		if vals == nil {
			w = append(w, col+" = '*'")
			return
		}
		w = append(w, col+" IN ("+strings.TrimSuffix(strings.Repeat("?, ", len(vals)), ", ")+")")
		for _, v := range vals {
			args = append(args, v)
		}
	}
	in("site_id", rows.Sites)
	in("outcome", rows.Outcomes)
	if rows.Key != "" {
		w = append(w, "key = ?")
		args = append(args, rows.Key)
	}
	return strings.Join(w, " AND "), args
}

// RollupBuckets reads the lower bounds of the duration buckets.
func (r rollups) RollupBuckets(ctx context.Context) ([]time.Duration, error) {
	rows, err := r.s.read.QueryContext(ctx, `SELECT lo_ms FROM dashboard_buckets ORDER BY bucket`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var list []time.Duration
	for rows.Next() {
		var ms int64
		if err := rows.Scan(&ms); err != nil {
			return nil, err
		}
		list = append(list, time.Duration(ms)*time.Millisecond)
	}
	return list, rows.Err()
}
