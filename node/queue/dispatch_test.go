package queue

import (
	"context"
	"testing"
	"time"

	"siteline/storage"
	"siteline/web"
)

// Thirty requests to three members who take every offer: each strategy
// spreads them ten each, in its own order.
func TestDispatchSpreadsThirtyRequests(t *testing.T) {
	for _, strategy := range []string{storage.StrategyRoundRobin, storage.StrategyLongestIdle} {
		t.Run(strategy, func(t *testing.T) {
			r := newRig(t, strategy)
			ctx := context.Background()
			taken := map[string]int{}
			var order []string
			for range 30 {
				id := r.request(t)
				r.clk.add(time.Second)
				r.svc.Step(ctx)
				m := r.offeredTo(id)
				if m == "" {
					t.Fatalf("%s was offered to nobody", id)
				}
				r.svc.Joined(ctx, id, m)
				taken[m]++
				order = append(order, m)
			}
			for _, m := range []string{"m1", "m2", "m3"} {
				if taken[m] != 10 {
					t.Errorf("%s took %d of 30 (want 10): %v", m, taken[m], taken)
				}
			}
			if taken["l1"] != 0 {
				t.Errorf("the lead, without xa_sup_auto-assign, was offered %d", taken["l1"])
			}
			if order[0] != "m1" || order[1] != "m2" || order[2] != "m3" || order[3] != "m1" {
				t.Errorf("order %v, want m1 m2 m3 m1 ...", order[:4])
			}
			if got := len(r.store.eventsOf(storage.EventAssigned)); got != 30 {
				t.Errorf("%d assigned session events, want 30", got)
			}
			if got := r.audit.count("queue.assign"); got != 30 {
				t.Errorf("%d queue.assign audit events, want 30", got)
			}
		})
	}
}

// A member whose page opens while a pass goes on is not offered whichever
// request the pass had reached: the next pass offers them the oldest.
func TestAMemberArrivingMidPassGetsTheOldestRequest(t *testing.T) {
	r := newRig(t, storage.StrategyRoundRobin)
	ctx := context.Background()
	for _, m := range []string{"m1", "m2", "m3"} {
		r.pres.set(m, false)
	}
	first := r.request(t)
	r.clk.add(time.Second)
	second := r.request(t)
	r.pres.asked = func(u string) {
		if u == "m1" { // m1's page opens just after the pass asked for them
			r.pres.set("m1", true)
		}
	}
	r.svc.Step(ctx)
	if a, b := r.offeredTo(first), r.offeredTo(second); a != "" || b != "" {
		t.Fatalf("the pass during which m1 arrived offered %q and %q, want nothing", a, b)
	}
	r.pres.asked = nil
	r.svc.Step(ctx)
	if got := r.offeredTo(first); got != "m1" {
		t.Fatalf("the oldest request went to %q, want m1", got)
	}
	if got := r.offeredTo(second); got != "" {
		t.Fatalf("the newer request went to %q, want nobody (m1 holds the oldest)", got)
	}
}

// Longest idle offers the member whose last turn is the oldest first.
func TestLongestIdlePrefersTheOldestTurn(t *testing.T) {
	r := newRig(t, storage.StrategyLongestIdle)
	base := r.clk.now()
	r.store.rots["t1"] = storage.QueueRotation{TeamID: "t1", Last: "m2", LastTurns: map[string]time.Time{
		"m1": base.Add(-time.Minute), "m2": base.Add(-time.Hour), "m3": base.Add(-2 * time.Minute)}}
	id := r.request(t)
	r.svc.Step(context.Background())
	if got := r.offeredTo(id); got != "m2" {
		t.Fatalf("offered to %s, want m2 (idle for an hour)", got)
	}
}

// A decline and a timeout move the offer to the next member, with a
// skip event, an audit event and the ring stopped on the member's pages.
func TestDeclineAndTimeoutSkip(t *testing.T) {
	r := newRig(t, storage.StrategyRoundRobin)
	ctx := context.Background()
	id := r.request(t)
	r.svc.Step(ctx)
	if got := r.offeredTo(id); got != "m1" {
		t.Fatalf("first offer to %s, want m1", got)
	}
	if len(r.pages.offers("m1")) != 1 {
		t.Fatalf("m1's pages got offers %v", r.pages.offers("m1"))
	}
	handled, err := r.svc.Decline(ctx, web.Actor{UserID: "m1", OrgID: "o1"}, id)
	if err != nil || !handled {
		t.Fatalf("decline: handled %v, %v", handled, err)
	}
	r.svc.Step(ctx)
	if got := r.offeredTo(id); got != "m2" {
		t.Fatalf("after m1 declined, offered to %s, want m2", got)
	}
	r.clk.add(19 * time.Second)
	r.svc.Step(ctx)
	if got := r.offeredTo(id); got != "m2" {
		t.Fatalf("before the timeout the offer moved to %s", got)
	}
	r.clk.add(2 * time.Second)
	r.svc.Step(ctx)
	if got := r.offeredTo(id); got != "m3" {
		t.Fatalf("after m2's timeout, offered to %s, want m3", got)
	}
	skips := r.store.eventsOf(storage.EventOfferSkipped)
	if len(skips) != 2 || r.audit.count("queue.skip") != 2 || r.audit.count("queue.offer") != 3 {
		t.Fatalf("%d skip events, %d skip audits, %d offer audits", len(skips), r.audit.count("queue.skip"), r.audit.count("queue.offer"))
	}
	stopped := 0
	for _, e := range r.pages.events["m2"] {
		if e.Type == web.EventRingStopped && e.CallID == id && e.Reason == web.RingNoAnswer {
			stopped++
		}
	}
	if stopped != 1 {
		t.Fatalf("m2's pages got %d ring_stopped no_answer events", stopped)
	}
	// Everyone skipped it: it stays queued, offered to nobody, joinable.
	r.clk.add(21 * time.Second)
	r.svc.Step(ctx)
	q, err := r.svc.TeamQueue(ctx, "o1", "t1")
	if err != nil || len(q) != 1 || q[0].Entry.OfferedTo != "" {
		t.Fatalf("queue after every member skipped: %+v, %v", q, err)
	}
	r.svc.Joined(ctx, id, "l1")
	if q, _ := r.svc.TeamQueue(ctx, "o1", "t1"); len(q) != 0 {
		t.Fatalf("the lead joined; the queue still holds %+v", q)
	}
}

