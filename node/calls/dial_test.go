package calls

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"siteline/storage"
	"siteline/web"
)

// fakeBus is the federation's bus in memory: every node hears what is
// sent on the subjects it serves, at once; a node cut off hears nothing
// and is heard by no one, and a request to it gets no reply.
type fakeBus struct {
	mu   sync.Mutex
	subs map[string][]busSub
	cut  map[string]bool // node ids
}

type busSub struct {
	node, subject string
	handle        func(string, []byte) []byte
}

func newFakeBus() *fakeBus { return &fakeBus{subs: map[string][]busSub{}, cut: map[string]bool{}} }

func (b *fakeBus) setCut(node string, cut bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.cut[node] = cut
}

// on is node's end of the bus.
func (b *fakeBus) on(node string) *busEnd { return &busEnd{bus: b, node: node} }

type busEnd struct {
	bus  *fakeBus
	node string
}

func matches(pattern, subject string) bool {
	if p, ok := strings.CutSuffix(pattern, "*"); ok {
		return strings.HasPrefix(subject, p) && !strings.Contains(subject[len(p):], ".")
	}
	return pattern == subject
}

// handlers returns who hears subject from e.
func (e *busEnd) handlers(subject string) []busSub {
	b := e.bus
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []busSub
	for _, list := range b.subs {
		for _, s := range list {
			if matches(s.subject, subject) && (s.node == e.node || (!b.cut[s.node] && !b.cut[e.node])) {
				out = append(out, s)
			}
		}
	}
	return out
}

func (e *busEnd) Notify(subject string, data []byte) error {
	for _, s := range e.handlers(subject) {
		s.handle(subject, data)
	}
	return nil
}

func (e *busEnd) Serve(subject string, handle func(string, []byte) []byte) (func(), error) {
	e.bus.mu.Lock()
	defer e.bus.mu.Unlock()
	e.bus.subs[e.node] = append(e.bus.subs[e.node], busSub{node: e.node, subject: subject, handle: handle})
	return func() {}, nil
}

var errNoReply = errors.New("no reply")

func (e *busEnd) Ask(_ context.Context, subject string, data []byte) ([]byte, error) {
	for _, s := range e.handlers(subject) {
		if r := s.handle(subject, data); r != nil {
			return r, nil
		}
	}
	return nil, errNoReply
}

func TestPresenceExpiresWhenANodeIsCutOff(t *testing.T) {
	bus := newFakeBus()
	clk := &testClock{t: time.Date(2026, 1, 1, 8, 0, 0, 0, time.UTC)}
	hq := NewPresence(PresenceConfig{NodeID: "hq", Refresh: time.Hour, TTL: 15 * time.Second, Now: clk.now})
	plant := NewPresence(PresenceConfig{NodeID: "plant", Refresh: time.Hour, TTL: 15 * time.Second, Now: clk.now})
	for _, p := range []*Presence{hq, plant} {
		if err := p.Federate(t.Context(), bus.on(p.nodeID)); err != nil {
			t.Fatal(err)
		}
	}
	closePage := plant.PageOpened("org", "bob")
	plant.PageOpened("other-org", "eve")
	if got := hq.States("org"); got["bob"] != Online || len(got) != 1 {
		t.Fatalf("hq sees %v, want bob online", got)
	}
	if got := hq.PagesAt("org", "bob"); !slices.Equal(got, []string{"plant"}) {
		t.Fatalf("bob's pages at %v, want the plant", got)
	}
	leave := plant.CallJoined("org", "bob")
	if got := hq.States("org")["bob"]; got != InCall {
		t.Fatalf("bob in a call is %q at hq", got)
	}
	leave()

	// Cut off, the plant's word expires after the TTL, not before.
	bus.setCut("plant", true)
	clk.add(14 * time.Second)
	if got := hq.States("org")["bob"]; got != Online {
		t.Fatalf("14s after the cut bob is %q, want still online", got)
	}
	clk.add(2 * time.Second)
	if got := hq.States("org"); len(got) != 0 {
		t.Fatalf("16s after the cut hq sees %v, want nobody", got)
	}
	if got := hq.PagesAt("org", "bob"); len(got) != 0 {
		t.Fatalf("bob's pages at %v after expiry", got)
	}
	// The plant's own view never depended on the link.
	if got := plant.States("org")["bob"]; got != Online {
		t.Fatalf("the plant sees bob %q", got)
	}

	// The link heals: the next refresh brings bob back; his page closing
	// takes him off at once.
	bus.setCut("plant", false)
	plant.announceAll()
	if got := hq.States("org")["bob"]; got != Online {
		t.Fatalf("after the heal bob is %q at hq", got)
	}
	closePage()
	if got := hq.States("org"); len(got) != 0 {
		t.Fatalf("bob closed his page; hq sees %v", got)
	}
	if got := hq.States("other-org"); got["eve"] != Online {
		t.Fatalf("other organisation: %v", got)
	}
}

