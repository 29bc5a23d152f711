package sqlite

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"testing"
	"time"

	"siteline/storage"
	"siteline/storage/dashboard"
	"siteline/storage/historygen"
)

// dashCfgBench is one organisation with 20 sites over two years, teams and
// answered service requests added (teamLoader).
func dashCfgBench() historygen.Config {
	cfg := historygen.Defaults
	cfg.Orgs, cfg.SitesPerOrg = 1, 20
	cfg.Sessions = 20000
	if n, err := strconv.Atoi(os.Getenv("SITELINE_BENCH_SESSIONS")); err == nil && n > 0 {
		cfg.Sessions = n
	}
	return cfg
}

// dashBenchStore fills a store with cfg's history. SITELINE_BENCH_DB
// names a file to keep it in: filled when it does not exist yet, reused
// as it is when it does.
func dashBenchStore(b *testing.B, cfg historygen.Config) (*Store, []historygen.Org) {
	ctx := context.Background()
	orgs, cmd := historygen.Orgs(cfg)
	path := os.Getenv("SITELINE_BENCH_DB")
	fresh := true
	if path == "" {
		path = b.TempDir() + "/siteline.db"
	} else if _, err := os.Stat(path); err == nil {
		fresh = false
	}
	s, err := Open(ctx, path, nil)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	if !fresh {
		return s, orgs
	}
	start := time.Now()
	if err := s.Apply(ctx, 1, cmd); err != nil {
		b.Fatal(err)
	}
	load, err := s.BulkLoad(ctx)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := historygen.Fill(ctx, bulkTeamLoader{load}, orgs, cfg); err != nil {
		b.Fatal(err)
	}
	if err := load.Finish(ctx); err != nil {
		b.Fatal(err)
	}
	b.Logf("generated %d sessions in %v", cfg.Sessions, time.Since(start).Round(time.Second))
	return s, orgs
}

// BenchmarkDashboard measures what GET /api/v1/dashboard does with the
// store: the rollups' sums (DashboardCounts), the report built from them
// and its JSON:
//
//	SITELINE_BENCH_SESSIONS=1000000 SITELINE_BENCH_DB=/tmp/dash1m.db \
//	  go test ./storage/sqlite -run '^$' -bench BenchmarkDashboard$ -benchtime 100x -timeout 2h
//
// Each shape reports the median and 95th percentile over random ranges.
func BenchmarkDashboard(b *testing.B) {
	cfg := dashCfgBench()
	s, orgs := dashBenchStore(b, cfg)
	o := orgs[0]
	var rows int
	if err := s.read.QueryRow(`SELECT count(*) FROM dashboard_counts`).Scan(&rows); err != nil {
		b.Fatal(err)
	}
	b.Logf("%d sessions, %d rollup rows", cfg.Sessions, rows)
	r := rand.New(rand.NewPCG(19, 19))
	window := func(days int) (time.Time, time.Time) {
		span := int64(cfg.Span/(24*time.Hour)) - int64(days)
		to := cfg.End.Truncate(24*time.Hour).AddDate(0, 0, -int(r.Int64N(max(1, span))))
		return to.AddDate(0, 0, -days), to
	}
	shapes := []struct {
		name string
		q    func() storage.DashboardQuery
	}{
		{"12 weeks", func() storage.DashboardQuery {
			from, to := window(84)
			return storage.DashboardQuery{OrgID: o.ID, From: from, To: to}
		}},
		{"12 weeks by site", func() storage.DashboardQuery {
			from, to := window(84)
			return storage.DashboardQuery{OrgID: o.ID, From: from, To: to, By: storage.DimSite}
		}},
		{"12 weeks one site solved", func() storage.DashboardQuery {
			from, to := window(84)
			return storage.DashboardQuery{OrgID: o.ID, From: from, To: to, SiteIDs: []string{o.Sites[r.IntN(len(o.Sites))]}, Outcome: storage.OutcomeSolved}
		}},
		{"year by label", func() storage.DashboardQuery {
			from, to := window(365)
			return storage.DashboardQuery{OrgID: o.ID, From: from, To: to, By: storage.DimLabel}
		}},
		{"year by team", func() storage.DashboardQuery {
			from, to := window(365)
			return storage.DashboardQuery{OrgID: o.ID, From: from, To: to, By: storage.DimTeam}
		}},
		{"12 weeks one user", func() storage.DashboardQuery {
			from, to := window(84)
			return storage.DashboardQuery{OrgID: o.ID, From: from, To: to, UserID: o.Users[r.IntN(len(o.Users))].ID}
		}},
		{"12 weeks by user", func() storage.DashboardQuery {
			from, to := window(84)
			return storage.DashboardQuery{OrgID: o.ID, From: from, To: to, By: storage.DimUser}
		}},
		{"two years", func() storage.DashboardQuery {
			return storage.DashboardQuery{OrgID: o.ID}
		}},
	}
	for _, sh := range shapes {
		b.Run(sh.name, func(b *testing.B) {
			took := make([]time.Duration, 0, b.N)
			for range b.N {
				q := sh.q()
				start := time.Now()
				counts, err := s.DashboardCounts(context.Background(), q)
				if err != nil {
					b.Fatal(err)
				}
				rep := dashboard.Build(dashboard.Input{Query: q, Counts: counts})
				if _, err := json.Marshal(rep); err != nil {
					b.Fatal(err)
				}
				took = append(took, time.Since(start))
			}
			reportPercentiles(b, took)
		})
	}
}

