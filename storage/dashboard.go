package storage

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// The dashboards (SPEC.md, section 3) read rollups of the session history:
// counts of ended sessions per UTC day, site and outcome, for every session and
// per team, label and participant user, kept in step with the history by
// the store (the same transaction as each write). A DashboardQuery picks
// the days, sites, outcome and at most one of team, label or user, and a
// breakdown; DashboardCounts are the sums the page and its exports are
// computed from.

// DashboardDim is what the dashboards break sessions down by.
type DashboardDim string

// The breakdowns. A session counts once for its site and team, once for
// each of its labels and once for each user who took part.
const (
	DimNone  DashboardDim = ""
	DimSite  DashboardDim = "site"
	DimTeam  DashboardDim = "team"
	DimLabel DashboardDim = "label"
	DimUser  DashboardDim = "user"
)

// DashboardDims lists every breakdown.
var DashboardDims = []DashboardDim{DimNone, DimSite, DimTeam, DimLabel, DimUser}

// DashboardQuery selects the sessions the dashboards sum. Empty fields do
// not filter. Days are UTC days of the sessions' start: From is the first
// one, To the day after the last.
type DashboardQuery struct {
	OrgID    string // required
	From, To time.Time
	SiteIDs  []string
	// At most one of TeamID, LabelID and UserID, and when By is a team,
	// label or user, only that same one (the rollups are kept per team,
	// per label and per user, not per combination).
	TeamID, LabelID, UserID string
	Outcome                 string
	By                      DashboardDim
}

// Check reports a query the rollups cannot answer: a
// *ValidationError naming the field.
func (q DashboardQuery) Check() error {
	if q.OrgID == "" {
		return &ValidationError{Field: "org_id", Problem: "is required"}
	}
	dim, n := DimNone, 0
	for _, f := range []struct {
		dim DashboardDim
		id  string
	}{{DimTeam, q.TeamID}, {DimLabel, q.LabelID}, {DimUser, q.UserID}} {
		if f.id != "" {
			dim, n = f.dim, n+1
		}
	}
	if n > 1 {
		return &ValidationError{Field: "filter", Problem: "may name one of team, label and user, not several"}
	}
	switch q.By {
	case DimNone, DimSite:
	case DimTeam, DimLabel, DimUser:
		if dim != DimNone && dim != q.By {
			return &ValidationError{Field: "by",
				Problem: fmt.Sprintf("a breakdown by %s cannot be filtered by %s (filter by the %s or break down by %s)", q.By, dim, q.By, dim)}
		}
	default:
		return &ValidationError{Field: "by", Problem: fmt.Sprintf("%q is not a breakdown (site, team, label or user)", q.By)}
	}
	if !q.From.IsZero() && !q.To.IsZero() && !q.To.After(q.From) {
		return &ValidationError{Field: "to", Problem: "must be after from"}
	}
	return nil
}

// DashboardCount is one sum: Group is the breakdown's key (a site, team,
// label or user id; "" without a breakdown), Value the metric's value
// (a day, an hour, a number of people or a bucket), Text an outcome or a
// goal, N the number of sessions.
type DashboardCount struct {
	Group string `json:"group"`
	Value int64  `json:"value"`
	Text  string `json:"text,omitempty"`
	N     int64  `json:"n"`
}

// DashboardCounts are the sums of one DashboardQuery.
type DashboardCounts struct {
	// Buckets are the lower bounds of the duration buckets that ToSolve
	// and Answer count in; bucket i is [Buckets[i], Buckets[i+1]), the
	// last one open. Each is at most 10 % wide.
	Buckets []time.Duration `json:"-"`

	Days     []DashboardCount // Value: days since 1970-01-01 (UTC)
	Hours    []DashboardCount // Value: UTC hour of the start
	Outcomes []DashboardCount // Text: outcome ("" none yet)
	People   []DashboardCount // Value: distinct users who took part
	ToSolve  []DashboardCount // Value: bucket of the time to solve (SessionSummary.TimeToSolve)
	Answer   []DashboardCount // Value: bucket of a service request's answer time
	Goals    []DashboardCount // Text: the goal, lower-cased, Value 0; Group is the outcome
	// Distinct: Value (and N) the number of distinct users who took part,
	// per group; left empty when the query filters by a team, label or
	// user or breaks down by one.
	Distinct []DashboardCount
}

// DashboardStore reads the dashboards' rollups.
type DashboardStore interface {
	DashboardCounts(ctx context.Context, q DashboardQuery) (DashboardCounts, error)
}

// Bucket returns the bucket of buckets (lower bounds, ascending, the first
// 0) that d falls in.
func Bucket(buckets []time.Duration, d time.Duration) int {
	lo, hi := 0, len(buckets)
	for hi-lo > 1 {
		m := (lo + hi) / 2
		if buckets[m] <= d {
			lo = m
		} else {
			hi = m
		}
	}
	return lo
}

// BucketPercentile returns the bounds of the bucket that holds the p-th
// percentile (0 < p <= 1, nearest rank: the ceil(p*n)-th smallest value)
// of the durations counted per bucket in counts (Value the bucket); hi is
// 0 for the last, open bucket. ok is false when counts holds nothing.
func BucketPercentile(buckets []time.Duration, counts []DashboardCount, p float64) (lo, hi time.Duration, ok bool) {
	per := make([]int64, len(buckets))
	var total int64
	for _, c := range counts {
		if c.Value >= 0 && int(c.Value) < len(per) && c.N > 0 {
			per[c.Value] += c.N
			total += c.N
		}
	}
	if total == 0 {
		return 0, 0, false
	}
	rank := NearestRank(total, p)
	var seen int64
	for i, n := range per {
		seen += n
		if seen >= rank {
			if i+1 < len(buckets) {
				hi = buckets[i+1]
			}
			return buckets[i], hi, true
		}
	}
	return 0, 0, false
}

// NearestRank is the 1-based rank of the p-th percentile of n values.
func NearestRank(n int64, p float64) int64 {
	r := int64(p*float64(n) + 0.999999999)
	if r < 1 {
		r = 1
	}
	if r > n {
		r = n
	}
	return r
}

// GoalKey is how the dashboards count a session's goal: lower-cased, its
// words separated by single spaces, and the words holding a digit (asset
// tags, order and serial numbers) left out, so that "Inspect boiler B-204"
// and "inspect  Boiler C-118" count as one goal, "inspect boiler". A goal
// made only of such words is kept whole (lower-cased); "" stays "".
func GoalKey(goal string) string {
	words := strings.Fields(strings.ToLower(goal))
	kept := words[:0:0]
	for _, w := range words {
		if !strings.ContainsAny(w, "0123456789") {
			kept = append(kept, w)
		}
	}
	if len(kept) == 0 {
		kept = words
	}
	return strings.Join(kept, " ")
}
