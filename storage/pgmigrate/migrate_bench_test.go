package pgmigrate

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"siteline/internal/pgtest"
	"siteline/storage/historygen"
	"siteline/storage/sqlite"
)

// BenchmarkMigrate measures the copy and comparison of generated history
// (historygen's defaults, SITELINE_BENCH_SESSIONS sessions, 20,000 unless
// set) into a fresh PostgreSQL database per iteration:
//
//	go test ./storage/pgmigrate -run '^$' -bench BenchmarkMigrate -benchtime 1x
//
// rows/s is over every row of every table, copy and comparison together;
// COPY-copy-rows/s over the copy alone. SITELINE_BENCH_INSERT=unnest
// writes the batches as INSERTs of arrays instead of COPY into a staging
// table (unnest-copy-rows/s), =alternate switches at each iteration.
// SITELINE_BENCH_DASHBOARD=each computes the dashboards' rows one session
// at a time rather than a batch at a time, =alternate switches at each
// iteration; dashboard-sessions/s is the rate of each way
// (set-dashboard-sessions/s, each-dashboard-sessions/s).
func BenchmarkMigrate(b *testing.B) {
	ctx := context.Background()
	sessions := 20000
	if v := os.Getenv("SITELINE_BENCH_SESSIONS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			b.Fatalf("SITELINE_BENCH_SESSIONS=%q: %v", v, err)
		}
		sessions = n
	}
	path := filepath.Join(b.TempDir(), "siteline.db")
	s, err := sqlite.Open(ctx, path, nil)
	if err != nil {
		b.Fatal(err)
	}
	cfg := historygen.Defaults
	cfg.Sessions = sessions
	orgs, cmd := historygen.Orgs(cfg)
	if err := s.Apply(ctx, 1, cmd); err != nil {
		b.Fatal(err)
	}
	load, err := s.BulkLoad(ctx)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := historygen.Fill(ctx, load, orgs, cfg); err != nil {
		b.Fatal(err)
	}
	if err := load.Finish(ctx); err != nil {
		b.Fatal(err)
	}
	s.Close()
	b.ResetTimer()
	// Per way of writing a batch: rows copied and the copy's seconds.
	var rows, copyRows [2]int64
	var copyTook [2]float64
	mode := os.Getenv("SITELINE_BENCH_INSERT")
	dashMode := os.Getenv("SITELINE_BENCH_DASHBOARD")
	// Per way of computing the dashboards' rows: sessions and seconds.
	var dashSessions [2]int64
	var dashTook [2]float64
	for i := range b.N {
		each := dashMode == "each" || dashMode == "alternate" && i%2 == 1
		d := 0
		if each {
			d = 1
		}
		unnest := mode == "unnest" || mode == "alternate" && i%2 == 1
		w := 0
		if unnest {
			w = 1
		}
		b.StopTimer()
		dsn := pgtest.DB(b)
		b.StartTimer()
		rep, err := Migrate(ctx, path, dsn, Options{Progress: os.Stderr, unnest: unnest, refreshEach: each})
		if err != nil {
			b.Fatal(err)
		}
		dashSessions[d] += rep.DashboardSessions
		dashTook[d] += rep.DashboardTook.Seconds()
		for _, t := range rep.Tables {
			rows[w] += t.Copied
			copyRows[w] += t.Copied
			copyTook[w] += t.CopyTook.Seconds()
		}
	}
	total := rows[0] + rows[1]
	b.ReportMetric(float64(total)/b.Elapsed().Seconds(), "rows/s")
	b.ReportMetric(float64(total)/float64(b.N), "rows")
	for w, name := range []string{"COPY", "unnest"} {
		if copyTook[w] > 0 {
			b.ReportMetric(float64(copyRows[w])/copyTook[w], name+"-copy-rows/s")
		}
	}
	for d, name := range []string{"set", "each"} {
		if dashTook[d] > 0 {
			b.ReportMetric(float64(dashSessions[d])/dashTook[d], name+"-dashboard-sessions/s")
		}
	}
}
