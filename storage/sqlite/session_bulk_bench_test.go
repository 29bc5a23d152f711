package sqlite

import (
	"context"
	"testing"

	"siteline/storage/historygen"
)

// BenchmarkBulkLoad measures the generator's load into a fresh store:
//
//	go test ./storage/sqlite -run '^$' -bench BenchmarkBulkLoad -benchtime 20000x
//
// b.N is the number of sessions; sessions/s is the figure.
func BenchmarkBulkLoad(b *testing.B) {
	ctx := context.Background()
	s, err := Open(ctx, b.TempDir()+"/siteline.db", nil)
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	cfg := historygen.Defaults
	cfg.Sessions = b.N
	orgs, cmd := historygen.Orgs(cfg)
	if err := s.Apply(ctx, 1, cmd); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
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
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "sessions/s")
}
