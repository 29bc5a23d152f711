package node

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"siteline/media/client"
	"siteline/storage"
)

// lastEnd returns the reason of the event that ended call id.
func lastEnd(t *testing.T, tn *testNode, id string) string {
	t.Helper()
	evs, err := tn.n.store.SessionEvents(context.Background(), id)
	if err != nil || len(evs) == 0 || evs[len(evs)-1].Kind != storage.EventEnded {
		t.Fatalf("history of call %s = %+v, %v; want it to end with %s", id, evs, err, storage.EventEnded)
	}
	var p map[string]string
	if err := json.Unmarshal(evs[len(evs)-1].Payload, &p); err != nil {
		t.Fatalf("end payload: %v", err)
	}
	return p["reason"]
}

// A call nobody joins ends after media.unjoined_call_ttl, and stops
// counting against media.max_active_calls: a user who opened calls and
// closed the page before joining is not locked out of new ones.
func TestUnjoinedCallsEnd(t *testing.T) {
	cn := startCallNodeWith(t, func(c *Config) {
		c.Media.EmptyCallGrace = 200 * time.Millisecond
		c.Media.UnjoinedCallTTL = 500 * time.Millisecond
		c.Media.MaxActiveCalls = 2
	})
	first := cn.createCall(t, cn.tech)
	second := cn.createCall(t, cn.tech)
	if st := cn.tech.do("POST", "/api/v1/calls", map[string]string{"name": "third"}, nil); st != 409 {
		t.Fatalf("third open call = %d, want 409", st)
	}
	eventually(t, 10*time.Second, "the unjoined call to end", func() bool { return cn.status(t, first.ID) == storage.SessionEnded })
	if r := lastEnd(t, cn.testNode, first.ID); r != "nobody joined" {
		t.Errorf("end reason = %q, want %q", r, "nobody joined")
	}
	eventually(t, 10*time.Second, "the second unjoined call to end", func() bool { return cn.status(t, second.ID) == storage.SessionEnded })
	if st := cn.tech.do("POST", "/api/v1/calls", map[string]string{"name": "again"}, nil); st != 201 {
		t.Fatalf("a new call once the unjoined ones ended = %d, want 201", st)
	}

	// A call someone joined is not ended by the creation timer.
	joined := cn.createCall(t, cn.tech)
	tech := cn.join(t, cn.tech, joined.ID, "Tom", client.Config{})
	defer tech.Close()
	if cn.n.calls.Graceful(joined.ID) {
		t.Fatal("a joined call still waits to end")
	}
}

// A call the node was running when it stopped ends after the grace period
// once the node is back, unless someone rejoins it. Only that path writes
// the reason "everyone left": a shutdown ends no call.
func TestInterruptedCallsEndAfterRestart(t *testing.T) {
	cfg := testConfig(t, shortTempDir(t))
	cfg.Media.EmptyCallGrace = 300 * time.Millisecond
	cn := startCallNodeWith(t, func(c *Config) { *c = cfg })
	call := cn.createCall(t, cn.tech)
	tech := cn.join(t, cn.tech, call.ID, "Tom", client.Config{})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := cn.n.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	_ = tech.Close()

	again := startNode(t, cfg)
	eventually(t, 10*time.Second, "the interrupted call to end", func() bool {
		s, err := again.n.store.Session(context.Background(), call.ID)
		return err == nil && s.Status == storage.SessionEnded
	})
	if r := lastEnd(t, again, call.ID); r != "everyone left" {
		t.Errorf("end reason = %q, want %q", r, "everyone left")
	}
}
