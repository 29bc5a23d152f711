package sqlite

import (
	"context"
	"errors"
	"testing"
	"time"

	"siteline/storage"
)

func TestAnswerSessionOnlyFromRinging(t *testing.T) {
	s, _ := openTestStore(t)
	ctx := context.Background()
	for _, ss := range []storage.Session{
		{ID: "ring", OrgID: "o1", SiteID: "s1", Kind: storage.SessionServiceRequest, Status: storage.SessionRinging, CreatedBy: "u1", StartedAt: t0},
		{ID: "conf", OrgID: "o1", SiteID: "s1", CreatedBy: "u1", StartedAt: t0},
	} {
		if err := s.CreateSession(ctx, ss); err != nil {
			t.Fatal(err)
		}
	}
	answer := func(id, evID string) error {
		return s.AnswerSession(ctx, storage.SessionEvent{ID: evID, SessionID: id, At: t0.Add(time.Minute), Kind: storage.EventAnswered, ActorID: "u1"})
	}
	if err := answer("ring", "a1"); err != nil {
		t.Fatalf("answer a ringing call: %v", err)
	}
	if got, err := s.Session(ctx, "ring"); err != nil || got.Status != storage.SessionActive {
		t.Fatalf("after answer = %+v, %v; want active", got, err)
	}
	if err := answer("ring", "a2"); !errors.Is(err, storage.ErrConflict) {
		t.Errorf("second answer = %v, want conflict", err)
	}
	if err := answer("conf", "a3"); !errors.Is(err, storage.ErrConflict) {
		t.Errorf("answer an active conference = %v, want conflict", err)
	}
	if err := answer("nope", "a4"); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("answer an unknown session = %v, want not found", err)
	}
	err := s.AnswerSession(ctx, storage.SessionEvent{ID: "a5", SessionID: "ring", At: t0, Kind: storage.EventChat})
	var ve *storage.ValidationError
	if !errors.As(err, &ve) || ve.Field != "event.kind" {
		t.Errorf("answer with a chat event = %v, want a validation error on event.kind", err)
	}
	evs, err := s.SessionEvents(ctx, "ring")
	if err != nil || len(evs) != 1 || evs[0].Kind != storage.EventAnswered || evs[0].ID != "a1" {
		t.Errorf("events = %+v, %v; want the one answered event", evs, err)
	}
	if guests, err := s.SessionGuests(ctx, "ring"); err != nil || len(guests) != 0 {
		t.Errorf("guests = %+v, %v", guests, err)
	}
}
