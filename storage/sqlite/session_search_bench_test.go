package sqlite

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"siteline/storage"
	"siteline/storage/historygen"
)

// BenchmarkSessionSearch measures the history search on generated data:
//
//	SITELINE_BENCH_SESSIONS=1000000 go test ./storage/sqlite -run '^$' -bench BenchmarkSessionSearch -benchtime 200x
//
// SITELINE_BENCH_DB=path/siteline.db reuses a store filled before by
// `siteline dev seed-history` (with its default seed) instead of
// generating one; SITELINE_BENCH_PLANS=1 logs each shape's query plan;
// SITELINE_BENCH_SHAPES=a,b runs only the shapes named.
// Each shape reports the median and 95th percentile of one page (50 rows)
// with varying parameters.
func BenchmarkSessionSearch(b *testing.B) {
	cfg := historygen.Defaults
	if n, err := strconv.Atoi(os.Getenv("SITELINE_BENCH_SESSIONS")); err == nil && n > 0 {
		cfg.Sessions = n
	}
	orgs, _ := historygen.Orgs(cfg)
	var s *Store
	if path := os.Getenv("SITELINE_BENCH_DB"); path != "" {
		var err error
		if s, err = Open(context.Background(), path, nil); err != nil {
			b.Fatal(err)
		}
		defer s.Close()
	} else {
		start := time.Now()
		s, _ = historyStore(b, cfg)
		b.Logf("generated %d sessions in %v", cfg.Sessions, time.Since(start).Round(time.Second))
	}
	o := orgs[0]
	var count int
	if err := s.read.QueryRow(`SELECT count(*) FROM sessions WHERE org_id = ?`, o.ID).Scan(&count); err != nil {
		b.Fatal(err)
	}
	b.Logf("organisation %s has %d sessions", o.ID, count)

	r := rand.New(rand.NewPCG(9, 9))
	user := func() string { return o.Users[r.IntN(len(o.Users))].ID }
	month := func() (time.Time, time.Time) {
		from := cfg.End.Add(-time.Duration(r.Int64N(int64(cfg.Span - 30*24*time.Hour))))
		return from.Add(-30 * 24 * time.Hour), from
	}
	shapes := []struct {
		name string
		q    func() storage.SessionQuery
	}{
		{"org+month+start", func() storage.SessionQuery {
			from, to := month()
			return storage.SessionQuery{OrgID: o.ID, From: from, To: to, Sort: storage.SortStart, Desc: true}
		}},
		{"org+start", func() storage.SessionQuery {
			return storage.SessionQuery{OrgID: o.ID, Sort: storage.SortStart, Desc: true}
		}},
		{"org+label", func() storage.SessionQuery {
			return storage.SessionQuery{OrgID: o.ID, LabelIDs: []string{o.Labels[r.IntN(len(o.Labels))]}, Sort: storage.SortStart, Desc: true}
		}},
		{"org+site+status", func() storage.SessionQuery {
			st := storage.SessionEnded
			if r.IntN(4) == 0 {
				st = storage.SessionActive
			}
			return storage.SessionQuery{OrgID: o.ID, SiteIDs: []string{o.Sites[r.IntN(len(o.Sites))]}, Status: st, Sort: storage.SortStart, Desc: true}
		}},
		{"org+text", func() storage.SessionQuery {
			words := []string{"compressor", "leak", "flange", "calibrate", "novak", "bearing", "overheating", "kiln"}
			return storage.SessionQuery{OrgID: o.ID, Text: words[r.IntN(len(words))], Sort: storage.SortStart, Desc: true}
		}},
		{"org+rare-text", func() storage.SessionQuery {
			return storage.SessionQuery{OrgID: o.ID, Text: fmt.Sprintf("%c %d", 'a'+rune(r.IntN(8)), 100+r.IntN(900)), Sort: storage.SortStart, Desc: true}
		}},
		{"org+own", func() storage.SessionQuery {
			return storage.SessionQuery{OrgID: o.ID, OwnOnly: true, ViewerID: user(), Sort: storage.SortStart, Desc: true}
		}},
		{"org+participant+month", func() storage.SessionQuery {
			from, to := month()
			return storage.SessionQuery{OrgID: o.ID, ParticipantID: user(), From: from, To: to, Sort: storage.SortStart, Desc: true}
		}},
		{"org+sort-time-to-solve", func() storage.SessionQuery {
			return storage.SessionQuery{OrgID: o.ID, Sort: storage.SortTimeToSolve, Desc: r.IntN(2) == 0}
		}},
		{"org+sort-name", func() storage.SessionQuery {
			return storage.SessionQuery{OrgID: o.ID, Sort: storage.SortName, Desc: r.IntN(2) == 0}
		}},
		{"org+month+sort-duration", func() storage.SessionQuery {
			from, to := month()
			return storage.SessionQuery{OrgID: o.ID, From: from, To: to, Sort: storage.SortDuration, Desc: true}
		}},
		{"org+outcome+sort-end", func() storage.SessionQuery {
			return storage.SessionQuery{OrgID: o.ID, Outcome: storage.OutcomeFollowUp, Sort: storage.SortEnd, Desc: true}
		}},
		{"org+sort-duration", func() storage.SessionQuery {
			return storage.SessionQuery{OrgID: o.ID, Sort: storage.SortDuration, Desc: r.IntN(2) == 0}
		}},
		{"org+sort-other", func() storage.SessionQuery {
			sorts := []storage.SessionSort{storage.SortEnd, storage.SortSite, storage.SortOwner, storage.SortOutcome}
			return storage.SessionQuery{OrgID: o.ID, Sort: sorts[r.IntN(len(sorts))], Desc: r.IntN(2) == 0}
		}},
		{"org+own+text", func() storage.SessionQuery {
			return storage.SessionQuery{OrgID: o.ID, OwnOnly: true, ViewerID: user(), Text: "pump", Sort: storage.SortStart, Desc: true}
		}},
		{"org+label+site+month", func() storage.SessionQuery {
			from, to := month()
			return storage.SessionQuery{OrgID: o.ID, LabelIDs: []string{o.Labels[r.IntN(len(o.Labels))]},
				SiteIDs: []string{o.Sites[r.IntN(len(o.Sites))]}, From: from, To: to, Sort: storage.SortStart, Desc: true}
		}},
	}
	ctx := context.Background()
	only := os.Getenv("SITELINE_BENCH_SHAPES") // a comma-separated subset, when set
	for _, shape := range shapes {
		if only != "" && !slices.Contains(strings.Split(only, ","), shape.name) {
			continue
		}
		b.Run(shape.name, func(b *testing.B) {
			if os.Getenv("SITELINE_BENCH_PLANS") != "" {
				b.Logf("plan:\n%s", explain(b, s, shape.q()))
			}
			var took []time.Duration
			b.ResetTimer()
			for b.Loop() {
				q := shape.q()
				q.Limit = 50
				start := time.Now()
				page, err := s.SearchSessions(ctx, q)
				if err != nil {
					b.Fatal(err)
				}
				// Every other query reads its second page as well, timed
				// on its own: a keyset page costs the same wherever it is.
				if page.Next != "" && len(took)%2 == 1 {
					q.Cursor = page.Next
					start = time.Now()
					if _, err := s.SearchSessions(ctx, q); err != nil {
						b.Fatal(err)
					}
				}
				took = append(took, time.Since(start))
			}
			reportPercentiles(b, took)
		})
	}
}

