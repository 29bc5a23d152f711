package sqlite

import (
	"context"
	"fmt"
	"strings"
	"time"

	"siteline/storage"
)

// The dashboards' reads over dashboard_counts (migration 00025), which
// triggers keep in step with the session history in the transaction of
// every write. A read sums the rows of the query's days, sites and
// outcome: its cost grows with the days and groups asked for, not with
// the number of sessions.

var _ storage.DashboardStore = (*Store)(nil)

const day = 24 * time.Hour

// DashboardCounts sums the rollups of q.
func (s *Store) DashboardCounts(ctx context.Context, q storage.DashboardQuery) (storage.DashboardCounts, error) {
	var out storage.DashboardCounts
	sel, err := dashboardSelect(q)
	if err != nil {
		return out, fmt.Errorf("dashboard: %w", err)
	}
	if out.Buckets, err = s.dashboardBuckets(ctx); err != nil {
		return out, fmt.Errorf("dashboard: %w", err)
	}
	reads := []struct {
		metric, value, text string
		into                *[]storage.DashboardCount
	}{
		{"hour", "day", "''", &out.Days},
		{"hour", "val", "''", &out.Hours},
		{"hour", "0", "outcome", &out.Outcomes},
		{"people", "val", "''", &out.People},
		{"tts", "val", "''", &out.ToSolve},
		{"answer", "val", "''", &out.Answer},
	}
	for _, r := range reads {
		if *r.into, err = s.dashboardSum(ctx, sel, r.metric, sel.group, r.value, r.text, ""); err != nil {
			return out, fmt.Errorf("dashboard: %s: %w", r.metric, err)
		}
	}
	if out.Goals, err = s.dashboardSum(ctx, sel, "goal", "outcome", "0", "val", " ORDER BY sum(n) DESC, 3, 1 LIMIT 200"); err != nil {
		return out, fmt.Errorf("dashboard: goals: %w", err)
	}
	if q.TeamID == "" && q.LabelID == "" && q.UserID == "" && (q.By == storage.DimNone || q.By == storage.DimSite) {
		if out.Distinct, err = s.dashboardDistinct(ctx, sel); err != nil {
			return out, fmt.Errorf("dashboard: participants: %w", err)
		}
	}
	return out, nil
}

// dashboardQuery is a DashboardQuery as SQL: the rows of one dim and the
// conditions on them, and the column a breakdown groups by.
type dashboardQuery struct {
	dim   string
	from  string // the table, with the index that serves a key's days
	where string
	args  []any
	group string // a column, or "''"
}

func dashboardSelect(q storage.DashboardQuery) (dashboardQuery, error) {
	sel := dashboardQuery{group: "''", from: "dashboard_counts"}
	if err := q.Check(); err != nil {
		return sel, err
	}
	key := ""
	for _, f := range []struct {
		dim storage.DashboardDim
		id  string
	}{{storage.DimTeam, q.TeamID}, {storage.DimLabel, q.LabelID}, {storage.DimUser, q.UserID}} {
		if f.id != "" {
			sel.dim, key = string(f.dim), f.id
		}
	}
	switch q.By {
	case storage.DimSite:
		sel.group = "site_id"
	case storage.DimTeam, storage.DimLabel, storage.DimUser:
		sel.dim, sel.group = string(q.By), "key"
	}
	w := []string{"org_id = ?", "dim = ?"}
	sel.args = []any{q.OrgID, sel.dim}
	if key != "" {
		// Without statistics SQLite would take the primary key's range of
		// days, every key's rows.
		sel.from = "dashboard_counts INDEXED BY dashboard_counts_key"
		w = append(w, "key = ?")
		sel.args = append(sel.args, key)
	}
	if !q.From.IsZero() {
		w = append(w, "day >= ?")
		sel.args = append(sel.args, dayOf(q.From))
	}
	if !q.To.IsZero() {
		w = append(w, "day < ?")
		sel.args = append(sel.args, dayOf(q.To.Add(day-1)))
	}
	if len(q.SiteIDs) > 0 {
		w = append(w, "site_id IN ("+strings.TrimSuffix(strings.Repeat("?, ", len(q.SiteIDs)), ", ")+")")
		for _, id := range q.SiteIDs {
			sel.args = append(sel.args, id)
		}
	}
	if q.Outcome != "" {
		w = append(w, "outcome = ?")
		sel.args = append(sel.args, q.Outcome)
	}
	sel.where = strings.Join(w, " AND ")
	return sel, nil
}

// dayOf is t's UTC day, as the rollups number days (days since 1970).
func dayOf(t time.Time) int64 {
	return t.UTC().Unix() / 86400
}

// dashboardSum sums the rows of one metric, grouped by group, value and
// text (SQL expressions over dashboard_counts).
func (s *Store) dashboardSum(ctx context.Context, sel dashboardQuery, metric, group, value, text, tail string) ([]storage.DashboardCount, error) {
	q := `SELECT ` + group + `, ` + value + `, ` + text + `, sum(n) FROM ` + sel.from + `
		WHERE metric = ? AND ` + sel.where + ` GROUP BY 1, 2, 3 HAVING sum(n) != 0` + tail
	rows, err := s.read.QueryContext(ctx, q, append([]any{metric}, sel.args...)...)
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

// dashboardDistinct counts the distinct users who took part, per group,
// from the per-user rows of the same days, sites and outcome.
func (s *Store) dashboardDistinct(ctx context.Context, sel dashboardQuery) ([]storage.DashboardCount, error) {
	group := sel.group // site_id or none
	users := sel
	users.dim = "user"
	users.args = append([]any{}, sel.args...)
	users.args[1] = "user"
	q := `SELECT ` + group + `, count(*) FROM (SELECT ` + group + `, key FROM dashboard_counts
		WHERE metric = 'hour' AND ` + users.where + ` GROUP BY 1, 2 HAVING sum(n) != 0) GROUP BY 1`
	rows, err := s.read.QueryContext(ctx, q, users.args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	list := []storage.DashboardCount{}
	for rows.Next() {
		var c storage.DashboardCount
		if err := rows.Scan(&c.Group, &c.Value); err != nil {
			return nil, err
		}
		c.N = c.Value
		list = append(list, c)
	}
	return list, rows.Err()
}

func (s *Store) dashboardBuckets(ctx context.Context) ([]time.Duration, error) {
	rows, err := s.read.QueryContext(ctx, `SELECT lo_ms FROM dashboard_buckets ORDER BY bucket`)
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
