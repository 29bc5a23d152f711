package node

import (
	"context"
	"strings"
	"testing"
	"time"

	"siteline/media/client"
	"siteline/web"
)

// joinAt joins a call at tn's node as b with a Go client.
func joinAt(t *testing.T, tn *testNode, b *browser, callID, name string) *client.Client {
	t.Helper()
	return (&callNode{testNode: tn}).join(t, b, callID, name, client.Config{})
}

// presenceAt is a user's presence in tn's phonebook, as b sees it.
func presenceAt(t *testing.T, b *browser, userID string) string {
	t.Helper()
	var out web.InternalContacts
	if st := b.do("GET", "/api/v1/phonebook/users", nil, &out); st != 200 {
		t.Fatalf("phonebook users = %d", st)
	}
	for _, c := range out.Contacts {
		if c.ID == userID {
			return c.Presence
		}
	}
	t.Fatalf("user %s is not in the phonebook: %+v", userID, out)
	return ""
}

// A user at headquarters calls a colleague whose page is open at a plant:
// the ring crosses the leaf link, the colleague joins the call at
// headquarters and media flows both ways. With the link cut, the caller
// is told at once that the colleague is not reachable, and the colleague
// goes offline at headquarters once the plant's presence expires.
func TestPhonebookRingsAcrossTheFederation(t *testing.T) {
	l := newLink(t)
	hq, plant := historyFederation(t, nil, func(hq *testNode, c *Config) {
		c.NATS.LeafRemotes = []string{"tls://" + l.proxy(strings.TrimPrefix(hq.n.LeafURL(), "tls://"))}
	})
	eventually(t, 20*time.Second, "leaf link", func() bool { return plant.n.bus.LeafLinks() == 1 })

	ada := hq.admin()
	var bob struct {
		ID string `json:"id"`
	}
	const bobEmail, bobPassword = "bob@plant.example", "bob's password 1"
	if st := ada.do("POST", "/api/v1/users", web.UserInput{Email: bobEmail, Name: "Bob Fitter", Password: bobPassword,
		Roles: []string{"regular"}}, &bob); st != 201 {
		t.Fatalf("create bob = %d", st)
	}
	eventually(t, 20*time.Second, "bob at the plant", func() bool { return plant.tryLogin(bobEmail, bobPassword) })
	if got := presenceAt(t, ada, bob.ID); got != web.PresenceOffline {
		t.Fatalf("bob with no page open is %q", got)
	}

	bobPage := plant.openEvents(t, plant.login(bobEmail, bobPassword))
	adaPage := hq.openEvents(t, ada)
	eventually(t, 20*time.Second, "bob online at headquarters", func() bool { return presenceAt(t, ada, bob.ID) == web.PresenceOnline })

	var dial web.DialOut
	if st := ada.do("POST", "/api/v1/phonebook/users/"+bob.ID+"/call", nil, &dial); st != 201 || dial.Status != web.DialRinging {
		t.Fatalf("call bob = %d %+v", st, dial)
	}
	if want := hq.n.URL() + "/calls/" + dial.CallID; dial.URL != want {
		t.Fatalf("call URL = %q, want %q", dial.URL, want)
	}
	ring := bobPage.next("incoming call")
	if ring.Type != web.EventIncomingCall || ring.CallID != dial.CallID || ring.URL != dial.URL || ring.CallerName == "" {
		t.Fatalf("bob's page got %+v, want the call at %s", ring, dial.URL)
	}

	// Accept: Bob joins at headquarters, with the same credentials.
	caller := joinAt(t, hq, ada, dial.CallID, "Ada")
	callee := joinAt(t, hq, hq.login(bobEmail, bobPassword), dial.CallID, "Bob")
	if e := bobPage.next("ring stopped"); e.Type != web.EventRingStopped || e.CallID != dial.CallID || e.Reason != web.RingAnswered {
		t.Errorf("bob's page got %+v, want ring_stopped answered", e)
	}
	if e := adaPage.next("call status"); e.Type != web.EventCallStatus || e.CallID != dial.CallID || e.Reason != web.RingAnswered {
		t.Errorf("ada's page got %+v, want call_status answered", e)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for _, c := range []*client.Client{caller, callee} {
		if _, err := c.Publish(ctx, client.TrackSpec{Kind: "audio"}, client.TrackSpec{Kind: "video"}); err != nil {
			t.Fatalf("publish: %v", err)
		}
	}
	waitComplete(t, "bob hears ada", waitTrack(t, callee, caller.ID(), "audio"), 50)
	waitComplete(t, "ada sees bob", waitTrack(t, caller, callee.ID(), "video"), 60)
	eventually(t, 20*time.Second, "bob in a call at headquarters", func() bool { return presenceAt(t, ada, bob.ID) == web.PresenceInCall })
	_ = caller.Close()
	_ = callee.Close()

	// Cut: the plant's node does not answer, and Ada hears so within the
	// ring's wait, not after a silent minute.
	l.setCut(true)
	start := time.Now()
	dial = web.DialOut{}
	if st := ada.do("POST", "/api/v1/phonebook/users/"+bob.ID+"/call", nil, &dial); st != 200 || dial.Status != web.DialNotReachable ||
		!strings.Contains(dial.Reason, "Bob Fitter is not reachable") {
		t.Fatalf("call bob cut off = %d %+v", st, dial)
	}
	if took := time.Since(start); took > 10*time.Second {
		t.Errorf("not reachable took %v", took)
	}
	eventually(t, 40*time.Second, "bob offline at headquarters", func() bool { return presenceAt(t, ada, bob.ID) == web.PresenceOffline })
	dial = web.DialOut{}
	if st := ada.do("POST", "/api/v1/phonebook/users/"+bob.ID+"/call", nil, &dial); st != 200 || dial.Status != web.DialNotReachable ||
		!strings.Contains(dial.Reason, "offline") {
		t.Fatalf("call bob offline = %d %+v", st, dial)
	}
}
