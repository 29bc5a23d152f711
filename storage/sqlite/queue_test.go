package sqlite

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	"siteline/storage"
)

// The switches are organisation data: applied, refused alike on every
// node, carried by snapshots.
func TestQueueSwitchesApplyAndSnapshot(t *testing.T) {
	s, _ := openTestStore(t)
	ctx := context.Background()
	mustApply(t, s, 1, seed())
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	mustApply(t, s, 2, viaJSON(t, cmd(
		storage.Change{Op: storage.OpSetAutoAssign, AutoAssign: &storage.AutoAssign{OrgID: "o1", UserID: "u2", Off: true, By: "u1", At: at}},
		storage.Change{Op: storage.OpSetTeamQueue, TeamQueue: &storage.TeamQueue{OrgID: "o1", TeamID: "t1", Strategy: storage.StrategyLongestIdle}})))
	off, err := s.AutoAssignOff(ctx, "o1")
	if err != nil || len(off) != 1 || off[0].UserID != "u2" || !off[0].At.Equal(at) {
		t.Fatalf("auto-assign off = %+v, %v", off, err)
	}
	for i, bad := range []storage.Change{
		{Op: storage.OpSetAutoAssign, AutoAssign: &storage.AutoAssign{OrgID: "o1", UserID: "u9", Off: true, At: at}},      // another org's user
		{Op: storage.OpSetTeamQueue, TeamQueue: &storage.TeamQueue{OrgID: "o1", TeamID: "t1", Strategy: "random"}},        // bad strategy
		{Op: storage.OpSetTeamQueue, TeamQueue: &storage.TeamQueue{OrgID: "o1", TeamID: "nope", Strategy: "round-robin"}}, // no team
	} {
		if err := s.Apply(ctx, uint64(3+i), cmd(bad)); err == nil {
			t.Errorf("%s %+v applied", bad.Op, bad)
		}
	}
	var buf bytes.Buffer
	if err := s.Snapshot(ctx, &buf); err != nil {
		t.Fatal(err)
	}
	dst, _ := openTestStore(t)
	if err := dst.Restore(ctx, &buf); err != nil {
		t.Fatal(err)
	}
	if tq, err := dst.TeamQueues(ctx, "o1"); err != nil || len(tq) != 1 || tq[0].Strategy != storage.StrategyLongestIdle {
		t.Errorf("restored team queues = %+v, %v", tq, err)
	}
	if off, err := dst.AutoAssignOff(ctx, "o1"); err != nil || len(off) != 1 {
		t.Errorf("restored auto-assign = %+v, %v", off, err)
	}
}

// A queue entry is written with its call, offered, and taken out with
// the call given to the member who took it.
func TestQueueEntriesLifecycle(t *testing.T) {
	s, _ := openTestStore(t)
	ctx := context.Background()
	mustApply(t, s, 1, seed())
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	sess := storage.Session{ID: "call1", OrgID: "o1", SiteID: "s1", Kind: storage.SessionServiceRequest, Status: storage.SessionRinging, CreatedBy: "u1", StartedAt: at}
	if err := s.CreateSession(ctx, sess); err != nil {
		t.Fatal(err)
	}
	ev := func(id, kind string) storage.SessionEvent {
		return storage.SessionEvent{ID: id, SessionID: "call1", At: at, Kind: kind, ActorID: "system"}
	}
	e := storage.QueueEntry{SessionID: "call1", OrgID: "o1", TeamID: "t1", EnqueuedAt: at, EnqueuedBy: "u1"}
	if err := s.Enqueue(ctx, e, ev("e1", storage.EventQueued)); err != nil {
		t.Fatal(err)
	}
	if err := s.Enqueue(ctx, e, ev("e2", storage.EventQueued)); !errors.Is(err, storage.ErrConflict) {
		t.Fatalf("queued twice = %v, want a conflict", err)
	}
	exp := at.Add(20 * time.Second)
	e.OfferedTo, e.OfferExpires, e.Skipped = "u2", &exp, []string{"u3"}
	rot := storage.QueueRotation{TeamID: "t1", Last: "u2", LastTurns: map[string]time.Time{"u2": at}}
	if err := s.UpdateQueueEntry(ctx, e, ev("e3", storage.EventOffered), &rot); err != nil {
		t.Fatal(err)
	}
	got, err := s.QueueEntries(ctx, "t1")
	if err != nil || len(got) != 1 || got[0].OfferedTo != "u2" || !got[0].OfferExpires.Equal(exp) || len(got[0].Skipped) != 1 {
		t.Fatalf("entries = %+v, %v", got, err)
	}
	rots, err := s.QueueRotations(ctx)
	if err != nil || len(rots) != 1 || rots[0].Last != "u2" || !rots[0].LastTurns["u2"].Equal(at) {
		t.Fatalf("rotations = %+v, %v", rots, err)
	}
	assigned := ev("e4", storage.EventAssigned)
	if err := s.Dequeue(ctx, "call1", "u2", &assigned); err != nil {
		t.Fatal(err)
	}
	if err := s.Dequeue(ctx, "call1", "", nil); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("dequeued twice = %v, want not found", err)
	}
	if owned, err := s.OwnedSessions(ctx, "o1", "u2", storage.SessionServiceRequest); err != nil || len(owned) != 1 {
		t.Fatalf("u2 owns %+v, %v; want the call it took", owned, err)
	}
	evs, _ := s.SessionEvents(ctx, "call1")
	if len(evs) != 3 {
		t.Fatalf("session events = %+v, want queued, offered, assigned", evs)
	}
}
