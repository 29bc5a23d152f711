package sqlite

import (
	"context"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"siteline/storage"
)

// Migration 00011 ends the calls and service requests left open before
// calls ended on their own, at their last event's time, and leaves alone
// the ones the node itself still gives a grace period to.
func TestMigrationEndsStuckSessionsAtTheirLastEvent(t *testing.T) {
	s, _ := openTestStore(t)
	ctx := context.Background()
	now := time.Now().UTC().Truncate(time.Millisecond)
	session := func(id, kind, status string, started time.Time, events ...time.Time) {
		t.Helper()
		if err := s.CreateSession(ctx, storage.Session{ID: id, OrgID: "o1", SiteID: "s1", Kind: kind, Status: status, CreatedBy: "u1", StartedAt: started}); err != nil {
			t.Fatal(err)
		}
		for i, at := range events {
			ev := storage.SessionEvent{ID: fmt.Sprintf("%s-e%d", id, i), SessionID: id, At: at, Kind: storage.EventChat, Payload: []byte(`{"text":"hi"}`)}
			if err := s.AppendSessionEvent(ctx, ev); err != nil {
				t.Fatal(err)
			}
		}
	}
	quietCall := now.Add(-2 * time.Hour)
	session("quiet", storage.SessionConference, storage.SessionActive, now.Add(-3*time.Hour), now.Add(-150*time.Minute), quietCall)
	session("recent", storage.SessionConference, storage.SessionActive, now.Add(-3*time.Hour), now.Add(-10*time.Minute))
	emptyStart := now.Add(-5 * time.Hour)
	session("empty", storage.SessionConference, storage.SessionActive, emptyStart)
	oldRequest := now.Add(-25 * time.Hour)
	session("old-request", storage.SessionServiceRequest, storage.SessionRinging, oldRequest)
	session("new-request", storage.SessionServiceRequest, storage.SessionRinging, now.Add(-time.Hour))
	session("done", storage.SessionConference, storage.SessionActive, now.Add(-9*time.Hour), now.Add(-8*time.Hour))
	doneAt := now.Add(-7 * time.Hour)
	if err := s.EndSession(ctx, "done", doneAt, storage.SessionEvent{ID: "done-end", SessionID: "done", At: doneAt, Kind: storage.EventEnded, Payload: []byte(`{}`)}); err != nil {
		t.Fatal(err)
	}

	// Back to the schema before the migration, then up again: the rows
	// above are what a store of that time held.
	p, err := newMigrator(s.write, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.DownTo(ctx, 10); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Up(ctx); err != nil {
		t.Fatal(err)
	}

	for _, c := range []struct {
		id, status string
		endedAt    time.Time
		reason     string
	}{
		{"quiet", storage.SessionEnded, quietCall, "everyone left"},
		{"recent", storage.SessionActive, time.Time{}, ""},
		{"empty", storage.SessionEnded, emptyStart, "everyone left"},
		{"old-request", storage.SessionEnded, oldRequest, "nobody answered"},
		{"new-request", storage.SessionRinging, time.Time{}, ""},
		{"done", storage.SessionEnded, doneAt, ""},
	} {
		got, err := s.Session(ctx, c.id)
		if err != nil {
			t.Fatal(err)
		}
		if got.Status != c.status {
			t.Errorf("%s: status %q, want %q", c.id, got.Status, c.status)
		}
		switch {
		case c.endedAt.IsZero() && got.EndedAt != nil:
			t.Errorf("%s: ended at %v, want no end", c.id, got.EndedAt)
		case !c.endedAt.IsZero() && (got.EndedAt == nil || !got.EndedAt.Equal(c.endedAt)):
			t.Errorf("%s: ended at %v, want %v", c.id, got.EndedAt, c.endedAt)
		}
		events, err := s.SessionEvents(ctx, c.id)
		if err != nil {
			t.Fatal(err)
		}
		var ended []storage.SessionEvent
		for _, ev := range events {
			if ev.Kind == storage.EventEnded {
				ended = append(ended, ev)
			}
		}
		if c.status != storage.SessionEnded {
			if len(ended) != 0 {
				t.Errorf("%s: %d ended events on a session still open", c.id, len(ended))
			}
			continue
		}
		if len(ended) != 1 {
			t.Fatalf("%s: %d ended events, want 1", c.id, len(ended))
		}
		last := events[len(events)-1]
		if last.Kind != storage.EventEnded || !last.At.Equal(c.endedAt) {
			t.Errorf("%s: last event %s at %v, want ended at %v", c.id, last.Kind, last.At, c.endedAt)
		}
		if c.reason != "" && string(last.Payload) != fmt.Sprintf(`{"reason":%q}`, c.reason) {
			t.Errorf("%s: ended event payload %s, want reason %q", c.id, last.Payload, c.reason)
		}
	}
}
