package calls

import (
	"encoding/json"
	"sync"
	"testing"
	"time"
)

// TestPresenceCarriesTheCallAndActivity: another node learns which call a
// user is in, since when, at which site and the address of its node, and
// their last activity; it
// is told of every change (OnChange); an announcement of a node that does
// not send the call is read as before.
func TestPresenceCarriesTheCallAndActivity(t *testing.T) {
	bus := newFakeBus()
	clk := &testClock{t: time.Date(2026, 1, 1, 8, 0, 0, 0, time.UTC)}
	hq := NewPresence(PresenceConfig{NodeID: "hq", SiteID: "site-hq", Refresh: time.Hour, TTL: 15 * time.Second, Now: clk.now})
	plant := NewPresence(PresenceConfig{NodeID: "plant", SiteID: "site-plant", Refresh: time.Hour, TTL: 15 * time.Second, Now: clk.now})
	for _, p := range []*Presence{hq, plant} {
		if err := p.Federate(t.Context(), bus.on(p.nodeID)); err != nil {
			t.Fatal(err)
		}
	}
	var mu sync.Mutex
	changes := 0
	hq.OnChange(func(org string) {
		if org == "org" {
			mu.Lock()
			changes++
			mu.Unlock()
		}
	})
	changed := func() int {
		mu.Lock()
		defer mu.Unlock()
		n := changes
		changes = 0
		return n
	}

	plant.PageOpened("org", "bob")
	if s := hq.Snapshot("org")["bob"]; !s.Page || s.InCall || !s.Active.Equal(clk.now()) {
		t.Fatalf("bob's page at hq = %+v", s)
	}
	if changed() == 0 {
		t.Fatal("hq was not told of bob's page")
	}

	clk.add(2 * time.Minute)
	joined := clk.now()
	plant.SetURL("https://plant.example:8443")
	leave := plant.JoinedCall("org", "bob", "call-1")
	s := hq.Snapshot("org")["bob"]
	if !s.InCall || s.CallID != "call-1" || !s.Since.Equal(joined) || s.Node != "plant" || s.Site != "site-plant" ||
		s.URL != "https://plant.example:8443" {
		t.Fatalf("bob in a call at hq = %+v", s)
	}
	if s := plant.Snapshot("org")["bob"]; s.URL != "" {
		t.Fatalf("the plant gives its own call an address of another node: %+v", s)
	}
	if changed() == 0 {
		t.Fatal("hq was not told of bob's call")
	}
	plant.announceAll() // a refresh that changes nothing tells no one
	if n := changed(); n != 0 {
		t.Fatalf("an unchanged refresh made %d changes", n)
	}
	leave()
	if s := hq.Snapshot("org")["bob"]; s.InCall || s.CallID != "" {
		t.Fatalf("bob after the call at hq = %+v", s)
	}

	// Activity after a quiet minute is announced at once.
	clk.add(3 * time.Minute)
	plant.Active("org", "bob")
	if s := hq.Snapshot("org")["bob"]; !s.Active.Equal(clk.now()) {
		t.Fatalf("bob's activity at hq = %v, want %v", s.Active, clk.now())
	}

	// A node of before: page and call flags only.
	old, _ := json.Marshal(map[string]any{"node": "old", "org": "org", "users": map[string]any{"eve": map[string]bool{"page": true, "call": true}}})
	hq.receive(old)
	if s := hq.Snapshot("org")["eve"]; !s.InCall || !s.Page || s.CallID != "" || !s.Since.IsZero() {
		t.Fatalf("eve from an older node = %+v", s)
	}
	if got := hq.States("org")["eve"]; got != InCall {
		t.Fatalf("eve's state %q", got)
	}
}
