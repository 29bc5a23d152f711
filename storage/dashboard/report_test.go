package dashboard

import (
	"bytes"
	"net/url"
	"testing"
	"time"

	"siteline/storage"
)

func day(s string) int64 {
	t, _ := time.Parse(time.DateOnly, s)
	return t.Unix() / 86400
}

func TestSessionsOverTimeFillEveryPeriodOfTheRange(t *testing.T) {
	from, _ := time.Parse(time.DateOnly, "2026-03-04") // a Wednesday
	to, _ := time.Parse(time.DateOnly, "2026-04-02")
	in := Input{Query: storage.DashboardQuery{From: from, To: to}, History: url.Values{"site": {"s1"}},
		Counts: storage.DashboardCounts{Days: []storage.DashboardCount{{Value: day("2026-03-04"), N: 2}, {Value: day("2026-03-08"), N: 1},
			{Value: day("2026-03-09"), N: 4}, {Value: day("2026-04-01"), N: 5}}}}
	for _, c := range []struct {
		p      Period
		labels []string
		values []float64
	}{
		{Week, []string{"2026-03-02", "2026-03-09", "2026-03-16", "2026-03-23", "2026-03-30"}, []float64{3, 4, 0, 0, 5}},
		{Month, []string{"2026-03-01", "2026-04-01"}, []float64{7, 5}},
	} {
		in.Period = c.p
		ch := in.overTime(nil)
		if len(ch.Rows) != len(c.labels) {
			t.Fatalf("%s: %d rows, want %d: %+v", c.p, len(ch.Rows), len(c.labels), ch.Rows)
		}
		for i, r := range ch.Rows {
			if r.Label != c.labels[i] || r.Values[0] != c.values[i] {
				t.Errorf("%s row %d = %s %v, want %s %v", c.p, i, r.Label, r.Values, c.labels[i], c.values[i])
			}
		}
	}
	// The first week's link starts at the range's first day, not Monday.
	in.Period = Week
	if got := in.overTime(nil).Rows[0].Href; got != "/sessions?from=2026-03-04&site=s1&to=2026-03-08" {
		t.Errorf("first week's link = %s", got)
	}
}

func TestPercentilesAreTheBucketsThatHoldThem(t *testing.T) {
	buckets := []time.Duration{0, time.Second, time.Minute, time.Hour}
	counts := []storage.DashboardCount{{Value: 1, N: 50}, {Value: 2, N: 45}, {Value: 3, N: 5}}
	p := percentiles(buckets, counts)
	if p.N != 100 || p.Median.Lo != 1 || p.Median.Hi != 60 || p.P90.Lo != 60 || p.P99.Lo != 3600 || p.P99.Hi != 0 {
		t.Errorf("percentiles = %+v %+v %+v %+v", p, *p.Median, *p.P90, *p.P99)
	}
	if got := p.P90.Text(); got != "≈ 31 min" {
		t.Errorf("p90 shows %q", got)
	}
	if got := percentiles(buckets, nil); got.Median != nil || (*Span)(nil).Text() != "—" {
		t.Errorf("no durations = %+v", got)
	}
}

func TestChartCSVKeepsFormulasOut(t *testing.T) {
	ch := Chart{X: "Goal", Series: []string{"Sessions"}, Rows: []Row{{Label: "=cmd|' /C calc'!A0", Values: []float64{2}}, {Label: "fix, pump", Values: []float64{1.5}}}}
	var buf bytes.Buffer
	if err := ch.WriteCSV(&buf); err != nil {
		t.Fatal(err)
	}
	if want := "Goal,Sessions\n'=cmd|' /C calc'!A0,2\n\"fix, pump\",1.5\n"; buf.String() != want {
		t.Errorf("CSV = %q, want %q", buf.String(), want)
	}
}
