package web

import (
	"context"
	"encoding/json"
	"maps"
	"net"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/fasthttp/websocket"

	"siteline/policy"
)

// readyEvents is an Events that only says the socket is ready.
type readyEvents struct{}

func (readyEvents) Subscribe(_ context.Context, _ Actor, send func(Event) error) (func(), error) {
	return func() {}, send(Event{Type: EventReady})
}
func (readyEvents) Decline(context.Context, Actor, string) error { return nil }
func (readyEvents) WaitingCalls(context.Context, Actor) ([]WaitingCall, error) {
	return []WaitingCall{}, nil
}

// fakeFeed is a PresenceFeed whose changes the test pushes.
type fakeFeed struct {
	mu      sync.Mutex
	sends   map[string]func(Event) error // user -> their page
	watched []string
}

func (f *fakeFeed) WatchPresence(a Actor, send func(Event) error) func() {
	f.mu.Lock()
	f.sends[a.UserID] = send
	f.watched = append(f.watched, a.UserID)
	f.mu.Unlock()
	_ = send(Event{Type: EventPresence, Presence: map[string]string{"u-bob": PresenceOnline}, PresenceAll: true})
	return func() {
		f.mu.Lock()
		delete(f.sends, a.UserID)
		f.mu.Unlock()
	}
}

func (f *fakeFeed) push(userID string, e Event) {
	f.mu.Lock()
	send := f.sends[userID]
	f.mu.Unlock()
	_ = send(e)
}

// A phonebook page of a user who may use it hears its colleagues' presence
// on the events socket: everyone not offline first, then each change as
// the feed pushes it. A user without the contact list's permission is not
// given the presence, nor is a page that does not ask for it.
func TestPresenceEventsReachThePhonebook(t *testing.T) {
	feed := &fakeFeed{sends: map[string]func(Event) error{}}
	s, d := newTestServer(t, func(deps *Deps) { deps.Events, deps.PresenceFeed = readyEvents{}, feed })
	d.addUser("u1", adminEmail, testPass, policy.ContactList)
	d.addUser("u2", nobodyEmail, testPass)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go s.Serve(ln)
	t.Cleanup(func() { _ = s.Shutdown(context.Background()) })
	base := "http://" + ln.Addr().String()
	open := func(email, query string) (*websocket.Conn, func() Event) {
		t.Helper()
		b := &browser{t: t, s: s}
		b.login(email, testPass)
		h := http.Header{"Cookie": {SessionCookie + "=" + b.cookie}, "Origin": {base}}
		conn, resp, err := (&websocket.Dialer{HandshakeTimeout: 10 * time.Second}).Dial("ws://"+ln.Addr().String()+APIPrefix+"/events"+query, h)
		if err != nil {
			t.Fatalf("events socket of %s: %v (%v)", email, err, resp)
		}
		t.Cleanup(func() { conn.Close() })
		return conn, func() Event {
			t.Helper()
			_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
			_, data, err := conn.ReadMessage()
			if err != nil {
				t.Fatalf("events of %s: %v", email, err)
			}
			var e Event
			if err := json.Unmarshal(data, &e); err != nil {
				t.Fatal(err)
			}
			return e
		}
	}
	_, nedNext := open(nobodyEmail, "?presence=1")
	if e := nedNext(); e.Type != EventReady {
		t.Fatalf("ned's first event = %+v", e)
	}
	_, otherPage := open(adminEmail, "") // a page that is not the phonebook
	if e := otherPage(); e.Type != EventReady {
		t.Fatalf("ada's other page's first event = %+v", e)
	}
	_, adaNext := open(adminEmail, "?presence=1")
	if e := adaNext(); e.Type != EventReady {
		t.Fatalf("ada's first event = %+v", e)
	}
	if e := adaNext(); e.Type != EventPresence || !e.PresenceAll || !maps.Equal(e.Presence, map[string]string{"u-bob": PresenceOnline}) {
		t.Fatalf("ada's presence = %+v", e)
	}
	feed.push("u1", Event{Type: EventPresence, Presence: map[string]string{"u-bob": PresenceInCall}})
	if e := adaNext(); e.Type != EventPresence || e.PresenceAll || e.Presence["u-bob"] != PresenceInCall {
		t.Fatalf("ada's change = %+v", e)
	}
	feed.mu.Lock()
	defer feed.mu.Unlock()
	if !slices.Equal(feed.watched, []string{"u1"}) {
		t.Errorf("pages watching presence: %v, want ada's phonebook only", feed.watched)
	}
}
