// Package dashboard turns the sums of the dashboards' rollups
// (storage.DashboardCounts) into what the page shows and the exports
// hold: summary figures, a row per group of the breakdown, and charts,
// each a table (an x column and one column per series) that the page
// draws and prints under the chart, and that exports as CSV or JSON.
//
// Time to solve is storage.SessionSummary.TimeToSolve: from the start to
// the moment the session was marked solved, or to its end when it never
// was. Its median and percentiles (nearest rank) come from counts in
// buckets at most 10 % wide: a figure is given as its bucket, [lo, hi),
// which holds the exact value.
package dashboard

import (
	"cmp"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"time"

	"siteline/storage"
)

// Period is the width of the sessions-over-time buckets.
type Period string

const (
	Day   Period = "day"
	Week  Period = "week"
	Month Period = "month"
)

// Input is what a report is made of.
type Input struct {
	Query  storage.DashboardQuery
	Period Period
	Counts storage.DashboardCounts
	// Name names a group of the breakdown (a site, team, label or user
	// id); "" shows the id.
	Name func(dim storage.DashboardDim, id string) string
	// OutcomeName names an outcome key; "" shows the key.
	OutcomeName func(key string) string
	// History is the history page's query for the same filters: each row
	// links to it with the row's own filter added.
	History url.Values
}

// Report is one view of the dashboards.
type Report struct {
	Period  Period               `json:"period"`
	By      storage.DashboardDim `json:"by"`
	Summary Group                `json:"summary"`
	Groups  []Group              `json:"groups"` // by sessions, most first; empty without a breakdown
	Charts  []Chart              `json:"charts"`
}

// Group is the figures of the sessions of one group (or of all).
type Group struct {
	ID       string `json:"id"`
	Name     string `json:"name"`
	Sessions int64  `json:"sessions"`
	// Participants is the mean number of distinct users per session.
	Participants float64 `json:"participants_per_session"`
	// Distinct is the number of distinct users who took part; absent
	// where the rollups cannot tell (storage.DashboardCounts.Distinct).
	Distinct *int64      `json:"distinct_participants,omitempty"`
	Solved   int64       `json:"solved"`
	ToSolve  Percentiles `json:"time_to_solve"`
	Answer   Percentiles `json:"answer_time"`
	Href     string      `json:"history"`
}

// Percentiles of a duration; each figure is the bucket that holds it.
type Percentiles struct {
	N      int64 `json:"n"`
	Median *Span `json:"median,omitempty"`
	P90    *Span `json:"p90,omitempty"`
	P99    *Span `json:"p99,omitempty"`
}

// Span is a bucket of durations in seconds, [Lo, Hi); Hi 0 for the last,
// open one.
type Span struct {
	Lo float64 `json:"lo_seconds"`
	Hi float64 `json:"hi_seconds"`
}

// Mid is the value the page shows for a span: the middle of the bucket.
func (s *Span) Mid() time.Duration {
	if s == nil {
		return 0
	}
	if s.Hi == 0 {
		return time.Duration(s.Lo * float64(time.Second))
	}
	return time.Duration((s.Lo + s.Hi) / 2 * float64(time.Second))
}

// Chart is one chart and its table.
type Chart struct {
	ID     string   `json:"id"`
	Title  string   `json:"title"`
	Kind   string   `json:"kind"` // "time" (x is a unix time), "bar"
	X      string   `json:"x"`    // the x column's heading
	Series []string `json:"series"`
	Rows   []Row    `json:"rows"`
	Note   string   `json:"note,omitempty"`
}

// Row is one x of a chart: its label, its x (a unix time for time
// charts, the row's index otherwise), a value per series and the history
// page's URL for it ("" when the history cannot filter to it).
type Row struct {
	Label  string    `json:"label"`
	X      float64   `json:"x"`
	Values []float64 `json:"values"`
	Href   string    `json:"history,omitempty"`
}

// ChartIDs names the charts of a report; "breakdown" is there only with
// a breakdown.
var ChartIDs = []string{"sessions", "hours", "participants", "time_to_solve", "answer_time", "outcomes", "goals", "breakdown"}

// maxSeries is how many groups the sessions-over-time chart draws; the
// others add up to "Other".
const maxSeries = 6

// Build makes the report of in.
func Build(in Input) Report {
	if in.Period == "" {
		in.Period = Week
	}
	c := in.Counts
	r := Report{Period: in.Period, By: in.Query.By, Groups: []Group{}}
	r.Summary = in.group("", all(c.Days), all(c.People), all(c.ToSolve), all(c.Answer), all(c.Outcomes), c.Distinct, false)
	r.Summary.Name = "All sessions"
	if in.Query.By != storage.DimNone {
		for _, id := range groupIDs(c.Days) {
			g := in.group(id, only(c.Days, id), only(c.People, id), only(c.ToSolve, id), only(c.Answer, id), only(c.Outcomes, id), c.Distinct, true)
			r.Groups = append(r.Groups, g)
		}
		slices.SortStableFunc(r.Groups, func(a, b Group) int { return cmp.Compare(b.Sessions, a.Sessions) })
	}
	r.Charts = []Chart{
		in.overTime(r.Groups),
		in.hours(),
		in.people(),
		in.durations("time_to_solve", "Time to solve", c.ToSolve),
		in.durations("answer_time", "Answer time of service requests", c.Answer),
		in.outcomes(),
		in.goals(),
	}
	if len(r.Groups) > 0 {
		r.Charts = append(r.Charts, in.breakdown(r.Groups))
	}
	for i := range r.Charts {
		if r.Charts[i].Rows == nil {
			r.Charts[i].Rows = []Row{}
		}
	}
	return r
}

