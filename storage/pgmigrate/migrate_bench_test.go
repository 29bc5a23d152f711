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
// copy-rows/s over the copy alone.
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
	var rows int64
	var copyTook float64
	for range b.N {
		b.StopTimer()
		dsn := pgtest.DB(b)
		b.StartTimer()
		rep, err := Migrate(ctx, path, dsn, Options{Progress: os.Stderr})
		if err != nil {
			b.Fatal(err)
		}
		for _, t := range rep.Tables {
			rows += t.Copied
			copyTook += t.CopyTook.Seconds()
		}
	}
	b.ReportMetric(float64(rows)/b.Elapsed().Seconds(), "rows/s")
	b.ReportMetric(float64(rows)/copyTook, "copy-rows/s")
	b.ReportMetric(float64(rows)/float64(b.N), "rows")
}
