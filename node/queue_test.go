package node

import (
	"context"
	"net/url"
	"strings"
	"testing"
	"time"

	"siteline/storage"
	"siteline/web"
)

// queuedCalls lists a team's queue as b sees it.
func queuedCalls(t *testing.T, b *browser, teamID string) []web.QueuedRequest {
	t.Helper()
	var out []web.QueuedRequest
	if st := b.do("GET", "/api/v1/teams/"+teamID+"/queue", nil, &out); st != 200 {
		t.Fatalf("team queue = %d", st)
	}
	return out
}

// Service requests made for a team wait in its queue; the member who opens
// a page is offered the oldest. The node restarts mid-queue: every request
// is still queued, the offer out is still the member's, and offering goes
// on (a decline moves it to the next member).
func TestQueueOffersSurviveARestart(t *testing.T) {
	cfg := testConfig(t, shortTempDir(t))
	cfg.Queue.OfferTimeout = 10 * time.Minute // no timeout during the test
	tn := startNodeWith(t, cfg, Options{})
	admin := tn.admin()
	var team storage.Team
	if st := admin.do("POST", "/api/v1/teams", map[string]string{"name": "Line 1"}, &team); st != 201 {
		t.Fatalf("create team = %d", st)
	}
	m1 := createUser(t, admin, "ann@plant.example", "ann's password 12", "regular")
	m2 := createUser(t, admin, "bob@plant.example", "bob's password 12", "regular")
	for _, u := range []string{m1.ID, m2.ID} {
		if st := admin.do("PUT", "/api/v1/teams/"+team.ID+"/members/"+u, map[string]string{"role": "member"}, nil); st != 204 && st != 200 {
			t.Fatalf("add member = %d", st)
		}
	}
	var calls []string
	for _, subject := range []string{"Press 7 jammed", "Conveyor stopped", "Oven too hot"} {
		var out web.InvitationOut
		if st := admin.do("POST", "/api/v1/service-requests", web.ServiceRequestInput{
			InviteInput: web.InviteInput{Channel: "link"}, Subject: subject, TeamID: team.ID}, &out); st != 201 {
			t.Fatalf("create team service request = %d", st)
		}
		var redeemed struct {
			CallID string `json:"call_id"`
		}
		if st := tn.anon().do("POST", "/api/v1/join/"+tokenOf(t, out.Link), web.RedeemInput{AcceptTerms: true,
			Name: "Carl Customer", Kind: storage.UserGuestDesktop}, &redeemed); st != 201 {
			t.Fatalf("open service request = %d", st)
		}
		calls = append(calls, redeemed.CallID)
	}
	if q := queuedCalls(t, admin, team.ID); len(q) != 3 || q[0].Entry.OfferedTo != "" {
		t.Fatalf("queue before anyone is online: %+v", q)
	}

	ann := tn.login("ann@plant.example", "ann's password 12")
	page := tn.openEvents(t, ann)
	if e := page.next("offer"); e.Type != web.EventIncomingCall || e.CallID != calls[0] || e.Subject != "Press 7 jammed" {
		t.Fatalf("ann's first event = %+v, want the offer of %s", e, calls[0])
	}

	// Restart mid-queue.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := tn.n.Shutdown(ctx); err != nil {
		t.Fatalf("shutdown: %v", err)
	}
	tn = startNodeAsIs(t, cfg, Options{})
	tn.password = adminPassword
	admin = tn.admin()
	q := queuedCalls(t, admin, team.ID)
	if len(q) != 3 {
		t.Fatalf("after the restart the queue holds %d requests, want 3: %+v", len(q), q)
	}
	for i, r := range q {
		if r.Entry.SessionID != calls[i] {
			t.Fatalf("queue order after the restart: %+v, want %v", q, calls)
		}
	}
	if q[0].Entry.OfferedTo != m1.ID {
		t.Fatalf("the offer out before the restart is now %q, want ann's", q[0].Entry.OfferedTo)
	}

	// Ann's page reconnects: the offer is rung again; she declines it and
	// Bob, opening his page, is offered it.
	ann = tn.login("ann@plant.example", "ann's password 12")
	page = tn.openEvents(t, ann)
	if len(page.ringing) == 0 || page.ringing[0].CallID != calls[0] {
		t.Fatalf("ann's page after the restart rang %+v, want %s", page.ringing, calls[0])
	}
	if st := ann.do("POST", "/api/v1/calls/"+calls[0]+"/decline", nil, nil); st != 204 {
		t.Fatalf("decline = %d", st)
	}
	bob := tn.login("bob@plant.example", "bob's password 12")
	bobPage := tn.openEvents(t, bob)
	offered := append([]web.Event{}, bobPage.ringing...)
	deadline := time.After(45 * time.Second) // a loaded machine's synced writes
	for !containsCall(offered, calls[0]) {
		select {
		case e, ok := <-bobPage.events:
			if !ok {
				t.Fatal("bob's events socket closed")
			}
			offered = append(offered, e)
			continue
		case <-deadline:
		}
		break
	}
	if !containsCall(offered, calls[0]) {
		t.Fatalf("bob was not offered %s: %+v", calls[0], offered)
	}
}

func containsCall(es []web.Event, callID string) bool {
	for _, e := range es {
		if e.Type == web.EventIncomingCall && e.CallID == callID {
			return true
		}
	}
	return false
}

// The team page sets how the team's queue offers requests: the choice is
// replicated and shown; a strategy that does not exist is refused with
// its field named, and changes nothing.
func TestTeamPageSetsTheQueueStrategy(t *testing.T) {
	tn := startNode(t, testConfig(t, shortTempDir(t)))
	admin := tn.admin()
	var team storage.Team
	if st := admin.do("POST", "/api/v1/teams", map[string]string{"name": "Line 1"}, &team); st != 201 {
		t.Fatalf("create team = %d", st)
	}
	pg := &page{browser: admin}
	if st, body := pg.get("/teams/" + team.ID); st != 200 || !strings.Contains(body, `<option value="round-robin" selected>`) {
		t.Fatalf("team page = %d, want the queue card with round robin chosen", st)
	}
	if st, _, loc := pg.post("/teams/"+team.ID+"/queue", url.Values{"strategy": {"longest-idle"}}, true); st != 303 || loc != "/teams/"+team.ID {
		t.Fatalf("set strategy = %d to %q", st, loc)
	}
	strategy := func() string {
		qs, err := tn.n.store.TeamQueues(context.Background(), team.OrgID)
		if err != nil || len(qs) != 1 {
			t.Fatalf("team queues = %+v, %v", qs, err)
		}
		return qs[0].Strategy
	}
	if got := strategy(); got != storage.StrategyLongestIdle {
		t.Fatalf("strategy = %q, want %q", got, storage.StrategyLongestIdle)
	}
	if st, body := pg.get("/teams/" + team.ID); st != 200 || !strings.Contains(body, `<option value="longest-idle" selected>`) {
		t.Fatalf("team page after the change = %d, want longest idle chosen", st)
	}
	if st, body, _ := pg.post("/teams/"+team.ID+"/queue", url.Values{"strategy": {"fastest"}}, true); st != 400 || !strings.Contains(body, "strategy") {
		t.Fatalf("unknown strategy = %d, want 400 naming the strategy", st)
	}
	if got := strategy(); got != storage.StrategyLongestIdle {
		t.Fatalf("a refused change changed the strategy to %q", got)
	}
}
