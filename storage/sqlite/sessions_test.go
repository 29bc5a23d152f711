package sqlite

import (
	"context"
	"errors"
	"testing"
	"time"

	"siteline/storage"
)

func TestSessionsParticipantsEvents(t *testing.T) {
	s, _ := openTestStore(t)
	ctx := context.Background()
	sess := storage.Session{ID: "c1", OrgID: "o1", SiteID: "s1", Name: "Pump 4", Goal: "leak", CreatedBy: "u1", StartedAt: t0}
	if err := s.CreateSession(ctx, sess); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateSession(ctx, sess); !errors.Is(err, storage.ErrConflict) {
		t.Errorf("second CreateSession = %v, want conflict", err)
	}
	if err := s.CreateSession(ctx, storage.Session{ID: "c2", OrgID: "o1", StartedAt: t0}); !errors.Is(err, storage.ErrInvalid) {
		t.Errorf("CreateSession without site = %v, want invalid", err)
	}
	got, err := s.Session(ctx, "c1")
	if err != nil {
		t.Fatal(err)
	}
	if got.Name != "Pump 4" || got.Status != storage.SessionActive || got.Kind != storage.SessionConference || !got.StartedAt.Equal(t0) {
		t.Errorf("Session = %+v", got)
	}
	if _, err := s.Session(ctx, "nope"); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("Session(nope) = %v", err)
	}

	join := func(pid string, at time.Time) error {
		return s.RecordJoin(ctx, storage.SessionParticipant{ID: pid, SessionID: "c1", UserID: "u1", DisplayName: "Ann", JoinedAt: at},
			storage.SessionEvent{ID: "e-" + pid, SessionID: "c1", At: at, Kind: storage.EventJoined, ActorID: "u1", Payload: []byte(`{"participant":"` + pid + `"}`)})
	}
	if err := join("p1", t0.Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	if err := join("p2", t0.Add(2*time.Second)); err != nil {
		t.Fatal(err)
	}
	// A join into an unknown session changes nothing.
	err = s.RecordJoin(ctx, storage.SessionParticipant{ID: "p3", SessionID: "zz", UserID: "u1", JoinedAt: t0},
		storage.SessionEvent{ID: "e-p3", SessionID: "zz", At: t0, Kind: storage.EventJoined})
	if !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("join unknown session = %v, want not found", err)
	}
	left := storage.SessionEvent{ID: "l-p1", SessionID: "c1", At: t0.Add(3 * time.Second), Kind: storage.EventLeft, ActorID: "u1"}
	if err := s.RecordLeave(ctx, "p1", left.At, left); err != nil {
		t.Fatal(err)
	}
	left.ID = "l-p1-again"
	if err := s.RecordLeave(ctx, "p1", left.At, left); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("second leave = %v, want not found", err)
	}
	ps, err := s.SessionParticipants(ctx, "c1")
	if err != nil {
		t.Fatal(err)
	}
	if len(ps) != 2 || ps[0].ID != "p1" || ps[0].LeftAt == nil || ps[1].LeftAt != nil || ps[0].UserKind != storage.UserRegular {
		t.Errorf("participants = %+v", ps)
	}
	evs, err := s.SessionEvents(ctx, "c1")
	if err != nil {
		t.Fatal(err)
	}
	kinds := ""
	for i, e := range evs {
		if e.Seq != int64(i+1) {
			t.Errorf("event %d seq = %d", i, e.Seq)
		}
		kinds += e.Kind + " "
	}
	if kinds != "joined joined left " {
		t.Errorf("events = %q", kinds)
	}
}
