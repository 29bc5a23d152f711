package node

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/fasthttp/websocket"

	"siteline/media/client"
	"siteline/media/signal"
	"siteline/policy"
	"siteline/storage"
	"siteline/web"
)

// eventSocket is one backoffice page's events socket.
type eventSocket struct {
	t      *testing.T
	conn   *websocket.Conn
	events chan web.Event
	// ringing are the calls that rang when the socket opened (before
	// ready).
	ringing []web.Event
}

// dialEvents opens GET /api/v1/events with a session cookie and an Origin.
func dialEvents(base, cookie, origin string) (*websocket.Conn, int, string, error) {
	h := http.Header{}
	if cookie != "" {
		h.Set("Cookie", web.SessionCookie+"="+cookie)
	}
	if origin != "" {
		h.Set("Origin", origin)
	}
	d := websocket.Dialer{HandshakeTimeout: 10 * time.Second}
	conn, resp, err := d.Dial("ws"+strings.TrimPrefix(base, "http")+"/api/v1/events", h)
	if err != nil {
		if resp == nil {
			return nil, 0, "", err
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return nil, resp.StatusCode, string(body), err
	}
	return conn, resp.StatusCode, "", nil
}

// openEvents opens a page's events socket as b and reads up to ready.
func (tn *testNode) openEvents(t *testing.T, b *browser) *eventSocket {
	t.Helper()
	conn, status, body, err := dialEvents(tn.url, b.cookie, tn.url)
	if err != nil {
		t.Fatalf("open events socket = %d %s: %v", status, body, err)
	}
	es := &eventSocket{t: t, conn: conn, events: make(chan web.Event, 64)}
	t.Cleanup(func() { conn.Close() })
	go func() {
		defer close(es.events)
		for {
			_, data, err := conn.ReadMessage()
			if err != nil {
				return
			}
			var e web.Event
			if err := json.Unmarshal(data, &e); err != nil {
				t.Errorf("event %q: %v", data, err)
				return
			}
			es.events <- e
		}
	}()
	for {
		e := es.next("ready")
		if e.Type == web.EventReady {
			return es
		}
		es.ringing = append(es.ringing, e)
	}
}

// next returns the socket's next event, failing the test if none comes
// within 10 seconds.
func (es *eventSocket) next(what string) web.Event {
	es.t.Helper()
	select {
	case e, ok := <-es.events:
		if !ok {
			es.t.Fatalf("waiting for %s: the events socket closed", what)
		}
		return e
	case <-time.After(10 * time.Second):
		es.t.Fatalf("waiting for %s: no event within 10s", what)
	}
	return web.Event{}
}

// ringNode is an invitation node with a second expert, Eve.
type ringNode struct {
	*inviteNode
	eve *browser
}

func startRingNode(t *testing.T) *ringNode {
	t.Helper()
	in := startInviteNode(t, nil)
	if st := in.admin.do("POST", "/api/v1/users", web.UserInput{Email: "eve@plant.example", Name: "Eve Expert",
		Password: "eve's password 1", Roles: []string{"regular"}}, nil); st != 201 {
		t.Fatalf("create eve = %d", st)
	}
	return &ringNode{inviteNode: in, eve: in.login("eve@plant.example", "eve's password 1")}
}

// serviceRequest creates a service request as b and returns its token.
func (rn *ringNode) serviceRequest(t *testing.T, b *browser, subject string) string {
	t.Helper()
	var out web.InvitationOut
	if st := b.do("POST", "/api/v1/service-requests", web.ServiceRequestInput{
		InviteInput: web.InviteInput{Channel: "link"}, Subject: subject}, &out); st != 201 {
		t.Fatalf("create service request = %d", st)
	}
	return tokenOf(t, out.Link)
}

// open redeems a service-request link as a guest named name.
func (rn *ringNode) open(t *testing.T, token, name string) (*browser, string) {
	t.Helper()
	g := rn.anon()
	var out struct {
		CallID    string `json:"call_id"`
		CSRFToken string `json:"csrf_token"`
	}
	if st := g.do("POST", "/api/v1/join/"+token, web.RedeemInput{AcceptTerms: true, Name: name, Kind: storage.UserGuestDesktop}, &out); st != 201 {
		t.Fatalf("open service request = %d", st)
	}
	g.csrf = out.CSRFToken
	return g, out.CallID
}

func (rn *ringNode) status(t *testing.T, callID string) string {
	t.Helper()
	s, err := rn.n.store.Session(context.Background(), callID)
	if err != nil {
		t.Fatal(err)
	}
	return s.Status
}

func TestEventsSocketRefusals(t *testing.T) {
	rn := startRingNode(t)
	if _, status, _, err := dialEvents(rn.url, "", rn.url); err == nil || status != 401 {
		t.Errorf("anonymous = %d, %v; want 401", status, err)
	}
	for _, origin := range []string{"http://evil.example", ""} {
		_, status, body, err := dialEvents(rn.url, rn.tech.cookie, origin)
		if err == nil || status != 403 || !strings.Contains(body, `"csrf"`) {
			t.Errorf("origin %q = %d %s, %v; want 403 csrf", origin, status, body, err)
		}
	}
	if status, body := rn.tech.raw("GET", "/api/v1/events", "", nil); status != 426 {
		t.Errorf("plain GET = %d %s; want 426", status, body)
	}
	guest, _ := rn.open(t, rn.serviceRequest(t, rn.tech, "Press 7 jammed"), "Carl Customer")
	_, status, body, err := dialEvents(rn.url, guest.cookie, rn.url)
	if err == nil || status != 403 || apiError(t, []byte(body)).Permission != policy.OutsideTheCall {
		t.Errorf("guest = %d %s, %v; want 403 naming %s", status, body, err, policy.OutsideTheCall)
	}
}

func TestRingIncomingCallOnlyToItsExpert(t *testing.T) {
	rn := startRingNode(t)
	techToken := rn.serviceRequest(t, rn.tech, "Press 7 jammed")
	eveToken := rn.serviceRequest(t, rn.eve, "Conveyor stopped")
	page1, page2, evePage := rn.openEvents(t, rn.tech), rn.openEvents(t, rn.tech), rn.openEvents(t, rn.eve)
	for _, es := range []*eventSocket{page1, page2, evePage} {
		if len(es.ringing) != 0 {
			t.Fatalf("rings before any link was opened: %+v", es.ringing)
		}
	}

	_, callID := rn.open(t, techToken, "Carl Customer")
	if got := rn.status(t, callID); got != storage.SessionRinging {
		t.Fatalf("opened service request is %s, want ringing", got)
	}
	for i, es := range []*eventSocket{page1, page2} {
		e := es.next("incoming call")
		if e.Type != web.EventIncomingCall || e.CallID != callID || e.CallerName != "Carl Customer" || e.Subject != "Press 7 jammed" || e.StartedAt == nil {
			t.Errorf("tech's page %d got %+v", i+1, e)
		}
	}
	// Eve's first event is her own call ringing: Tom's never reached her.
	_, eveCall := rn.open(t, eveToken, "Dora Driver")
	if e := evePage.next("eve's incoming call"); e.Type != web.EventIncomingCall || e.CallID != eveCall || e.CallerName != "Dora Driver" {
		t.Errorf("eve's first event = %+v, want her own call %s", e, eveCall)
	}
	// A page opened now learns of the call ringing.
	late := rn.openEvents(t, rn.tech)
	if len(late.ringing) != 1 || late.ringing[0].CallID != callID || late.ringing[0].CallerName != "Carl Customer" {
		t.Errorf("late page rang with %+v, want call %s", late.ringing, callID)
	}
}

func TestRingDeclineKeepsTheCallJoinable(t *testing.T) {
	rn := startRingNode(t)
	guest, callID := rn.open(t, rn.serviceRequest(t, rn.tech, "Press 7 jammed"), "Carl Customer")
	page1, page2 := rn.openEvents(t, rn.tech), rn.openEvents(t, rn.tech)

	// Only the expert it rings may decline it.
	var e web.ErrorBody
	if st := rn.eve.do("POST", "/api/v1/calls/"+callID+"/decline", nil, &e); st != 404 || !strings.Contains(e.Error, "rings you") {
		t.Errorf("eve declines tom's call = %d %+v; want 404", st, e)
	}
	e = web.ErrorBody{}
	if st := guest.do("POST", "/api/v1/calls/"+callID+"/decline", nil, &e); st != 403 || e.Permission != policy.OutsideTheCall {
		t.Errorf("the caller declines = %d %+v; want 403 naming %s", st, e, policy.OutsideTheCall)
	}

	if st := rn.tech.do("POST", "/api/v1/calls/"+callID+"/decline", nil, nil); st != 204 {
		t.Fatalf("decline = %d", st)
	}
	for i, es := range []*eventSocket{page1, page2} {
		if e := es.next("ring stopped"); e.Type != web.EventRingStopped || e.CallID != callID || e.Reason != web.RingDeclined {
			t.Errorf("page %d got %+v, want ring_stopped declined", i+1, e)
		}
	}
	if st := rn.tech.do("POST", "/api/v1/calls/"+callID+"/decline", nil, nil); st != 204 {
		t.Errorf("decline again = %d, want 204", st)
	}
	// Still ringing, still on the dashboard, no longer ringing the expert.
	if got := rn.status(t, callID); got != storage.SessionRinging {
		t.Errorf("declined call is %s, want ringing", got)
	}
	var waiting []web.WaitingCall
	if st := rn.tech.do("GET", "/api/v1/waiting-calls", nil, &waiting); st != 200 || len(waiting) != 1 ||
		waiting[0].Call.ID != callID || !waiting[0].Declined || waiting[0].CallerName != "Carl Customer" {
		t.Errorf("waiting calls = %d %+v", st, waiting)
	}
	if late := rn.openEvents(t, rn.tech); len(late.ringing) != 0 {
		t.Errorf("a declined call rings a new page: %+v", late.ringing)
	}
	// The expert may still join: that answers it.
	rn.join(t, rn.tech, callID, "Tom", client.Config{})
	if got := rn.status(t, callID); got != storage.SessionActive {
		t.Errorf("after the expert joined the call is %s, want active", got)
	}
	evs, err := rn.n.store.SessionEvents(context.Background(), callID)
	if err != nil {
		t.Fatal(err)
	}
	var kinds []string
	for _, ev := range evs {
		kinds = append(kinds, ev.Kind)
	}
	if strings.Join(kinds, ",") != "declined,joined,answered" {
		t.Errorf("history = %v, want declined, joined, answered", kinds)
	}
}

func TestRingAnswerMakesTheCallActive(t *testing.T) {
	rn := startRingNode(t)
	guest, callID := rn.open(t, rn.serviceRequest(t, rn.tech, "Press 7 jammed"), "Carl Customer")
	page := rn.openEvents(t, rn.tech)
	if len(page.ringing) != 1 {
		t.Fatalf("ringing = %+v", page.ringing)
	}
	// The caller joining does not answer the call.
	rn.join(t, guest, callID, "Carl", client.Config{})
	if got := rn.status(t, callID); got != storage.SessionRinging {
		t.Fatalf("after the caller joined the call is %s, want ringing", got)
	}
	// The expert joins (Accept opens the call page; joining answers).
	rn.join(t, rn.tech, callID, "Tom", client.Config{})
	if got := rn.status(t, callID); got != storage.SessionActive {
		t.Fatalf("after the expert joined the call is %s, want active", got)
	}
	if e := page.next("ring stopped"); e.Type != web.EventRingStopped || e.CallID != callID || e.Reason != web.RingAnswered {
		t.Errorf("expert's page got %+v, want ring_stopped answered", e)
	}
	var e web.ErrorBody
	if st := rn.tech.do("POST", "/api/v1/calls/"+callID+"/decline", nil, &e); st != 409 || !strings.Contains(e.Error, "active, not ringing") {
		t.Errorf("decline an answered call = %d %+v; want 409", st, e)
	}
	evs, err := rn.n.store.SessionEvents(context.Background(), callID)
	if err != nil {
		t.Fatal(err)
	}
	answered := 0
	for _, ev := range evs {
		if ev.Kind == storage.EventAnswered {
			answered++
			if ev.ActorID == "" || strings.HasPrefix(ev.ActorID, web.GuestIDPrefix) {
				t.Errorf("answered by %q, want the expert", ev.ActorID)
			}
		}
	}
	if answered != 1 {
		t.Errorf("%d answered events, want 1", answered)
	}
}

func TestRingStopsWhenTheCallerEndsTheCall(t *testing.T) {
	rn := startRingNode(t)
	guest, callID := rn.open(t, rn.serviceRequest(t, rn.tech, "Press 7 jammed"), "Carl Customer")
	page := rn.openEvents(t, rn.tech)
	caller := rn.join(t, guest, callID, "Carl", client.Config{})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := caller.Send(ctx, signal.New(signal.TypeEnd)); err != nil {
		t.Fatal(err)
	}
	if e := page.next("ring stopped"); e.Type != web.EventRingStopped || e.CallID != callID || e.Reason != web.RingEnded {
		t.Errorf("expert's page got %+v, want ring_stopped ended", e)
	}
	if got := rn.status(t, callID); got != storage.SessionEnded {
		t.Errorf("call is %s, want ended", got)
	}
	var waiting []web.WaitingCall
	if st := rn.tech.do("GET", "/api/v1/waiting-calls", nil, &waiting); st != 200 || len(waiting) != 0 {
		t.Errorf("waiting calls after the end = %d %+v", st, waiting)
	}
	var e web.ErrorBody
	if st := rn.tech.do("POST", "/api/v1/calls/"+callID+"/decline", nil, &e); st != 409 {
		t.Errorf("decline an ended call = %d %+v; want 409", st, e)
	}
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		t.Fatal("timed out")
	}
}
