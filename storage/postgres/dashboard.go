package postgres

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"siteline/storage"
)

// The dashboards' reads over dashboard_counts (migration 00010), which
// triggers keep in step with the session history in the transaction of
// every write, as storage/sqlite's dashboard.go reads its rollups: the
// same rows, the same sums, in the same order. A read sums the rows of
// the query's days, sites and outcome: its cost grows with the days and
// groups asked for, not with the number of sessions.

var _ storage.DashboardStore = (*Store)(nil)

const day = 24 * time.Hour

// dashboardReadsAtOnce is how many of one dashboard's reads run at once,
// each on a connection of the pool.
const dashboardReadsAtOnce = 2

// goalSep separates the goal from the outcome in the goal metric's value.
const goalSep = "\x1f"

// maxGoalRows is how many (goal, outcome) sums a read returns, most
// sessions first.
const maxGoalRows = 200

// DashboardCounts sums the rollups of q.
func (s *Store) DashboardCounts(ctx context.Context, q storage.DashboardQuery) (storage.DashboardCounts, error) {
	var out storage.DashboardCounts
	if err := q.Check(); err != nil {
		return out, fmt.Errorf("dashboard: %w", err)
	}
	names, err := s.dashboardNames(ctx, q.OrgID)
	if err != nil {
		return out, fmt.Errorf("dashboard: %w", err)
	}
	sel := dashboardSelect(q, names)
	if out.Buckets, err = s.dashboardBuckets(ctx); err != nil {
		return out, fmt.Errorf("dashboard: %w", err)
	}
	days := []piece{{span: spanDay, lo: sel.fromDay, hi: sel.toDay}}
	sum := func(metric, value, text string, pieces []piece, into *[]storage.DashboardCount) func() error {
		return func() (err error) {
			*into, err = s.dashboardSum(ctx, sel, pieces, metric, sel.group, value, text, "")
			return err
		}
	}
	var goals []storage.DashboardCount
	type read struct {
		what string
		read func() error
	}
	// value and text are as storage/sqlite names them; val is text here,
	// cast back for the numeric metrics.
	reads := []read{
		{"n", sum("n", "t", "''", days, &out.Days)},
		{"hour", sum("hour", "val::bigint", "''", sel.cover, &out.Hours)},
		{"outcome", sum("outcome", "0", "val", sel.cover, &out.Outcomes)},
		{"people", sum("people", "val::bigint", "''", sel.cover, &out.People)},
		{"tts", sum("tts", "val::bigint", "''", sel.cover, &out.ToSolve)},
		{"answer", sum("answer", "val::bigint", "''", sel.cover, &out.Answer)},
		{"goals", func() (err error) {
			goals, err = s.dashboardSum(ctx, sel, sel.cover, "goal", "''", "0", "val",
				fmt.Sprintf(" ORDER BY 4 DESC, 3 LIMIT %d", maxGoalRows))
			return err
		}},
	}
	if q.TeamID == "" && q.LabelID == "" && q.UserID == "" && (q.By == storage.DimNone || q.By == storage.DimSite) {
		reads = append(reads, read{"participants", func() (err error) {
			out.Distinct, err = s.dashboardDistinct(ctx, q, sel)
			return err
		}})
	}
	// The reads are independent: they run dashboardReadsAtOnce at a time,
	// so one dashboard leaves the rest of the pool to other requests.
	errs := make([]error, len(reads))
	turn := make(chan struct{}, dashboardReadsAtOnce)
	var wg sync.WaitGroup
	for i, r := range reads {
		wg.Add(1)
		go func() {
			defer wg.Done()
			turn <- struct{}{}
			defer func() { <-turn }()
			if err := r.read(); err != nil {
				errs[i] = fmt.Errorf("dashboard: %s: %w", r.what, err)
			}
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil { // the first: an ended context fails them all alike
			return storage.DashboardCounts{}, err
		}
	}
	for _, g := range goals {
		goal, outcome, _ := strings.Cut(g.Text, goalSep)
		out.Goals = append(out.Goals, storage.DashboardCount{Group: outcome, Text: goal, N: g.N})
	}
	if out.Goals == nil {
		out.Goals = []storage.DashboardCount{}
	}
	return out, nil
}

// The grains of dashboard_counts' time: UTC days since 1970 and months
// since January 1970.
const (
	spanDay   = 0
	spanMonth = 1
)

// piece is a range [lo, hi) of days or months.
type piece struct {
	span   int
	lo, hi int64
}

// dashboardQuery is a DashboardQuery as SQL: the dim whose rows it sums,
// the conditions on them but the metric and the range (with $ numbers
// from 3: dashboardSum numbers the metric and the dim $1 and $2), the
// column a breakdown groups by, and its range of days, whole and as
// whole months plus the days at the edges.
type dashboardQuery struct {
	dim            string
	where          string
	args           []any
	group          string // a column, or "''"
	fromDay, toDay int64
	cover          []piece
	names          dashboardNames
}

// noDay and noMonth are past any day and month the rollups hold.
const (
	noDay   = 1 << 40
	noMonth = 1 << 40
)

// dashboardNames are an organisation's sites and the outcomes its
// sessions ever counted under: a read that sums every site's or outcome's
// rows names each of them, so that the index lookup goes on to the days.
type dashboardNames struct {
	sites, outcomes []string
}

// dashboardNames reads the names of orgID's sites (dashboard_sites) and
// outcomes (the values of the outcome metric's months, every site and
// outcome), as storage/sqlite does: from the rollups, not from the
// organisation data.
func (s *Store) dashboardNames(ctx context.Context, orgID string) (dashboardNames, error) {
	var names dashboardNames
	for _, r := range []struct {
		q    string
		into *[]string
	}{
		{`SELECT site_id FROM dashboard_sites WHERE org_id = $1`, &names.sites},
		{`SELECT DISTINCT val FROM dashboard_counts
			WHERE org_id = $1 AND metric = 'outcome' AND dim = '' AND span = 1 AND site_id = '*' AND outcome = '*'`, &names.outcomes},
	} {
		rows, _ := s.pool.Query(ctx, r.q, orgID)
		list, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			return names, err
		}
		*r.into = list
	}
	return names, nil
}