// A member who switched auto-assign off, or is not available, is never
// offered a request; switching it back on makes them eligible again.
func TestAutoAssignOffNeverOffered(t *testing.T) {
	r := newRig(t, storage.StrategyRoundRobin)
	ctx := context.Background()
	var changes []Change
	r.svc.Observe(func(c Change) { changes = append(changes, c) })
	if _, err := r.svc.SetAutoAssign(ctx, web.Actor{UserID: "m2", OrgID: "o1"}, "", false); err != nil {
		t.Fatal(err)
	}
	r.pres.off["m3"] = true
	for range 6 {
		id := r.request(t)
		r.svc.Step(ctx)
		if got := r.offeredTo(id); got != "m1" {
			t.Fatalf("offered to %s, want m1 (m2 auto-assign off, m3 away)", got)
		}
		r.svc.Joined(ctx, id, "m1")
	}
	if n := len(r.pages.offers("m2")) + len(r.pages.offers("m3")); n != 0 {
		t.Fatalf("m2 and m3 got %d offers", n)
	}
	if off, _ := r.svc.AutoAssignOff(ctx, "o1", "m2"); !off {
		t.Fatal("AutoAssignOff(m2) is false after switching it off")
	}
	if len(changes) == 0 || changes[0].UserID != "m2" || !changes[0].AutoAssignOff {
		t.Fatalf("observer got %+v, want m2's switch first", changes)
	}
	if r.audit.count("queue.auto_assign.off") != 1 {
		t.Fatal("the switch was not audited")
	}
	// The lead switches m2 back on.
	if _, err := r.svc.SetAutoAssign(ctx, web.Actor{UserID: "l1", OrgID: "o1"}, "m2", true); err != nil {
		t.Fatal(err)
	}
	id := r.request(t)
	r.svc.Step(ctx)
	if got := r.offeredTo(id); got != "m2" {
		t.Fatalf("offered to %s, want m2 (after m1 in the rotation)", got)
	}
}

// A call that ends leaves its queue and the offer stops ringing.
func TestEndedCallLeavesQueue(t *testing.T) {
	r := newRig(t, storage.StrategyRoundRobin)
	ctx := context.Background()
	id := r.request(t)
	r.svc.Step(ctx)
	r.store.mu.Lock()
	s := r.store.sessions[id]
	s.Status = storage.SessionEnded
	r.store.sessions[id] = s
	r.store.mu.Unlock()
	r.svc.Ended(ctx, id)
	if q, _ := r.svc.TeamQueue(ctx, "o1", "t1"); len(q) != 0 {
		t.Fatalf("queue holds %+v after the call ended", q)
	}
	last := r.pages.events["m1"][len(r.pages.events["m1"])-1]
	if last.Type != web.EventRingStopped || last.Reason != web.RingEnded {
		t.Fatalf("m1's last event %+v, want ring_stopped ended", last)
	}
}

// With every queue empty the dispatcher reads the queues only when woken;
// a request queued wakes it, and while it waits the dispatcher looks
// again every Rescan.
func TestDispatcherSleepsWhileTheQueuesAreEmpty(t *testing.T) {
	r := newRig(t, storage.StrategyRoundRobin)
	r.svc.cfg.Rescan = time.Millisecond
	reads := func() int {
		r.store.mu.Lock()
		defer r.store.mu.Unlock()
		return r.store.reads
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { r.svc.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	waitFor(t, "the first pass", func() bool { return reads() == 1 })

	// Absence cannot be waited for: fifty rescan periods pass.
	time.Sleep(50 * r.svc.cfg.Rescan)
	if n := reads(); n != 1 {
		t.Fatalf("the queues were read %d times with nothing queued and nothing woken, want once", n)
	}

	id := r.request(t)
	waitFor(t, "the request offered", func() bool { return r.offeredTo(id) == "m1" })
	before := reads()
	waitFor(t, "rescans while the request waits", func() bool { return reads() >= before+3 })
}

// waitFor polls cond until it holds, for at most ten seconds.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}
