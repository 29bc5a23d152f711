package node

import (
	"context"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
)

// BenchmarkHistoryBacklogDrain measures how a plant's history backlog
// reaches headquarters after an outage: calls are recorded at the plant
// while its leaf link is cut (each call is seven outbox records: created,
// two joins, a chat, a leave, the end, an audit event), then the link is
// healed and the clock runs until headquarters has applied the plant's
// last record. SITELINE_BENCH_CALLS sets the calls per outage (default
// 200).
func BenchmarkHistoryBacklogDrain(b *testing.B) {
	calls := 200
	if v, err := strconv.Atoi(os.Getenv("SITELINE_BENCH_CALLS")); err == nil && v > 0 {
		calls = v
	}
	l := newLink(b)
	hq, plant := historyFederation(b, nil, func(hq *testNode, c *Config) {
		c.NATS.LeafRemotes = []string{"tls://" + l.proxy(strings.TrimPrefix(hq.n.LeafURL(), "tls://"))}
	})
	ctx := context.Background()
	waitB := func(what string, within time.Duration, cond func() bool) {
		b.Helper()
		deadline := time.Now().Add(within)
		for !cond() {
			if time.Now().After(deadline) {
				b.Fatalf("%s: not within %s", what, within)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	applied := func() int64 {
		marks, err := hq.n.store.HistoryMarks(ctx)
		if err != nil {
			b.Fatal(err)
		}
		return marks[plant.n.nodeID]
	}
	// aggregate is how many messages HISTORY_ALL has taken in (it drops
	// what it applied).
	aggregate := func() uint64 {
		st, err := hq.n.bus.JetStream().Stream(ctx, historyAggregate)
		if err != nil {
			return 0
		}
		info, err := st.Info(ctx)
		if err != nil {
			return 0
		}
		return info.State.LastSeq
	}
	var records int64
	var linkUp, copied, drain time.Duration
	b.ResetTimer()
	for range b.N {
		b.StopTimer()
		l.setCut(true)
		waitB("link down", 20*time.Second, func() bool { return plant.n.bus.LeafLinks() == 0 && hq.n.bus.LeafLinks() == 0 })
		recordCalls(b, plant, calls)
		var last int64
		waitB("outbox published at the plant", time.Minute, func() bool {
			l, unpublished, _, err := plant.n.store.HistoryCounts(ctx, 0)
			last = l
			return err == nil && unpublished == 0
		})
		backlog := last - applied()
		copiedBefore := aggregate()
		b.StartTimer()

		start := time.Now()
		l.setCut(false)
		waitB("link up", time.Minute, func() bool { return plant.n.bus.LeafLinks() == 1 })
		up := time.Since(start)
		var copiedAt time.Duration
		waitB("backlog applied at headquarters", 5*time.Minute, func() bool {
			if copiedAt == 0 && aggregate() >= copiedBefore+uint64(backlog) {
				copiedAt = time.Since(start)
			}
			return applied() >= last
		})
		linkUp += up
		drain += time.Since(start)
		copied += copiedAt
		records += backlog
	}
	b.StopTimer()
	if ok, why := sameHistory(b, hq, plant); !ok {
		b.Fatalf("after draining: %s", why)
	}
	n := float64(b.N)
	b.ReportMetric(float64(records)/n, "records/outage")
	b.ReportMetric(linkUp.Seconds()/n, "s-to-link")
	b.ReportMetric(copied.Seconds()/n, "s-to-copy")
	b.ReportMetric(drain.Seconds()/n, "s-to-drain")
	b.ReportMetric(float64(records)/(drain-linkUp).Seconds(), "records/s-after-link")
	b.ReportMetric(float64(records)/drain.Seconds(), "records/s")
}