// dashboardSelect turns a checked query into SQL.
func dashboardSelect(q storage.DashboardQuery, names dashboardNames) dashboardQuery {
	sel := dashboardQuery{group: "''", fromDay: 0, toDay: noDay, names: names}
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
	sel.rows(q, key)
	if !q.From.IsZero() {
		sel.fromDay = dayOf(q.From)
	}
	if !q.To.IsZero() {
		sel.toDay = dayOf(q.To.Add(day - 1))
	}
	sel.cover = cover(sel.fromDay, sel.toDay)
	return sel
}

// rows sets the conditions that pick the rows of sel.dim (and of key,
// when not "") at the grain of q's site and outcome filters, as
// storage/sqlite picks them.
func (sel *dashboardQuery) rows(q storage.DashboardQuery, key string) {
	// Every session's rows (dim '') are kept for the site or every site
	// and the outcome or every outcome, a team's, label's or user's for
	// both or neither: filtered by one of them, those sum the rows of
	// every site or outcome.
	bySite := len(q.SiteIDs) > 0 || q.By == storage.DimSite
	both := sel.dim != "" && (bySite || q.Outcome != "")
	sel.args = nil
	arg := func(v any) string {
		sel.args = append(sel.args, v)
		return fmt.Sprintf("$%d", len(sel.args)+2)
	}
	w := []string{"org_id = " + arg(q.OrgID)}
	// Every site or outcome is named as an array of values rather than
	// site_id <> '*': an index scan takes the array's values one by one
	// and goes on to the days for each.
	switch {
	case len(q.SiteIDs) > 0:
		w = append(w, "site_id = ANY("+arg(q.SiteIDs)+"::text[])")
	case q.By == storage.DimSite || both:
		w = append(w, "site_id = ANY("+arg(nonNilStrings(sel.names.sites))+"::text[])")
	default:
		w = append(w, "site_id = '*'")
	}
	switch {
	case q.Outcome != "":
		w = append(w, "outcome = "+arg(q.Outcome))
	case both:
		w = append(w, "outcome = ANY("+arg(nonNilStrings(sel.names.outcomes))+"::text[])")
	default:
		w = append(w, "outcome = '*'")
	}
	if key != "" {
		w = append(w, "key = "+arg(key))
	}
	sel.where = strings.Join(w, " AND ")
}

