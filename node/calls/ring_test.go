package calls

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"siteline/storage"
	"siteline/web"
)

// page is one open backoffice page: the events it was sent.
type page struct {
	mu     sync.Mutex
	events []web.Event
}

func (p *page) send(e web.Event) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.events = append(p.events, e)
	return nil
}

// seen returns the type and call of each event, "type:call".
func (p *page) seen() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []string
	for _, e := range p.events {
		out = append(out, e.Type+":"+e.CallID+e.Reason)
	}
	return out
}

func subscribe(t *testing.T, h *RingHub, userID string) *page {
	t.Helper()
	p := &page{}
	cancel, err := h.Subscribe(context.Background(), web.Actor{UserID: userID, OrgID: "org"}, p.send)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cancel)
	return p
}

// A service request rings every open page of its expert and nobody
// else's; a page opened while it rings learns of it first; the expert's
// decline stops it on all their pages; someone joining answers it.
func TestRingReachesItsExpertOnly(t *testing.T) {
	f := newFixture(t, time.Hour, nil, nil)
	ada1, ada2, bob := subscribe(t, f.ring, "ada"), subscribe(t, f.ring, "ada"), subscribe(t, f.ring, "bob")

	call := f.call("c1", storage.SessionServiceRequest, "ada", storage.SessionRinging)
	f.store.guests["guest-g"] = storage.Guest{ID: "guest-g", SessionID: "c1", Name: "Carl"}
	f.ring.Ring(call, "Carl")
	want := []string{web.EventReady + ":", web.EventIncomingCall + ":c1"}
	for _, p := range []*page{ada1, ada2} {
		if got := p.seen(); !slices.Equal(got, want) {
			t.Errorf("expert's page saw %v, want %v", got, want)
		}
	}
	if got := bob.seen(); !slices.Equal(got, []string{web.EventReady + ":"}) {
		t.Errorf("another user's page saw %v", got)
	}
	late := subscribe(t, f.ring, "ada")
	if got := late.seen(); !slices.Equal(got, []string{web.EventIncomingCall + ":c1", web.EventReady + ":"}) {
		t.Errorf("a page opened while it rings saw %v", got)
	}
	if late.events[0].CallerName != "Carl" || late.events[0].Subject != call.Name {
		t.Errorf("incoming call %+v, want caller Carl and the call's name", late.events[0])
	}

	if err := f.ring.Decline(context.Background(), web.Actor{UserID: "bob", OrgID: "org"}, "c1"); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("decline by another user: %v, want not found", err)
	}
	ada := web.Actor{UserID: "ada", OrgID: "org", Name: "Ada"}
	for range 2 {
		if err := f.ring.Decline(context.Background(), ada, "c1"); err != nil {
			t.Fatal(err)
		}
	}
	if got := f.store.eventKinds("c1"); !slices.Equal(got, []string{storage.EventDeclined}) {
		t.Errorf("history = %v, want one declined event", got)
	}
	stopped := web.EventRingStopped + ":c1" + web.RingDeclined
	if got := ada1.seen(); got[len(got)-1] != stopped {
		t.Errorf("expert's page saw %v, want it to end with %s", got, stopped)
	}
	if got := subscribe(t, f.ring, "ada").seen(); !slices.Equal(got, []string{web.EventReady + ":"}) {
		t.Errorf("a page opened after the decline saw %v", got)
	}
	waiting, err := f.ring.WaitingCalls(context.Background(), ada)
	if err != nil || len(waiting) != 1 || !waiting[0].Declined || waiting[0].CallerName != "Carl" {
		t.Errorf("waiting calls %+v, %v; want c1, declined, from Carl", waiting, err)
	}

	// A user joining where the others see them answers it.
	if _, err := f.cs.RecordJoin(context.Background(), ada, "c1", "p1", "Ada", "", false); err != nil {
		t.Fatal(err)
	}
	if f.store.status("c1") != storage.SessionActive {
		t.Errorf("status after the expert joined = %s, want active", f.store.status("c1"))
	}
	answered := web.EventRingStopped + ":c1" + web.RingAnswered
	if got := ada2.seen(); got[len(got)-1] != answered {
		t.Errorf("expert's page saw %v, want it to end with %s", got, answered)
	}
	if got := bob.seen(); len(got) != 1 {
		t.Errorf("another user's page saw %v", got)
	}
}

