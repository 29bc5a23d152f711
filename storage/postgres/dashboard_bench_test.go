package postgres

import (
	"context"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"testing"
	"time"

	"siteline/storage"
	"siteline/storage/dashboard"
	"siteline/storage/historygen"
)

// BenchmarkDashboard measures what GET /api/v1/dashboard does with the
// store, as storage/sqlite's BenchmarkDashboard does on SQLite: the
// rollups' sums (DashboardCounts), the report built from them and its
// JSON, for the same shapes over random ranges, on one organisation with
// 20 sites over two years (5,000 sessions by default: the history is
// written through the triggers, about 20 ms a session on the shared
// machine):
//
//	SITELINE_BENCH_SESSIONS=20000 go test ./storage/postgres -run '^$' -bench 'BenchmarkDashboard$' -benchtime 30x
//
// The history is written by loader (plain INSERTs, the rollups kept by
// their triggers) into a fresh database of the test cluster.
func BenchmarkDashboard(b *testing.B) {
	ctx := context.Background()
	cfg := historygen.Defaults
	cfg.Orgs, cfg.SitesPerOrg = 1, 20
	cfg.Sessions = 5000
	if n, err := strconv.Atoi(os.Getenv("SITELINE_BENCH_SESSIONS")); err == nil && n > 0 {
		cfg.Sessions = n
	}
	s, _ := openTestStore(b)
	orgs, _ := historygen.Orgs(cfg)
	start := time.Now()
	if _, err := historygen.Fill(ctx, teamLoader{loader{s}}, orgs, cfg); err != nil {
		b.Fatal(err)
	}
	var rows int64
	if err := s.pool.QueryRow(ctx, `SELECT count(*) FROM dashboard_counts`).Scan(&rows); err != nil {
		b.Fatal(err)
	}
	b.Logf("%d sessions written in %v, %d rollup rows", cfg.Sessions, time.Since(start).Round(time.Second), rows)
	if _, err := s.pool.Exec(ctx, `ANALYZE`); err != nil {
		b.Fatal(err)
	}
	o := orgs[0]
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
				counts, err := s.DashboardCounts(ctx, q)
				if err != nil {
					b.Fatal(err)
				}
				rep := dashboard.Build(dashboard.Input{Query: q, Counts: counts})
				if _, err := json.Marshal(rep); err != nil {
					b.Fatal(err)
				}
				took = append(took, time.Since(start))
			}
			slices.Sort(took)
			ms := func(p float64) float64 {
				return float64(took[min(len(took)-1, int(p*float64(len(took))))]) / float64(time.Millisecond)
			}
			b.ReportMetric(ms(0.50), "p50-ms")
			b.ReportMetric(ms(0.95), "p95-ms")
			b.ReportMetric(0, "ns/op")
		})
	}
}

// teamLoader gives generated sessions a team (two in three) and service
// requests an answered event, which historygen does not make, as
// storage/sqlite's dashboard tests do.
type teamLoader struct{ next historygen.Loader }

func (l teamLoader) LoadSessions(ctx context.Context, bundles []storage.SessionBundle) error {
	for i := range bundles {
		b := &bundles[i]
		h := fnv.New32a()
		h.Write([]byte(b.Session.ID))
		x := h.Sum32()
		if x%3 != 0 {
			b.Session.TeamID = fmt.Sprintf("%s-team-%d", b.Session.OrgID, x%4)
		}
		if b.Session.Kind == storage.SessionServiceRequest {
			b.Events = append(b.Events, storage.SessionEvent{ID: b.Session.ID + "-answered", SessionID: b.Session.ID,
				Seq: int64(len(b.Events) + 1), At: b.Session.StartedAt.Add(time.Duration(x%400) * time.Second),
				Kind: storage.EventAnswered, Payload: []byte(`{}`)})
		}
	}
	return l.next.LoadSessions(ctx, bundles)
}
