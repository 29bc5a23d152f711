package historybench

import (
	"context"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
	"time"

	"siteline/storage"
	"siteline/storage/historygen"
	"siteline/storage/postgres"
	"siteline/storage/sqlite"
)

// The stores come from the environment, as the 1,000,000-session figures
// are made (docs/benchmarks.md, "History on SQLite and PostgreSQL"):
//
//	SITELINE_BENCH_DB   the SQLite file `siteline dev seed-history` filled
//	SITELINE_BENCH_DSN  the PostgreSQL database `siteline storage migrate`
//	                    copied it into
//
// Without them the benchmarks do not run: they measure stores of a size no
// test makes.
func openStores(b *testing.B) (*sqlite.Store, *postgres.Store) {
	b.Helper()
	path, dsn := os.Getenv("SITELINE_BENCH_DB"), os.Getenv("SITELINE_BENCH_DSN")
	if path == "" || dsn == "" {
		b.Fatal("set SITELINE_BENCH_DB (a filled SQLite store) and SITELINE_BENCH_DSN (the same history on PostgreSQL)")
	}
	ctx := context.Background()
	lite, err := sqlite.Open(ctx, path, nil)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { lite.Close() })
	pg, err := postgres.Open(ctx, dsn, postgres.Options{Labels: lite, Users: lite})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { pg.Close() })
	return lite, pg
}

// searcher is what both stores answer.
type searcher interface {
	SearchSessions(ctx context.Context, q storage.SessionQuery) (storage.SessionPage, error)
}

// BenchmarkSearchBothStores runs each search shape of historygen on both
// stores, the same query on one then the other, alternating which goes
// first, and reports each store's median and 95th percentile of one page
// (50 rows; every other query times its second page). The two pages must
// hold the same sessions in the same order.
func BenchmarkSearchBothStores(b *testing.B) {
	lite, pg := openStores(b)
	cfg := historygen.Defaults
	orgs, _ := historygen.Orgs(cfg)
	shapes := historygen.SearchShapes(cfg, orgs[0], rand.New(rand.NewPCG(9, 9)))
	ctx := context.Background()
	stores := []struct {
		name string
		s    searcher
	}{{"sqlite", lite}, {"pg", pg}}
	for _, shape := range shapes {
		b.Run(shape.Name, func(b *testing.B) {
			took := make([][]time.Duration, len(stores))
			i := 0
			for b.Loop() {
				q := shape.Query()
				q.Limit = 50
				second := i%2 == 1
				var pages [2][]string
				for k := range stores {
					j := (k + i) % len(stores) // who goes first alternates
					d, ids := timePage(b, ctx, stores[j].s, q, second)
					took[j] = append(took[j], d)
					pages[j] = ids
				}
				if !slices.Equal(pages[0], pages[1]) {
					b.Errorf("%s: the stores' pages differ:\nsqlite %v\npg     %v", shape.Name, pages[0], pages[1])
				}
				i++
			}
			for j, st := range stores {
				p50, p95 := percentiles(took[j])
				b.ReportMetric(p50, st.name+"-p50-ms")
				b.ReportMetric(p95, st.name+"-p95-ms")
			}
			b.ReportMetric(0, "ns/op")
		})
	}
}

// timePage runs q on s and times its first page, or its second when
// second is set and there is one; it returns the ids of the page timed.
func timePage(b *testing.B, ctx context.Context, s searcher, q storage.SessionQuery, second bool) (time.Duration, []string) {
	start := time.Now()
	page, err := s.SearchSessions(ctx, q)
	if err != nil {
		b.Fatal(err)
	}
	if second && page.Next != "" {
		q.Cursor = page.Next
		start = time.Now()
		if page, err = s.SearchSessions(ctx, q); err != nil {
			b.Fatal(err)
		}
	}
	d := time.Since(start)
	ids := make([]string, len(page.Sessions))
	for i, ss := range page.Sessions {
		ids[i] = ss.ID
	}
	return d, ids
}

func percentiles(d []time.Duration) (p50, p95 float64) {
	slices.Sort(d)
	ms := func(p float64) float64 {
		return float64(d[min(len(d)-1, int(p*float64(len(d))))]) / float64(time.Millisecond)
	}
	return ms(0.50), ms(0.95)
}