// explain is the query plan of q, one line per step.
func explain(b *testing.B, s *Store, q storage.SessionQuery) string {
	p, err := planSearch(q)
	if err != nil {
		b.Fatal(err)
	}
	if p.match, p.matches, err = s.matchText(context.Background(), p.terms); err != nil {
		b.Fatal(err)
	}
	from, err := s.source(context.Background(), p)
	if err != nil {
		b.Fatal(err)
	}
	query, args := p.sql(from)
	rows, err := s.read.Query(`EXPLAIN QUERY PLAN `+query, args...)
	if err != nil {
		b.Fatal(err)
	}
	defer rows.Close()
	var out strings.Builder
	for rows.Next() {
		var id, parent, notused int
		var detail string
		if err := rows.Scan(&id, &parent, &notused, &detail); err != nil {
			b.Fatal(err)
		}
		fmt.Fprintf(&out, "  %s\n", detail)
	}
	return out.String()
}

// reportPercentiles reports the median and the 95th percentile of took, in
// milliseconds, in place of the mean time per operation.
func reportPercentiles(b *testing.B, took []time.Duration) {
	slices.Sort(took)
	ms := func(p float64) float64 {
		return float64(took[min(len(took)-1, int(p*float64(len(took))))]) / float64(time.Millisecond)
	}
	b.ReportMetric(ms(0.50), "p50-ms")
	b.ReportMetric(ms(0.95), "p95-ms")
	b.ReportMetric(0, "ns/op")
}
