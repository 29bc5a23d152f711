package dashboard

import (
	"cmp"
	"encoding/csv"
	"encoding/json"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	"siteline/storage"
)

const dayLen = 24 * time.Hour

// overTime is the number of sessions per period, one series per group of
// the breakdown (the largest maxSeries, the rest as "Other").
func (in Input) overTime(groups []Group) Chart {
	ch := Chart{ID: "sessions", Title: "Sessions over time", Kind: "time", X: "Period starting"}
	series := map[string]int{}
	if len(groups) == 0 {
		ch.Series = []string{"Sessions"}
	} else {
		for i, g := range groups {
			if i == maxSeries && len(groups) > maxSeries+1 {
				ch.Series = append(ch.Series, "Other")
				break
			}
			series[g.ID] = len(ch.Series)
			ch.Series = append(ch.Series, g.Name)
		}
	}
	other := len(ch.Series) - 1
	per := map[time.Time][]float64{}
	first, last := time.Time{}, time.Time{}
	for _, c := range in.Counts.Days {
		day := time.Unix(c.Value*86400, 0).UTC()
		p := in.Period.start(day)
		if per[p] == nil {
			per[p] = make([]float64, len(ch.Series))
		}
		i, ok := series[c.Group]
		if !ok {
			i = other
		}
		per[p][i] += float64(c.N)
		if first.IsZero() || day.Before(first) {
			first = day
		}
		if day.After(last) {
			last = day
		}
	}
	if !in.Query.From.IsZero() {
		first = in.Query.From.UTC().Truncate(dayLen)
	}
	if !in.Query.To.IsZero() {
		last = in.Query.To.UTC().Add(-1).Truncate(dayLen)
	}
	if first.IsZero() || last.Before(first) {
		return ch
	}
	for p := in.Period.start(first); !p.After(last) && len(ch.Rows) < 2000; p = in.Period.next(p) {
		values := per[p]
		if values == nil {
			values = make([]float64, len(ch.Series))
		}
		from, to := maxTime(p, first), minTime(in.Period.next(p).Add(-dayLen), last)
		ch.Rows = append(ch.Rows, Row{Label: p.Format(time.DateOnly), X: float64(p.Unix()), Values: values,
			Href: in.href("from", from.Format(time.DateOnly), "to", to.Format(time.DateOnly))})
	}
	return ch
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

// start is the first day of the period that holds day: the day, the
// Monday of its ISO week, the first of its month.
func (p Period) start(day time.Time) time.Time {
	switch p {
	case Week:
		return day.AddDate(0, 0, -((int(day.Weekday()) + 6) % 7))
	case Month:
		return time.Date(day.Year(), day.Month(), 1, 0, 0, 0, 0, time.UTC)
	}
	return day
}

func (p Period) next(start time.Time) time.Time {
	switch p {
	case Week:
		return start.AddDate(0, 0, 7)
	case Month:
		return start.AddDate(0, 1, 0)
	}
	return start.AddDate(0, 0, 1)
}

// hours is the number of sessions per hour of the day they started.
func (in Input) hours() Chart {
	ch := Chart{ID: "hours", Title: "Busiest hours", Kind: "bar", X: "Hour (UTC)", Series: []string{"Sessions"},
		Note: "The hour each session started, in UTC."}
	var per [24]float64
	for _, c := range in.Counts.Hours {
		if c.Value >= 0 && c.Value < 24 {
			per[c.Value] += float64(c.N)
		}
	}
	for h, n := range per {
		ch.Rows = append(ch.Rows, Row{Label: fmtHour(h), X: float64(h), Values: []float64{n}, Href: in.href()})
	}
	return ch
}

// people is the number of sessions per number of distinct participants.
func (in Input) people() Chart {
	ch := Chart{ID: "participants", Title: "Participants per session", Kind: "bar", X: "Participants", Series: []string{"Sessions"}}
	per := map[int64]float64{}
	var most int64
	for _, c := range in.Counts.People {
		per[c.Value] += float64(c.N)
		most = max(most, c.Value)
	}
	for n := int64(0); n <= most && len(per) > 0; n++ {
		if n == 0 && per[0] == 0 {
			continue
		}
		ch.Rows = append(ch.Rows, Row{Label: itoa(n), X: float64(len(ch.Rows)), Values: []float64{per[n]}, Href: in.href()})
	}
	return ch
}

// bins are the histogram's bins: a session counts in the bin its
// 10 %-wide bucket starts in.
var bins = []struct {
	lo    time.Duration
	label string
}{
	{0, "under 30 s"}, {30 * time.Second, "30 s – 1 min"}, {time.Minute, "1 – 2 min"}, {2 * time.Minute, "2 – 5 min"},
	{5 * time.Minute, "5 – 10 min"}, {10 * time.Minute, "10 – 15 min"}, {15 * time.Minute, "15 – 30 min"},
	{30 * time.Minute, "30 – 60 min"}, {time.Hour, "1 – 2 h"}, {2 * time.Hour, "2 – 4 h"}, {4 * time.Hour, "4 – 8 h"},
	{8 * time.Hour, "8 – 24 h"}, {24 * time.Hour, "a day or more"},
}

func (in Input) durations(id, title string, counts []storage.DashboardCount) Chart {
	ch := Chart{ID: id, Title: title, Kind: "bar", X: "Duration", Series: []string{"Sessions"}}
	if id == "time_to_solve" {
		ch.Note = "From the start of a session to the moment it was marked solved, or to its end if it never was."
	} else {
		ch.Note = "From a service request's call to the moment an expert answered it."
	}
	per := make([]float64, len(bins))
	for _, c := range counts {
		if c.Value < 0 || int(c.Value) >= len(in.Counts.Buckets) {
			continue
		}
		lo := in.Counts.Buckets[c.Value]
		i := len(bins) - 1
		for bins[i].lo > lo {
			i--
		}
		per[i] += float64(c.N)
	}
	last := len(per) - 1
	for last > 0 && per[last] == 0 {
		last--
	}
	for i := 0; i <= last && sum(counts) > 0; i++ {
		ch.Rows = append(ch.Rows, Row{Label: bins[i].label, X: float64(i), Values: []float64{per[i]}, Href: in.href()})
	}
	return ch
}

func (in Input) outcomeName(key string) string {
	if key == "" {
		return "None yet"
	}
	if in.OutcomeName != nil {
		if n := in.OutcomeName(key); n != "" {
			return n
		}
	}
	return key
}

// outcomes is the number of sessions per outcome.
func (in Input) outcomes() Chart {
	ch := Chart{ID: "outcomes", Title: "Outcomes", Kind: "bar", X: "Outcome", Series: []string{"Sessions"}}
	per := map[string]float64{}
	for _, c := range in.Counts.Outcomes {
		per[c.Text] += float64(c.N)
	}
	keys := sortedByCount(per)
	for _, k := range keys {
		href := in.href()
		if k != "" {
			href = in.href("outcome", k)
		}
		ch.Rows = append(ch.Rows, Row{Label: in.outcomeName(k), X: float64(len(ch.Rows)), Values: []float64{per[k]}, Href: href})
	}
	return ch
}

func sortedByCount(per map[string]float64) []string {
	var keys []string
	for k := range per {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b string) int {
		if c := cmp.Compare(per[b], per[a]); c != 0 {
			return c
		}
		return strings.Compare(a, b)
	})
	return keys
}

