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

	shapes := historygen.SearchShapes(cfg, o, rand.New(rand.NewPCG(9, 9)))
	ctx := context.Background()
	only := os.Getenv("SITELINE_BENCH_SHAPES") // a comma-separated subset, when set
	for _, shape := range shapes {
		if only != "" && !slices.Contains(strings.Split(only, ","), shape.Name) {
			continue
		}
		b.Run(shape.Name, func(b *testing.B) {
			if os.Getenv("SITELINE_BENCH_PLANS") != "" {
				b.Logf("plan:\n%s", explain(b, s, shape.Query()))
			}
			var took []time.Duration
			b.ResetTimer()
			for b.Loop() {
				q := shape.Query()
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
