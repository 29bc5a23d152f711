package sqlite

import (
	"context"
	"testing"
	"time"

	"siteline/storage"
)

// TestCallStatsAndOngoingSessions: calls since a time count each session
// a user joined visibly once (two devices are one call), handling time is
// from their first join to their last leave over the sessions they left;
// ongoing sessions are the open ones a user is in now, with who is in
// them.
func TestCallStatsAndOngoingSessions(t *testing.T) {
	s, _ := openTestStore(t)
	ctx := context.Background()
	day := t0.Add(-time.Hour)
	mk := func(id string, start time.Time) {
		t.Helper()
		if err := s.CreateSession(ctx, storage.Session{ID: id, OrgID: "o1", SiteID: "s1", Name: "Session " + id, StartedAt: start}); err != nil {
			t.Fatal(err)
		}
	}
	n := 0
	join := func(sess, user string, at time.Time, hidden bool) string {
		t.Helper()
		n++
		pid := sess + "-" + user + "-" + string(rune('a'+n))
		if err := s.RecordJoin(ctx, storage.SessionParticipant{ID: pid, SessionID: sess, UserID: user, DisplayName: user, Hidden: hidden, JoinedAt: at},
			storage.SessionEvent{ID: "j" + pid, SessionID: sess, At: at, Kind: storage.EventJoined, ActorID: user}); err != nil {
			t.Fatal(err)
		}
		return pid
	}
	leave := func(pid string, at time.Time) {
		t.Helper()
		if err := s.RecordLeave(ctx, pid, at, storage.SessionEvent{ID: "l" + pid, SessionID: pid[:2], At: at, Kind: storage.EventLeft}); err != nil {
			t.Fatal(err)
		}
	}
	mk("c0", day.Add(-2*time.Hour)) // before the day: not counted
	leave(join("c0", "ann", day.Add(-2*time.Hour), false), day.Add(-time.Hour))
	mk("c1", t0) // ann, two devices: 10 minutes
	p1 := join("c1", "ann", t0, false)
	p2 := join("c1", "ann", t0.Add(time.Minute), false)
	leave(p1, t0.Add(5*time.Minute))
	leave(p2, t0.Add(10*time.Minute))
	mk("c2", t0.Add(time.Hour)) // ann 2 minutes, bob sitting in (hidden: not his call)
	leave(join("c2", "ann", t0.Add(time.Hour), false), t0.Add(time.Hour+2*time.Minute))
	join("c2", "bob", t0.Add(time.Hour), true)
	mk("c3", t0.Add(2*time.Hour)) // ann now, with a guest
	join("c3", "ann", t0.Add(2*time.Hour), false)
	join("c3", "guest-1", t0.Add(2*time.Hour), false)

	st, err := s.CallStats(ctx, "o1", []string{"ann", "bob", "cid"}, day)
	if err != nil {
		t.Fatal(err)
	}
	if a := st["ann"]; a.Calls != 3 || a.Handled != 2 || a.AvgHandling != 6*time.Minute {
		t.Errorf("ann = %+v, want 3 calls, 2 handled, 6m average", a)
	}
	if _, ok := st["bob"]; ok || len(st) != 1 {
		t.Errorf("stats = %+v, want ann's only", st)
	}

	on, err := s.OngoingSessions(ctx, "o1", []string{"ann"})
	if err != nil {
		t.Fatal(err)
	}
	// c2 is open too (bob is still in it hidden) but ann left it.
	if len(on) != 1 || on[0].ID != "c3" || len(on[0].Participants) != 2 {
		t.Fatalf("ongoing = %+v", on)
	}
	if on, _ := s.OngoingSessions(ctx, "o1", []string{"bob"}); len(on) != 1 || on[0].ID != "c2" || !on[0].Participants[0].Hidden {
		t.Fatalf("bob's ongoing = %+v", on)
	}
	if on, _ := s.OngoingSessions(ctx, "o2", []string{"ann"}); len(on) != 0 {
		t.Fatalf("another organisation's = %+v", on)
	}
}