// maxGoals is how many goals the goals table lists.
const maxGoals = 50

// goals is the most frequent goals with their outcomes.
func (in Input) goals() Chart {
	ch := Chart{ID: "goals", Title: "Goals", Kind: "bar", X: "Goal", Series: []string{"Sessions"},
		Note: "The goals given most often, with the outcome of their sessions. Goals count as one when they differ only in case, spacing or words holding a digit (asset tags, order numbers): \"Inspect boiler B-204\" and \"inspect boiler C-118\" are \"inspect boiler\"."}
	total := map[string]float64{}
	byOutcome := map[string]map[string]float64{}
	outcomes := map[string]float64{}
	for _, c := range in.Counts.Goals {
		total[c.Text] += float64(c.N)
		if byOutcome[c.Text] == nil {
			byOutcome[c.Text] = map[string]float64{}
		}
		byOutcome[c.Text][c.Group] += float64(c.N)
		outcomes[c.Group] += float64(c.N)
	}
	keys := sortedByCount(outcomes)
	for _, k := range keys {
		ch.Series = append(ch.Series, in.outcomeName(k))
	}
	goals := sortedByCount(total)
	for _, g := range goals[:min(maxGoals, len(goals))] {
		values := []float64{total[g]}
		for _, k := range keys {
			values = append(values, byOutcome[g][k])
		}
		ch.Rows = append(ch.Rows, Row{Label: g, X: float64(len(ch.Rows)), Values: values, Href: in.href("q", g)})
	}
	return ch
}

// breakdown is the groups' figures side by side.
func (in Input) breakdown(groups []Group) Chart {
	by := string(in.Query.By)
	ch := Chart{ID: "breakdown", Title: "By " + by, Kind: "bar", X: strings.ToUpper(by[:1]) + by[1:],
		Series: []string{"Sessions", "Participants per session", "Solved",
			"Median time to solve (min)", "p90 time to solve (min)", "p99 time to solve (min)", "Median answer time (s)"},
		Note: "Times are the middle of the 10 %-wide bucket that holds them."}
	distinct := groups[0].Distinct != nil
	if distinct {
		ch.Series = append(ch.Series, "Distinct participants")
	}
	for _, g := range groups {
		values := []float64{float64(g.Sessions), round2(g.Participants), float64(g.Solved),
			minutes(g.ToSolve.Median), minutes(g.ToSolve.P90), minutes(g.ToSolve.P99), round2(g.Answer.Median.Mid().Seconds())}
		if distinct && g.Distinct != nil {
			values = append(values, float64(*g.Distinct))
		} else if distinct {
			values = append(values, 0)
		}
		ch.Rows = append(ch.Rows, Row{Label: g.Name, X: float64(len(ch.Rows)), Href: g.Href, Values: values})
	}
	return ch
}

func minutes(s *Span) float64 { return round2(s.Mid().Minutes()) }

func round2(f float64) float64 { return float64(int64(f*100+0.5)) / 100 }

// Chart returns the report's chart id, false when there is none.
func (r Report) Chart(id string) (Chart, bool) {
	for _, c := range r.Charts {
		if c.ID == id {
			return c, true
		}
	}
	return Chart{}, false
}

// WriteCSV writes the chart's table: a heading row, then a row per x.
func (c Chart) WriteCSV(w io.Writer) error {
	cw := csv.NewWriter(w)
	head := append([]string{c.X}, c.Series...)
	if err := cw.Write(head); err != nil {
		return err
	}
	for _, r := range c.Rows {
		rec := []string{csvSafe(r.Label)}
		for _, v := range r.Values {
			rec = append(rec, strconv.FormatFloat(v, 'f', -1, 64))
		}
		if err := cw.Write(rec); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

// WriteJSON writes the chart as JSON.
func (c Chart) WriteJSON(w io.Writer) error {
	return json.NewEncoder(w).Encode(c)
}

// csvSafe keeps a spreadsheet from reading a cell as a formula.
func csvSafe(v string) string {
	if v != "" && strings.ContainsRune("=+-@\t\r", rune(v[0])) {
		return "'" + v
	}
	return v
}