func all(list []storage.DashboardCount) []storage.DashboardCount { return list }

func only(list []storage.DashboardCount, group string) []storage.DashboardCount {
	var out []storage.DashboardCount
	for _, c := range list {
		if c.Group == group {
			out = append(out, c)
		}
	}
	return out
}

func groupIDs(list []storage.DashboardCount) []string {
	var ids []string
	for _, c := range list {
		if !slices.Contains(ids, c.Group) {
			ids = append(ids, c.Group)
		}
	}
	slices.Sort(ids)
	return ids
}

func sum(list []storage.DashboardCount) int64 {
	var n int64
	for _, c := range list {
		n += c.N
	}
	return n
}

func (in Input) group(id string, days, people, tts, answer, outcomes, distinct []storage.DashboardCount, grouped bool) Group {
	g := Group{ID: id, Name: in.name(id), Sessions: sum(days)}
	var heads int64
	for _, c := range people {
		heads += c.Value * c.N
	}
	if g.Sessions > 0 {
		g.Participants = float64(heads) / float64(g.Sessions)
	}
	// Users are counted per group: the summary of a breakdown by site
	// cannot add them up (one user may be at several sites).
	for _, c := range distinct {
		if c.Group == id && (grouped || in.Query.By == storage.DimNone) {
			n := c.Value
			g.Distinct = &n
		}
	}
	for _, c := range outcomes {
		if c.Text == storage.OutcomeSolved {
			g.Solved += c.N
		}
	}
	g.ToSolve = percentiles(in.Counts.Buckets, tts)
	g.Answer = percentiles(in.Counts.Buckets, answer)
	if grouped {
		g.Href = in.href(groupFilter(in.Query.By, id)...)
	} else {
		g.Href = in.href()
	}
	return g
}

func (in Input) name(id string) string {
	if in.Query.By == storage.DimNone || in.Name == nil {
		return id
	}
	if n := in.Name(in.Query.By, id); n != "" {
		return n
	}
	return id
}

func percentiles(buckets []time.Duration, counts []storage.DashboardCount) Percentiles {
	p := Percentiles{N: sum(counts)}
	for _, q := range []struct {
		p    float64
		into **Span
	}{{0.5, &p.Median}, {0.9, &p.P90}, {0.99, &p.P99}} {
		if lo, hi, ok := storage.BucketPercentile(buckets, counts, q.p); ok {
			*q.into = &Span{Lo: lo.Seconds(), Hi: hi.Seconds()}
		}
	}
	return p
}

// groupFilter is the history page's filter for one group.
func groupFilter(by storage.DashboardDim, id string) []string {
	switch by {
	case storage.DimSite:
		return []string{"site", id}
	case storage.DimTeam:
		return []string{"team", id}
	case storage.DimLabel:
		return []string{"label", id}
	case storage.DimUser:
		return []string{"participant", id}
	}
	return nil
}

// href is the history page's URL for the report's filters with kv set.
func (in Input) href(kv ...string) string {
	v := url.Values{}
	for k, vs := range in.History {
		v[k] = slices.Clone(vs)
	}
	for i := 0; i+1 < len(kv); i += 2 {
		v.Set(kv[i], kv[i+1])
	}
	if len(v) == 0 {
		return "/sessions"
	}
	return "/sessions?" + v.Encode()
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

func fmtHour(h int) string { return fmt.Sprintf("%02d:00", h) }

// Text is the span as the page shows it: "≈ 12 min", "—" for none.
func (s *Span) Text() string {
	if s == nil {
		return "—"
	}
	d := s.Mid().Round(time.Second)
	switch {
	case d >= time.Hour:
		return fmt.Sprintf("≈ %d h %02d min", int(d.Hours()), int(d.Minutes())%60)
	case d >= 10*time.Minute:
		return fmt.Sprintf("≈ %d min", int(d.Round(time.Minute).Minutes()))
	case d >= time.Minute:
		return fmt.Sprintf("≈ %d min %02d s", int(d.Minutes()), int(d.Seconds())%60)
	}
	return fmt.Sprintf("≈ %d s", int(d.Seconds()))
}

// PerSession is the mean number of participants, as the page shows it.
func (g Group) PerSession() string { return strconv.FormatFloat(round2(g.Participants), 'f', -1, 64) }

// Value is a row's value of series i as the page shows it.
func (r Row) Value(i int) string {
	if i >= len(r.Values) {
		return ""
	}
	return strconv.FormatFloat(r.Values[i], 'f', -1, 64)
}