// BenchmarkRollupPerEndedSession measures the writes of one service
// request from ringing to solved (created for a team, three users join,
// answered, two labels, ended, outcome set) on a store holding
// SITELINE_BENCH_SESSIONS sessions (20,000 by default), with the
// dashboards' rollups and with their triggers dropped: the difference is
// what the rollups cost per ended session.
//
//	go test ./storage/sqlite -run '^$' -bench BenchmarkRollupPerEndedSession -benchtime 2000x
func BenchmarkRollupPerEndedSession(b *testing.B) {
	for _, rollups := range []bool{true, false} {
		name := "with rollups"
		if !rollups {
			name = "without rollups"
		}
		b.Run(name, func(b *testing.B) {
			cfg := dashCfgBench()
			b.Setenv("SITELINE_BENCH_DB", "")
			s, orgs := dashBenchStore(b, cfg)
			if !rollups {
				dropDashboardTriggers(b, s)
			}
			o := orgs[0]
			ctx := context.Background()
			start := cfg.End.Add(time.Hour)
			// Rows written per ended session, by the statements and their
			// triggers (the writer is one connection).
			changes := func() int64 {
				var n int64
				if err := s.write.QueryRow(`SELECT total_changes()`).Scan(&n); err != nil {
					b.Fatal(err)
				}
				return n
			}
			before := changes()
			b.ResetTimer()
			for i := range b.N {
				at := start.Add(time.Duration(i) * time.Minute)
				id := fmt.Sprintf("bench-%d", i)
				ev := func(kind string, at time.Time) storage.SessionEvent {
					return storage.SessionEvent{ID: id + "-" + kind + at.Format("150405.000"), SessionID: id, At: at, Kind: kind, Payload: []byte(`{}`)}
				}
				must := func(err error) {
					if err != nil {
						b.Fatal(err)
					}
				}
				must(s.CreateSession(ctx, storage.Session{ID: id, OrgID: o.ID, SiteID: o.Sites[i%len(o.Sites)], Kind: storage.SessionServiceRequest,
					Status: storage.SessionRinging, Goal: "Restart the press", CreatedBy: o.Users[0].ID, TeamID: o.ID + "-team-1", StartedAt: at}))
				must(s.AnswerSession(ctx, ev(storage.EventAnswered, at.Add(20*time.Second))))
				for k := range 3 {
					u := o.Users[(i+k)%len(o.Users)].ID
					joined := at.Add(time.Duration(k+1) * 20 * time.Second)
					must(s.RecordJoin(ctx, storage.SessionParticipant{ID: fmt.Sprintf("%s-p%d", id, k), SessionID: id, UserID: u,
						UserKind: storage.UserRegular, JoinedAt: joined}, ev(storage.EventJoined, joined)))
				}
				v := storage.Version{At: at.Add(10 * time.Minute), Origin: "bench"}
				_, err := s.SetSessionLabels(ctx, id, o.Labels[:2], v)
				must(err)
				end := at.Add(12 * time.Minute)
				must(s.EndSession(ctx, id, end, ev(storage.EventEnded, end)))
				_, err = s.SetSessionOutcome(ctx, id, storage.OutcomeSolved, nil, storage.Version{At: end.Add(time.Minute), Origin: "bench"})
				must(err)
			}
			b.StopTimer()
			b.ReportMetric(float64(changes()-before)/float64(b.N), "rows/op")
		})
	}
}

func dropDashboardTriggers(b *testing.B, s *Store) {
	rows, err := s.write.Query(`SELECT name FROM sqlite_schema WHERE type = 'trigger' AND name LIKE 'dashboard_%'`)
	if err != nil {
		b.Fatal(err)
	}
	var names []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			b.Fatal(err)
		}
		names = append(names, n)
	}
	rows.Close()
	for _, n := range names {
		if _, err := s.write.Exec(`DROP TRIGGER ` + n); err != nil {
			b.Fatal(err)
		}
	}
	if len(names) == 0 {
		b.Fatal("no dashboard trigger to drop")
	}
}
