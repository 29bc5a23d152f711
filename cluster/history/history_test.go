package history

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"siteline/cluster/bus"
	"siteline/storage"
)

// startForwarder starts a Forwarder for node id over b and stops it at the
// end of the test.
func startForwarder(t *testing.T, b *bus.Bus, store Store, id string, hub bool, members ...Member) *Forwarder {
	t.Helper()
	f, err := Start(testContext(t), Config{
		NodeID: id, SiteID: "site-" + id, Hub: hub, Bus: b, Store: store,
		Members: func(context.Context) ([]Member, error) { return members, nil },
		Logger:  testLogger(t),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(f.Stop)
	return f
}

// TestForwarderPublishesTheOutboxInOrder: a plant's outbox goes into its
// HISTORY stream in sequence order, one message per record with the
// record's id as its message id, each row stamped published; the
// acknowledgements headquarters sends lower the backlog its status shows
// (a malformed or older one changes nothing), and the mark is saved at
// stop.
func TestForwarderPublishesTheOutboxInOrder(t *testing.T) {
	ctx := testContext(t)
	b := startBus(t, bus.Config{ServerName: "p1"})
	store := newFakeStore()
	store.add(3)
	f := startForwarder(t, b, store, "p1", false)
	store.add(2)

	eventually(t, 10*time.Second, "records published", func() bool {
		_, unpublished, _, _ := store.HistoryCounts(ctx, 0)
		return unpublished == 0
	})
	st, err := b.JetStream().Stream(ctx, Stream)
	if err != nil {
		t.Fatal(err)
	}
	for seq := uint64(1); seq <= 5; seq++ {
		msg, err := st.GetMsg(ctx, seq)
		if err != nil {
			t.Fatalf("message %d: %v", seq, err)
		}
		var m storage.HistoryMessage
		if err := json.Unmarshal(msg.Data, &m); err != nil {
			t.Fatal(err)
		}
		id := fmt.Sprintf("rec-%d", seq)
		if m.Origin != "p1" || m.Seq != int64(seq) || msg.Header.Get(jetstream.MsgIDHeader) != id || msg.Subject != "siteline.history.site-p1.p1" {
			t.Errorf("message %d = %s %+v (id %q), want record %s from p1", seq, msg.Subject, m, msg.Header.Get(jetstream.MsgIDHeader), id)
		}
	}

	status := func() Status {
		t.Helper()
		s, err := AskStatus(ctx, b, "p1")
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	if s := status(); s != (Status{Role: "plant", Backlog: 5}) {
		t.Errorf("status before any acknowledgement = %+v", s)
	}
	nc := b.Conn()
	for _, ack := range []string{"3", "nonsense", "-1", "2"} {
		if err := nc.Publish(ackPrefix+"p1", []byte(ack)); err != nil {
			t.Fatal(err)
		}
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	eventually(t, 5*time.Second, "acknowledgement counted", func() bool { return status().Backlog == 2 })
	if s := status(); s != (Status{Role: "plant", Backlog: 2}) {
		t.Errorf("status after acknowledging 3 = %+v", s)
	}

	f.Stop()
	if v, _ := store.Meta(ctx, MetaAcked); v != "3" {
		t.Errorf("saved mark = %q, want 3", v)
	}
	if _, err := AskStatus(ctx, b, "p1"); err == nil {
		t.Error("a stopped forwarder still answers its status")
	}
}

// TestForwarderStartsFromTheSavedMark: the acknowledged mark survives a
// restart; one that is not a number stops the start, naming it.
func TestForwarderStartsFromTheSavedMark(t *testing.T) {
	ctx := testContext(t)
	b := startBus(t, bus.Config{ServerName: "p1"})
	store := newFakeStore()
	store.add(4)
	store.meta[MetaAcked] = "3"
	startForwarder(t, b, store, "p1", false)
	s, err := AskStatus(ctx, b, "p1")
	if err != nil || s.Backlog != 1 {
		t.Errorf("status with 3 of 4 acknowledged = %+v, %v; want a backlog of 1", s, err)
	}

	bad := newFakeStore()
	bad.meta[MetaAcked] = "three"
	_, err = Start(ctx, Config{NodeID: "p2", SiteID: "s", Bus: b, Store: bad, Logger: testLogger(t)})
	if err == nil || !strings.Contains(err.Error(), MetaAcked) {
		t.Errorf("start with a malformed mark = %v, want an error naming %s", err, MetaAcked)
	}
}

// TestForwarderAppliesItsOwnRecords: with ApplyOwn, the node's own
// records reach its Applier in outbox order from the Applier's mark for
// the node (those below it are not applied again), published or not, and
// the ones written while it runs follow.
func TestForwarderAppliesItsOwnRecords(t *testing.T) {
	ctx := testContext(t)
	b := startBus(t, bus.Config{ServerName: "hq1"})
	store := newFakeStore()
	store.add(4)
	store.marks["hq1"] = 2 // applied before a restart
	f, err := Start(ctx, Config{NodeID: "hq1", SiteID: "hq", Bus: b, Store: store, ApplyOwn: true, Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(f.Stop)
	store.add(3)
	wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := f.WaitOwnApplied(wctx, 7); err != nil {
		t.Fatal(err)
	}
	short, cancelShort := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancelShort()
	if err := f.WaitOwnApplied(short, 8); err == nil {
		t.Error("WaitOwnApplied(8) returned with 7 records written")
	}
	store.mu.Lock()
	defer store.mu.Unlock()
	var seqs []int64
	for _, m := range store.applied {
		if m.Origin != "hq1" {
			t.Errorf("applied %+v, want origin hq1", m)
		}
		seqs = append(seqs, m.Seq)
	}
	if fmt.Sprint(seqs) != "[3 4 5 6 7]" {
		t.Errorf("applied sequences %v, want [3 4 5 6 7]", seqs)
	}
}

// TestHubAppliesAndAcknowledges: a hub sources a plant's stream over the
// leaf link, applies its records in order and acknowledges them, so the
// plant's backlog, asked over the link, drains to zero; the hub's own
// status counts its link.
func TestHubAppliesAndAcknowledges(t *testing.T) {
	ctx := testContext(t)
	hqBus, plantBus := linkedBuses(t)
	plantStore, hqStore := newFakeStore(), newFakeStore()
	plantStore.add(7)
	startForwarder(t, plantBus, plantStore, "p1", false)
	hub := startForwarder(t, hqBus, hqStore, "hq", true, Member{ID: "hq", Voter: true}, Member{ID: "p1"})

	eventually(t, 30*time.Second, "the plant's records applied at headquarters", func() bool {
		marks, _ := hqStore.HistoryMarks(ctx)
		return marks["p1"] == 7
	})
	hqStore.mu.Lock()
	for i, m := range hqStore.applied {
		if m.Origin != "p1" || m.Seq != int64(i+1) {
			t.Errorf("applied #%d = %s/%d, want p1/%d", i, m.Origin, m.Seq, i+1)
		}
	}
	hqStore.mu.Unlock()
	eventually(t, 10*time.Second, "the plant's backlog drained", func() bool {
		s, err := AskStatus(ctx, hqBus, "p1")
		return err == nil && s == Status{Role: "plant", Links: 1}
	})
	eventually(t, 10*time.Second, "nothing left to apply", func() bool {
		n, err := hub.Unapplied(ctx)
		return err == nil && n == 0
	})
	eventually(t, 10*time.Second, "headquarters' status, asked from the plant, a hub with one link", func() bool {
		s, err := AskStatus(ctx, plantBus, "hq")
		return err == nil && s == Status{Role: "hub", Links: 1}
	})
	if _, err := AskStatus(ctx, hqBus, "p9"); err == nil {
		t.Error("a node that does not exist answered its status")
	}
}

// TestChoresPruneTheOutboxOncePerInterval: chores run every 2 s, the
// outbox delete (which walks the rows kept for a day) once a minute, the
// first time at once; each prunes what is Keep old.
func TestChoresPruneTheOutboxOncePerInterval(t *testing.T) {
	store := newFakeStore()
	t0 := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	now := t0
	h := &Forwarder{cfg: Config{Store: store, Now: func() time.Time { return now }}, log: slog.New(slog.DiscardHandler), ctx: context.Background()}
	for now.Before(t0.Add(3 * time.Minute)) {
		h.chores()
		now = now.Add(2 * time.Second)
	}
	want := []time.Time{t0.Add(-Keep), t0.Add(time.Minute - Keep), t0.Add(2*time.Minute - Keep)}
	if fmt.Sprint(store.prunes) != fmt.Sprint(want) {
		t.Fatalf("pruned with before %v, want %v", store.prunes, want)
	}
}
