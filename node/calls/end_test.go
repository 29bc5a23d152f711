package calls

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"testing"
	"time"

	"siteline/internal/testutil"
	"siteline/storage"
	"siteline/web"
)

// A call everyone left ends once its grace period is over: its end is in
// its history with the reason, the SFU ends its room, its guests' web
// sessions end.
func TestEmptyCallEndsAfterItsGrace(t *testing.T) {
	f := newFixture(t, time.Millisecond, nil, nil)
	f.call("c1", storage.SessionConference, "u1", storage.SessionActive)
	f.store.guests["guest-g1"] = storage.Guest{ID: "guest-g1", SessionID: "c1"}
	f.store.guests["guest-g2"] = storage.Guest{ID: "guest-g2", SessionID: "other"}

	f.cs.left("c1")
	testutil.Eventually(t, 5*time.Second, "the empty call to end", func() bool {
		_, ended := f.sfu.endReason("c1")
		return ended
	})
	if got := f.store.status("c1"); got != storage.SessionEnded {
		t.Fatalf("status = %s, want %s", got, storage.SessionEnded)
	}
	evs, _ := f.store.SessionEvents(context.Background(), "c1")
	var p map[string]string
	if len(evs) != 1 || evs[0].Kind != storage.EventEnded || json.Unmarshal(evs[0].Payload, &p) != nil || p["reason"] != "everyone left" {
		t.Fatalf("history = %+v, want one ended event for everyone left", evs)
	}
	if reason, _ := f.sfu.endReason("c1"); reason != "the call has ended: everyone left" {
		t.Errorf("room ended with %q", reason)
	}
	f.store.mu.Lock()
	webEnded := slices.Clone(f.store.webEnded)
	f.store.mu.Unlock()
	if !slices.Equal(webEnded, []string{"guest-g1"}) {
		t.Errorf("web sessions ended for %v, want the call's guest only", webEnded)
	}
	if f.cs.Graceful("c1") {
		t.Error("an ended call still waits out a grace period")
	}
}

// Someone who (re)joins within the grace keeps the call; so does a call
// whose room is not empty; and a node that stops ends none of its calls.
func TestGraceIsCancelledByAJoinAndAtShutdown(t *testing.T) {
	f := newFixture(t, time.Hour, nil, nil)
	f.call("c1", storage.SessionConference, "u1", storage.SessionActive)
	f.call("c2", storage.SessionConference, "u1", storage.SessionActive)
	f.call("c3", storage.SessionConference, "u1", storage.SessionActive)

	f.cs.left("c1")
	if !f.cs.Graceful("c1") {
		t.Fatal("an emptied call does not wait out its grace")
	}
	f.cs.joined("c1")
	if f.cs.Graceful("c1") {
		t.Error("a rejoined call still waits out its grace")
	}

	f.sfu.occupied["c2"] = true
	f.cs.left("c2")
	if f.cs.Graceful("c2") {
		t.Error("a call someone is still in waits out a grace")
	}

	f.cs.left("c3")
	f.cs.StopEnding()
	if f.cs.Graceful("c3") {
		t.Error("a stopped service keeps a grace timer")
	}
	f.cs.left("c1")
	if f.cs.Graceful("c1") {
		t.Error("a stopped service starts a grace timer")
	}
	for _, id := range []string{"c1", "c2", "c3"} {
		if got := f.store.status(id); got != storage.SessionActive {
			t.Errorf("call %s is %s, want it still active", id, got)
		}
	}
}

// A node that starts gives the calls it was running the grace of an
// empty call; a new call waits for its first participant.
func TestResumeAndCreateStartTheGrace(t *testing.T) {
	f := newFixture(t, time.Hour, nil, nil)
	f.call("c1", storage.SessionConference, "u1", storage.SessionActive)
	f.call("c2", storage.SessionServiceRequest, "u1", storage.SessionEnded)
	if err := f.cs.Resume(context.Background()); err != nil {
		t.Fatal(err)
	}
	if !f.cs.Graceful("c1") || f.cs.Graceful("c2") {
		t.Errorf("graceful after resume: active %v, ended %v; want true, false", f.cs.Graceful("c1"), f.cs.Graceful("c2"))
	}

	a := web.Actor{UserID: "u2", OrgID: "org", Name: "Ada"}
	s, err := f.cs.CreateCall(context.Background(), a, web.CallInput{Name: " Pump 7 "})
	if err != nil {
		t.Fatal(err)
	}
	if s.Name != "Pump 7" || s.CreatedBy != "u2" || s.SiteID != "site" || s.Status != storage.SessionActive {
		t.Errorf("created %+v", s)
	}
	if !f.cs.Graceful(s.ID) {
		t.Error("a new call does not wait for its first participant")
	}
}

// A user may have media.max_active_calls calls that have not ended; the
// next is refused with a conflict and creates nothing. Bad names are
// refused too.
func TestCreateCallRefusals(t *testing.T) {
	f := newFixture(t, time.Hour, nil, nil)
	a := web.Actor{UserID: "u1", OrgID: "org"}
	for range 2 {
		if _, err := f.cs.CreateCall(context.Background(), a, web.CallInput{Name: "Pump"}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := f.cs.CreateCall(context.Background(), a, web.CallInput{Name: "Pump"}); !errors.Is(err, storage.ErrConflict) {
		t.Errorf("third call: %v, want a conflict", err)
	}
	var ve *storage.ValidationError
	if _, err := f.cs.CreateCall(context.Background(), web.Actor{UserID: "u2", OrgID: "org"}, web.CallInput{Name: "exe\u202efdp.pdf"}); !errors.As(err, &ve) || ve.Field != "name" {
		t.Errorf("name with an override: %v, want a validation error on name", err)
	}
	if n := len(f.store.sessions); n != 2 {
		t.Errorf("%d sessions stored, want 2", n)
	}
}

// A participant's departure is written once, however many times it is
// recorded, and empties the call.
func TestDepartureIsRecordedOnce(t *testing.T) {
	f := newFixture(t, time.Hour, nil, nil)
	f.call("c1", storage.SessionConference, "u1", storage.SessionActive)
	a := web.Actor{UserID: "u1", OrgID: "org", Name: "Ada"}
	d, err := f.cs.RecordJoin(context.Background(), a, "c1", "p1", "Ada", "desktop", false)
	if err != nil {
		t.Fatal(err)
	}
	d.Record()
	d.Record()
	if got := f.store.eventKinds("c1"); !slices.Equal(got, []string{storage.EventJoined, storage.EventLeft}) {
		t.Errorf("history = %v, want joined, left", got)
	}
	if !f.cs.Graceful("c1") {
		t.Error("the emptied call does not wait out its grace")
	}
}
