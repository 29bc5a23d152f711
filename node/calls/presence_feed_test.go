package calls

import (
	"maps"
	"testing"
	"time"

	"siteline/web"
)

// A phonebook page watching its organisation first hears every user not
// offline, then each change of a colleague's state here or at another node
// (a page opened, a call joined and left, the last page closed), and a
// node's users going offline when its announcements expire unannounced;
// it never hears of another organisation, and nothing after it stops
// watching.
func TestPresenceFeedPushesChanges(t *testing.T) {
	bus := newFakeBus()
	clk := &testClock{t: time.Date(2026, 1, 1, 8, 0, 0, 0, time.UTC)}
	hq := NewPresence(PresenceConfig{NodeID: "hq", Refresh: time.Hour, TTL: 15 * time.Second, Now: clk.now})
	plant := NewPresence(PresenceConfig{NodeID: "plant", Refresh: time.Hour, TTL: 15 * time.Second, Now: clk.now})
	for _, p := range []*Presence{hq, plant} {
		if err := p.Federate(t.Context(), bus.on(p.nodeID)); err != nil {
			t.Fatal(err)
		}
	}
	feed := NewPresenceFeed(hq)
	feed.every = 20 * time.Millisecond // looks for expired announcements often
	go feed.Run(t.Context())

	hq.PageOpened("org", "ada")
	events := make(chan web.Event, 64)
	cancel := feed.WatchPresence(web.Actor{OrgID: "org", UserID: "ada"}, func(e web.Event) error {
		events <- e
		return nil
	})
	next := func(want map[string]string, all bool) {
		t.Helper()
		select {
		case e := <-events:
			if e.Type != web.EventPresence || e.PresenceAll != all || !maps.Equal(e.Presence, want) {
				t.Fatalf("event = %+v, want presence %v (all %v)", e, want, all)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("no event, want presence %v", want)
		}
	}
	next(map[string]string{"ada": web.PresenceOnline}, true)

	closeBob := plant.PageOpened("org", "bob")
	next(map[string]string{"bob": web.PresenceOnline}, false)
	plant.PageOpened("other-org", "eve") // another organisation: nothing
	leave := plant.JoinedCall("org", "bob", "call-1")
	next(map[string]string{"bob": web.PresenceInCall}, false)
	leave()
	next(map[string]string{"bob": web.PresenceOnline}, false)
	closeBob()
	next(map[string]string{"bob": web.PresenceOffline}, false)

	plant.PageOpened("org", "cy")
	next(map[string]string{"cy": web.PresenceOnline}, false)
	bus.setCut("plant", true) // plant's announcements stop; they expire
	clk.add(16 * time.Second)
	next(map[string]string{"cy": web.PresenceOffline}, false)

	cancel()
	feed.mu.Lock()
	_, watched := feed.last["org"]
	feed.mu.Unlock()
	if watched {
		t.Error("the feed still follows org after its last page left")
	}
	// A change heard by another page is not sent to the one that left.
	later := make(chan web.Event, 64)
	defer feed.WatchPresence(web.Actor{OrgID: "org", UserID: "fay"}, func(e web.Event) error {
		later <- e
		return nil
	})()
	<-later // every user not offline
	hq.PageOpened("org", "dan")
	select {
	case e := <-later:
		if !maps.Equal(e.Presence, map[string]string{"dan": web.PresenceOnline}) {
			t.Fatalf("the other page heard %+v", e)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the other page heard nothing of dan")
	}
	select {
	case e := <-events:
		t.Fatalf("event after cancel: %+v", e)
	default:
	}
}