// A guest's join and a hidden sit-in leave a ringing call ringing.
func TestGuestsAndSitInsDoNotAnswer(t *testing.T) {
	f := newFixture(t, time.Hour, nil, nil)
	f.call("c1", storage.SessionServiceRequest, "ada", storage.SessionRinging)
	for _, j := range []struct {
		a      web.Actor
		hidden bool
	}{
		{web.Actor{UserID: web.GuestIDPrefix + "g", CallID: "c1", OrgID: "org"}, false},
		{web.Actor{UserID: "lead", OrgID: "org"}, true},
	} {
		if _, err := f.cs.RecordJoin(context.Background(), j.a, "c1", newID(), "x", "", j.hidden); err != nil {
			t.Fatal(err)
		}
	}
	if got := f.store.status("c1"); got != storage.SessionRinging {
		t.Errorf("status = %s, want it still ringing", got)
	}
}

// Calls ring users: a guest or the local operator cannot subscribe.
func TestRingSubscribersAreUsers(t *testing.T) {
	h := NewRingHub(newFakeStore(), nil, nil)
	for _, a := range []web.Actor{{Local: true}, {UserID: web.GuestIDPrefix + "g"}, {}} {
		var ve *storage.ValidationError
		if _, err := h.Subscribe(context.Background(), a, func(web.Event) error { return nil }); !errors.As(err, &ve) {
			t.Errorf("subscribe %+v: %v, want a validation error", a, err)
		}
	}
}

// The end of a call stops its ring, through the recorder.
func TestRecordedEndStopsTheRing(t *testing.T) {
	f := newFixture(t, time.Hour, nil, nil)
	ada := subscribe(t, f.ring, "ada")
	f.call("c1", storage.SessionServiceRequest, "ada", storage.SessionRinging)
	f.store.guests["guest-g"] = storage.Guest{ID: "guest-g", SessionID: "c1"}
	if err := f.cs.Recorder().End("c1", sfuInfo("p1", "guest-g")); err != nil {
		t.Fatal(err)
	}
	if got := f.store.status("c1"); got != storage.SessionEnded {
		t.Errorf("status = %s, want ended", got)
	}
	if got, want := ada.seen(), web.EventRingStopped+":c1"+web.RingEnded; got[len(got)-1] != want {
		t.Errorf("expert's page saw %v, want it to end with %s", got, want)
	}
	if !slices.Equal(f.store.webEnded, []string{"guest-g"}) {
		t.Errorf("web sessions ended for %v, want the guest's", f.store.webEnded)
	}
}

// A monitoring call is forgotten once it ends, however it ends: by the
// recorder (someone ended it) or empty after its grace.
func TestEndedMonitoringCallsAreForgotten(t *testing.T) {
	f := newFixture(t, time.Millisecond, nil, nil)
	f.call("c1", storage.SessionConference, "max", storage.SessionActive)
	f.call("c2", storage.SessionConference, "max", storage.SessionActive)
	f.cs.monitors.Store("c1", "max")
	f.cs.monitors.Store("c2", "max")
	if err := f.cs.Recorder().End("c1", sfuInfo("p1", "max")); err != nil {
		t.Fatal(err)
	}
	if m := f.cs.monitored("c1"); m != "" {
		t.Errorf("c1, ended, still shows %q", m)
	}
	f.cs.endEmpty("c2", time.Millisecond, "everyone left")
	if got := f.store.status("c2"); got != storage.SessionEnded {
		t.Fatalf("c2 status = %s, want ended", got)
	}
	if m := f.cs.monitored("c2"); m != "" {
		t.Errorf("c2, ended empty, still shows %q", m)
	}
}