// BenchmarkApplyBothStores applies a plant's history to both stores, each
// already holding the same history, in the hub's batches of 256 records,
// alternating the stores batch by batch, and reports records applied per
// second for each. The plant's history is SITELINE_BENCH_APPLY sessions
// (default 2,000) of a new seed each round, recorded through a plant's
// SQLite store as its calls record them (created, joins, chat, leaves,
// end, then the outcome, notes and labels), so the records are a plant's
// outbox; the stores keep them.
func BenchmarkApplyBothStores(b *testing.B) {
	lite, pg := openStores(b)
	n := 2000
	if v, err := strconv.Atoi(os.Getenv("SITELINE_BENCH_APPLY")); err == nil && v > 0 {
		n = v
	}
	ctx := context.Background()
	const batch = 256
	appliers := []storage.HistoryApplier{lite, pg}
	took := make([]time.Duration, len(appliers))
	records, round := 0, 0
	for b.Loop() {
		round++
		msgs := plantHistory(b, n, uint64(1000+round))
		records += len(msgs)
		for i := 0; i*batch < len(msgs); i++ {
			part := msgs[i*batch : min(len(msgs), (i+1)*batch)]
			for k := range appliers {
				j := (k + i) % len(appliers)
				start := time.Now()
				res, err := appliers[j].ApplyHistory(ctx, part)
				if err != nil {
					b.Fatal(err)
				}
				if len(res.Rejected) > 0 {
					b.Fatalf("store %d rejected %+v", j, res.Rejected[0])
				}
				took[j] += time.Since(start)
			}
		}
	}
	b.Logf("%d rounds of %d sessions, %d records", round, n, records)
	b.ReportMetric(float64(records)/took[0].Seconds(), "sqlite-records/s")
	b.ReportMetric(float64(records)/took[1].Seconds(), "pg-records/s")
	b.ReportMetric(0, "ns/op")
}

// plantHistory records n sessions generated from seed at a plant's
// SQLite store, as
// its calls would, and returns its outbox as the messages a hub
// applies.
func plantHistory(b *testing.B, n int, seed uint64) []storage.HistoryMessage {
	b.Helper()
	ctx := context.Background()
	plant, err := sqlite.Open(ctx, filepath.Join(b.TempDir(), "plant.db"), nil)
	if err != nil {
		b.Fatal(err)
	}
	defer plant.Close()
	cfg := historygen.Defaults
	cfg.Seed, cfg.Sessions = seed, n
	orgs, cmd := historygen.Orgs(cfg)
	if err := plant.Apply(ctx, 1, cmd); err != nil {
		b.Fatal(err)
	}
	if _, err := historygen.Fill(ctx, recorder{plant}, orgs, cfg); err != nil {
		b.Fatal(err)
	}
	var msgs []storage.HistoryMessage
	for after := int64(0); ; {
		rows, err := plant.HistorySince(ctx, after, 10000)
		if err != nil {
			b.Fatal(err)
		}
		if len(rows) == 0 {
			return msgs
		}
		for _, r := range rows {
			msgs = append(msgs, storage.HistoryMessage{Origin: "bench-plant", Seq: r.Seq, Record: r.Record})
		}
		after = rows[len(rows)-1].Seq
	}
}

// recorder loads generated sessions by recording them as calls do.
type recorder struct{ s *sqlite.Store }

func (r recorder) LoadSessions(ctx context.Context, bundles []storage.SessionBundle) error {
	for _, bd := range bundles {
		if err := r.record(ctx, bd); err != nil {
			return err
		}
	}
	return nil
}

func (r recorder) record(ctx context.Context, bd storage.SessionBundle) error {
	ss := bd.Session
	live := ss.Session
	live.Status, live.EndedAt = storage.SessionActive, nil
	if err := r.s.CreateSession(ctx, live); err != nil {
		return err
	}
	for _, p := range bd.Participants {
		p.LeftAt = nil
		if err := r.s.RecordJoin(ctx, p, storage.SessionEvent{ID: p.ID + "-joined", SessionID: ss.ID, At: p.JoinedAt,
			Kind: storage.EventJoined, ActorID: p.UserID}); err != nil {
			return err
		}
	}
	var end *storage.SessionEvent
	for _, ev := range bd.Events {
		if ev.Kind == storage.EventEnded {
			end = &ev
			continue
		}
		if err := r.s.AppendSessionEvent(ctx, ev); err != nil {
			return err
		}
	}
	if end == nil || ss.EndedAt == nil {
		return nil
	}
	for _, p := range bd.Participants {
		if err := r.s.RecordLeave(ctx, p.ID, *ss.EndedAt, storage.SessionEvent{ID: p.ID + "-left", SessionID: ss.ID,
			At: *ss.EndedAt, Kind: storage.EventLeft, ActorID: p.UserID}); err != nil {
			return err
		}
	}
	if err := r.s.EndSession(ctx, ss.ID, *ss.EndedAt, *end); err != nil {
		return err
	}
	v := storage.Version{At: ss.EndedAt.Add(time.Minute), Origin: "bench-plant"}
	if ss.Outcome != "" {
		if _, err := r.s.SetSessionOutcome(ctx, ss.ID, ss.Outcome, ss.SolvedAt, v); err != nil {
			return err
		}
	}
	if ss.Notes != "" {
		if _, err := r.s.SetSessionNotes(ctx, ss.ID, ss.Notes, v); err != nil {
			return err
		}
	}
	if len(ss.Labels) > 0 {
		if _, err := r.s.SetSessionLabels(ctx, ss.ID, ss.Labels, v); err != nil {
			return err
		}
	}
	return nil
}
