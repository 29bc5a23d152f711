package postgres

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"siteline/storage"
)

// The dashboards' reads over dashboard_counts (migration 00010), which
// triggers keep in step with the session history in the transaction of
// every write: storage.ReadDashboard makes the reads, as for
// storage/sqlite, and this file runs them: the same rows, the same sums,
// in the same order. A read sums the rows of
// the query's days, sites and outcome: its cost grows with the days and
// groups asked for, not with the number of sessions.

var _ storage.DashboardStore = (*Store)(nil)

// DashboardCounts sums the rollups of q (storage.ReadDashboard).
func (s *Store) DashboardCounts(ctx context.Context, q storage.DashboardQuery) (storage.DashboardCounts, error) {
	return storage.ReadDashboard(ctx, rollups{s}, q)
}

// rollups reads dashboard_counts for storage.ReadDashboard.
type rollups struct{ s *Store }

// RollupNames reads the names of orgID's sites (dashboard_sites) and
// outcomes (the values of the outcome metric's months, every site and
// outcome), as storage/sqlite does: from the rollups, not from the
// organisation data.
func (r rollups) RollupNames(ctx context.Context, orgID string) (sites, outcomes []string, err error) {
	for _, n := range []struct {
		q    string
		into *[]string
	}{
		{`SELECT site_id FROM dashboard_sites WHERE org_id = $1`, &sites},
		{`SELECT DISTINCT val FROM dashboard_counts
			WHERE org_id = $1 AND metric = 'outcome' AND dim = '' AND span = 1 AND site_id = '*' AND outcome = '*'`, &outcomes},
	} {
		rows, _ := r.s.pool.Query(ctx, n.q, orgID)
		list, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			return nil, nil, err
		}
		*n.into = list
	}
	return sites, outcomes, nil
}

// SumRollups sums the rows of one metric over the pieces of a range.
// Without a top, the sums come in the order SQLite's GROUP BY gives them:
// by group, value and text, byte by byte.
func (r rollups) SumRollups(ctx context.Context, sum storage.RollupSum) ([]storage.DashboardCount, error) {
	args := []any{sum.Metric, sum.Rows.Dim}
	arg := func(v any) string {
		args = append(args, v)
		return fmt.Sprintf("$%d", len(args))
	}
	where := rollupWhere(sum.Rows, arg)
	value := "0"
	switch sum.Value {
	case storage.RollupT:
		value = "t"
	case storage.RollupVal:
		value = "val::bigint"
	}
	var parts []string
	for _, p := range sum.Pieces {
		parts = append(parts, fmt.Sprintf(`SELECT %s AS g, %s AS v, %s AS x, n FROM dashboard_counts
			WHERE metric = $1 AND dim = $2 AND span = %s AND %s AND t >= %s AND t < %s`,
			sum.Group.SQL(), value, sum.Text.SQL(), arg(p.Span), where, arg(p.Lo), arg(p.Hi)))
	}
	tail := " ORDER BY 1, 2, 3"
	if sum.Top > 0 {
		tail = fmt.Sprintf(" ORDER BY 4 DESC, 3 LIMIT %d", sum.Top)
	}
	q := `SELECT g::text COLLATE "C", v::bigint, x::text COLLATE "C", sum(n)::bigint FROM (` + strings.Join(parts, " UNION ALL ") + `) AS pieces
		GROUP BY 1, 2, 3 HAVING sum(n) <> 0` + tail
	rows, _ := r.s.pool.Query(ctx, q, args...)
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (storage.DashboardCount, error) {
		var c storage.DashboardCount
		return c, r.Scan(&c.Group, &c.Value, &c.Text, &c.N)
	})
}

// rollupWhere is the condition that picks rows, but the metric, dim and
// range, its values numbered by arg. A list of sites or outcomes is an
// array of values rather than "<> '*'": an index scan takes the array's
// values one by one and goes on to the days for each.
func rollupWhere(rows storage.RollupRows, arg func(any) string) string {
	w := []string{"org_id = " + arg(rows.OrgID)}
	for _, c := range []struct {
		col  string
		vals []string
	}{{"site_id", rows.Sites}, {"outcome", rows.Outcomes}} {
		if c.vals == nil {
			w = append(w, c.col+" = '*'")
		} else {
			w = append(w, c.col+" = ANY("+arg(c.vals)+"::text[])")
		}
	}
	if rows.Key != "" {
		w = append(w, "key = "+arg(rows.Key))
	}
	return strings.Join(w, " AND ")
}

// RollupBuckets reads the lower bounds of the duration buckets.
func (r rollups) RollupBuckets(ctx context.Context) ([]time.Duration, error) {
	rows, _ := r.s.pool.Query(ctx, `SELECT lo_ms FROM dashboard_buckets ORDER BY bucket`)
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (time.Duration, error) {
		var ms int64
		err := r.Scan(&ms)
		return time.Duration(ms) * time.Millisecond, err
	})
}