func nonNilStrings(v []string) []string {
	if v == nil {
		return []string{}
	}
	return v
}

// dayOf is t's UTC day, as the rollups number days (days since 1970).
func dayOf(t time.Time) int64 {
	return t.UTC().Unix() / 86400
}

// monthOf is the month (since January 1970) that holds day d.
func monthOf(d int64) int64 {
	t := time.Unix(d*86400, 0).UTC()
	return int64(t.Year()-1970)*12 + int64(t.Month()) - 1
}

// monthStart is the first day of month m.
func monthStart(m int64) int64 {
	return dayOf(time.Date(1970+int(m/12), time.Month(m%12+1), 1, 0, 0, 0, 0, time.UTC))
}

// cover splits the days [from, to) into the whole months inside them and
// the days before and after those months. to is noDay for a range with
// no end.
func cover(from, to int64) []piece {
	first := monthOf(from)
	if monthStart(first) < from {
		first++
	}
	last := int64(noMonth) // the first month not wholly inside
	if to < noDay {
		last = monthOf(to)
	}
	if first >= last {
		return []piece{{span: spanDay, lo: from, hi: to}}
	}
	list := []piece{{span: spanMonth, lo: first, hi: last}}
	if from < monthStart(first) {
		list = append(list, piece{span: spanDay, lo: from, hi: monthStart(first)})
	}
	if to < noDay && monthStart(last) < to {
		list = append(list, piece{span: spanDay, lo: monthStart(last), hi: to})
	}
	return list
}

// dashboardSum sums the rows of one metric over the pieces of a range,
// grouped by group, value and text (SQL expressions over
// dashboard_counts). Without a tail, the sums come in the order SQLite's
// GROUP BY gives them: by group, value and text, byte by byte.
func (s *Store) dashboardSum(ctx context.Context, sel dashboardQuery, pieces []piece, metric, group, value, text, tail string) ([]storage.DashboardCount, error) {
	args := append([]any{metric, sel.dim}, sel.args...)
	var parts []string
	for _, p := range pieces {
		n := len(args)
		args = append(args, p.span, p.lo, p.hi)
		parts = append(parts, fmt.Sprintf(`SELECT %s AS g, %s AS v, %s AS x, n FROM dashboard_counts
			WHERE metric = $1 AND dim = $2 AND span = $%d AND %s AND t >= $%d AND t < $%d`,
			group, value, text, n+1, sel.where, n+2, n+3))
	}
	if tail == "" {
		tail = " ORDER BY 1, 2, 3"
	}
	q := `SELECT g::text COLLATE "C", v::bigint, x::text COLLATE "C", sum(n)::bigint FROM (` + strings.Join(parts, " UNION ALL ") + `) AS pieces
		GROUP BY 1, 2, 3 HAVING sum(n) <> 0` + tail
	rows, _ := s.pool.Query(ctx, q, args...)
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (storage.DashboardCount, error) {
		var c storage.DashboardCount
		return c, r.Scan(&c.Group, &c.Value, &c.Text, &c.N)
	})
}

// dashboardDistinct counts the distinct users who took part, per group,
// from the per-user rows of the same range, sites and outcome.
func (s *Store) dashboardDistinct(ctx context.Context, q storage.DashboardQuery, sel dashboardQuery) ([]storage.DashboardCount, error) {
	users := sel
	users.dim = "user"
	users.rows(q, "")
	sums, err := s.dashboardSum(ctx, users, sel.cover, "n", sel.group, "0", "key", "")
	if err != nil {
		return nil, err
	}
	per := map[string]int64{}
	var groups []string
	for _, c := range sums {
		if per[c.Group] == 0 {
			groups = append(groups, c.Group)
		}
		per[c.Group]++
	}
	list := []storage.DashboardCount{}
	for _, g := range groups {
		list = append(list, storage.DashboardCount{Group: g, Value: per[g], N: per[g]})
	}
	return list, nil
}

func (s *Store) dashboardBuckets(ctx context.Context) ([]time.Duration, error) {
	rows, _ := s.pool.Query(ctx, `SELECT lo_ms FROM dashboard_buckets ORDER BY bucket`)
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (time.Duration, error) {
		var ms int64
		err := r.Scan(&ms)
		return time.Duration(ms) * time.Millisecond, err
	})
}