type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *testClock) add(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

// federated builds two nodes' call services on one bus, with users Ada
// and Bob in both stores (the organisation is replicated).
func federated(t *testing.T, bus *fakeBus) (n1, n2 *fixture) {
	t.Helper()
	var out []*fixture
	for _, id := range []string{"n1", "n2"} {
		f := newFixture(t, time.Hour, nil, nil)
		f.cs.cfg.URL = func() string { return "https://" + id + ".example" }
		f.ring.UsePresence(NewPresence(PresenceConfig{NodeID: id, Refresh: time.Hour}))
		if err := f.ring.Presence().Federate(t.Context(), bus.on(id)); err != nil {
			t.Fatal(err)
		}
		if err := f.ring.Federate(bus.on(id)); err != nil {
			t.Fatal(err)
		}
		for _, u := range []storage.User{{ID: "ada", OrgID: "org", Name: "Ada", Active: true}, {ID: "bob", OrgID: "org", Name: "Bob", Active: true}} {
			f.store.users[u.ID] = u
		}
		out = append(out, f)
	}
	return out[0], out[1]
}

var ada = web.Actor{UserID: "ada", OrgID: "org", Name: "Ada"}

func TestDirectCallRingsTheCalleeAtTheirNode(t *testing.T) {
	bus := newFakeBus()
	n1, n2 := federated(t, bus)
	ctx := context.Background()

	// Nobody's page open: not reachable, and no call started.
	out, err := n1.cs.CallUser(ctx, ada, "bob")
	if err != nil || out.Status != web.DialNotReachable || !strings.Contains(out.Reason, "Bob is not reachable: offline") {
		t.Fatalf("call bob offline = %+v, %v", out, err)
	}
	if len(n1.store.sessions) != 0 {
		t.Fatalf("a call was started for nobody: %v", n1.store.sessions)
	}

	bobPage := subscribe(t, n2.ring, "bob")
	adaPage := subscribe(t, n1.ring, "ada")
	out, err = n1.cs.CallUser(ctx, ada, "bob")
	if err != nil || out.Status != web.DialRinging || out.URL != "https://n1.example/calls/"+out.CallID {
		t.Fatalf("call bob at n2 = %+v, %v", out, err)
	}
	if got := bobPage.seen(); !slices.Equal(got, []string{"ready:", "incoming_call:" + out.CallID}) {
		t.Fatalf("bob's page saw %v", got)
	}
	if e := bobPage.events[1]; e.URL != out.URL || e.CallerName != "Ada" {
		t.Fatalf("the ring = %+v, want the call's URL on n1 and Ada", e)
	}
	// A page Bob opens while it rings rings too.
	if late := subscribe(t, n2.ring, "bob"); !slices.Equal(late.seen(), []string{"incoming_call:" + out.CallID, "ready:"}) {
		t.Fatalf("a late page of bob saw %v", late.seen())
	}

	// Bob declines at n2: his pages stop, Ada's page hears it at n1.
	if err := n2.ring.Decline(ctx, web.Actor{UserID: "bob", OrgID: "org"}, out.CallID); err != nil {
		t.Fatal(err)
	}
	if got := bobPage.seen(); got[len(got)-1] != "ring_stopped:"+out.CallID+web.RingDeclined {
		t.Fatalf("bob's page saw %v", got)
	}
	if got := adaPage.seen(); !slices.Equal(got, []string{"ready:", "call_status:" + out.CallID + web.RingDeclined}) {
		t.Fatalf("ada's page saw %v", got)
	}

	// Cut off, n2 does not answer: not reachable at once, not a wait; the
	// call started for it is ended.
	bus.setCut("n2", true)
	out2, err := n1.cs.CallUser(ctx, ada, "bob")
	if err != nil || out2.Status != web.DialNotReachable || !strings.Contains(out2.Reason, "their node n2 does not answer") {
		t.Fatalf("call bob cut off = %+v, %v", out2, err)
	}
	for id, s := range n1.store.sessions {
		if id != out.CallID && s.Status != storage.SessionEnded {
			t.Errorf("the unreachable call %s is %s, want ended", id, s.Status)
		}
	}
}

func TestDirectCallAnsweredOnTheSameNode(t *testing.T) {
	n1, _ := federated(t, newFakeBus())
	ctx := context.Background()
	bobPage, adaPage := subscribe(t, n1.ring, "bob"), subscribe(t, n1.ring, "ada")
	out, err := n1.cs.CallUser(ctx, ada, "bob")
	if err != nil || out.Status != web.DialRinging {
		t.Fatalf("call bob = %+v, %v", out, err)
	}
	if _, err := n1.cs.CallUser(ctx, ada, "ada"); err == nil {
		t.Error("ada called herself")
	}
	if _, err := n1.cs.CallUser(ctx, web.Actor{UserID: "eve", OrgID: "other"}, "bob"); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("another organisation's caller = %v, want not found", err)
	}
	// Ada's own join answers nothing; Bob's does, and he is in a call.
	if _, err := n1.cs.RecordJoin(ctx, ada, out.CallID, "p1", "Ada", "desktop", false); err != nil {
		t.Fatal(err)
	}
	d, err := n1.cs.RecordJoin(ctx, web.Actor{UserID: "bob", OrgID: "org", Name: "Bob"}, out.CallID, "p2", "Bob", "desktop", false)
	if err != nil {
		t.Fatal(err)
	}
	if got := bobPage.seen(); !slices.Equal(got, []string{"ready:", "incoming_call:" + out.CallID, "ring_stopped:" + out.CallID + web.RingAnswered}) {
		t.Fatalf("bob's page saw %v", got)
	}
	if got := adaPage.seen(); !slices.Equal(got, []string{"ready:", "call_status:" + out.CallID + web.RingAnswered}) {
		t.Fatalf("ada's page saw %v", got)
	}
	if got := n1.cs.Presence("org")["bob"]; got != InCall {
		t.Fatalf("bob is %q, want in a call", got)
	}
	d.Record()
	if got := n1.cs.Presence("org")["bob"]; got != Online {
		t.Fatalf("bob left and is %q, want online", got)
	}
}
