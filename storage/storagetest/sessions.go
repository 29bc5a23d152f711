// Package storagetest holds the behaviour every storage backend must show,
// as tests the backends' own packages run against a real database of
// theirs: storage/sqlite on a SQLite file, storage/postgres on a
// PostgreSQL server. A behaviour tested here is the same on both, so
// headquarters can move its history from one to the other. It is for
// tests only: no package of the binaries imports it.
package storagetest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"sync"
	"testing"
	"time"

	"siteline/storage"
)

// SessionBackend is what SessionStore drives: the session store and the
// history outbox its writes fill.
type SessionBackend interface {
	storage.SessionStore
	PendingHistory(ctx context.Context, limit int) ([]storage.HistoryOutboxRow, error)
}

// t0 has nanoseconds on purpose: times must survive storage exactly.
var t0 = time.Date(2025, 3, 1, 8, 30, 0, 123456789, time.UTC)

// SessionStore tests storage.SessionStore. open returns a new, empty
// store for each subtest, closed when that subtest ends.
func SessionStore(t *testing.T, open func(t *testing.T) SessionBackend) {
	for _, tc := range []struct {
		name string
		test func(t *testing.T, s SessionBackend)
	}{
		{"Lifecycle", sessionLifecycle},
		{"RoundTrip", sessionRoundTrip},
		{"Invalid", sessionInvalid},
		{"End", sessionEnd},
		{"Conflicts", sessionConflicts},
		{"Outbox", sessionOutbox},
		{"ConcurrentAppends", sessionConcurrentAppends},
		{"ParticipantOrder", sessionParticipantOrder},
	} {
		t.Run(tc.name, func(t *testing.T) { tc.test(t, open(t)) })
	}
}

// sessionLifecycle: a session is created once, participants join and
// leave, and the events come back in order with their sequence numbers.
func sessionLifecycle(t *testing.T, s SessionBackend) {
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
	if got.OwnerID != "u1" {
		t.Errorf("owner = %q, want the creator u1", got.OwnerID)
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
	if ps := participants(t, s, "zz"); len(ps) != 0 {
		t.Errorf("participants of an unknown session = %+v", ps)
	}
	left := storage.SessionEvent{ID: "l-p1", SessionID: "c1", At: t0.Add(3 * time.Second), Kind: storage.EventLeft, ActorID: "u1"}
	if err := s.RecordLeave(ctx, "p1", left.At, left); err != nil {
		t.Fatal(err)
	}
	left.ID = "l-p1-again"
	if err := s.RecordLeave(ctx, "p1", left.At, left); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("second leave = %v, want not found", err)
	}
	left.ID = "l-nobody"
	if err := s.RecordLeave(ctx, "nobody", left.At, left); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("leave of an unknown participant = %v, want not found", err)
	}
	ps := participants(t, s, "c1")
	if len(ps) != 2 || ps[0].ID != "p1" || ps[0].LeftAt == nil || ps[1].LeftAt != nil || ps[0].UserKind != storage.UserRegular {
		t.Errorf("participants = %+v", ps)
	} else if !ps[0].LeftAt.Equal(t0.Add(3 * time.Second)) {
		t.Errorf("p1 left at %s, want %s", ps[0].LeftAt, t0.Add(3*time.Second))
	}
	evs := events(t, s, "c1")
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
	if evs := events(t, s, "zz"); len(evs) != 0 {
		t.Errorf("events of an unknown session = %+v", evs)
	}
}

// sessionRoundTrip: every field written reads back as it was, times to the
// nanosecond in UTC, payloads byte for byte.
func sessionRoundTrip(t *testing.T, s SessionBackend) {
	ctx := context.Background()
	paris := time.FixedZone("CET", 3600)
	started := time.Date(2025, 6, 1, 10, 0, 0, 987654321, paris)
	sess := storage.Session{ID: "c1", OrgID: "o1", SiteID: "s1", Kind: storage.SessionServiceRequest,
		Name: "Pompe n° 4 — fuite", Goal: "étanchéité 🔧", Status: storage.SessionRinging, CreatedBy: "u1",
		OwnerID: "u2", TeamID: "t1", StartedAt: started}
	if err := s.CreateSession(ctx, sess); err != nil {
		t.Fatal(err)
	}
	got, err := s.Session(ctx, "c1")
	if err != nil {
		t.Fatal(err)
	}
	want := sess
	want.StartedAt = started.UTC()
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Session =\n %+v, want\n %+v", got, want)
	}

	joined := started.Add(1500 * time.Nanosecond)
	p := storage.SessionParticipant{ID: "p1", SessionID: "c1", UserID: "g1", DisplayName: "Bob Ø", UserKind: storage.UserGuestMobile,
		DeviceKind: "mobile_web", Hidden: true, JoinedAt: joined}
	// Key order and spacing are kept: the payload is stored as written.
	payload := `{"z": 1, "a": [true, null, "ü"],  "m": {"k": 1.50}}`
	if err := s.RecordJoin(ctx, p, storage.SessionEvent{ID: "e1", SessionID: "c1", At: joined, Kind: storage.EventJoined,
		ActorID: "g1", Payload: json.RawMessage(payload)}); err != nil {
		t.Fatal(err)
	}
	// An empty payload is stored as {}.
	if err := s.AppendSessionEvent(ctx, storage.SessionEvent{ID: "e2", SessionID: "c1", At: joined.Add(time.Nanosecond),
		Kind: storage.EventChat, ActorID: "g1"}); err != nil {
		t.Fatal(err)
	}
	wantP := p
	wantP.JoinedAt = joined.UTC()
	if ps := participants(t, s, "c1"); len(ps) != 1 || !reflect.DeepEqual(ps[0], wantP) {
		t.Errorf("participants =\n %+v, want\n %+v", ps, wantP)
	}
	wantEvs := []storage.SessionEvent{
		{ID: "e1", SessionID: "c1", Seq: 1, At: joined.UTC(), Kind: storage.EventJoined, ActorID: "g1", Payload: json.RawMessage(payload)},
		{ID: "e2", SessionID: "c1", Seq: 2, At: joined.Add(time.Nanosecond).UTC(), Kind: storage.EventChat, ActorID: "g1", Payload: json.RawMessage(`{}`)},
	}
	if evs := events(t, s, "c1"); !reflect.DeepEqual(evs, wantEvs) {
		t.Errorf("events =\n %+v, want\n %+v", evs, wantEvs)
	}
}

// sessionInvalid: each malformed write fails with a ValidationError naming
// its field and changes nothing, not even half of a two-row write.
func sessionInvalid(t *testing.T, s SessionBackend) {
	ctx := context.Background()
	if err := s.CreateSession(ctx, storage.Session{ID: "c1", OrgID: "o1", SiteID: "s1", StartedAt: t0}); err != nil {
		t.Fatal(err)
	}
	if err := s.RecordJoin(ctx, storage.SessionParticipant{ID: "p1", SessionID: "c1", UserID: "u1", JoinedAt: t0},
		storage.SessionEvent{ID: "e1", SessionID: "c1", At: t0, Kind: storage.EventJoined}); err != nil {
		t.Fatal(err)
	}
	before := snapshot(t, s, "c1")
	okSession := storage.Session{ID: "c2", OrgID: "o1", SiteID: "s1", StartedAt: t0}
	okP := storage.SessionParticipant{ID: "p2", SessionID: "c1", UserID: "u2", JoinedAt: t0}
	okEv := storage.SessionEvent{ID: "e2", SessionID: "c1", At: t0, Kind: storage.EventChat}
	far := time.Date(2300, 1, 1, 0, 0, 0, 0, time.UTC) // beyond int64 nanoseconds
	with := func(f func(*storage.SessionEvent)) storage.SessionEvent { ev := okEv; f(&ev); return ev }
	withP := func(f func(*storage.SessionParticipant)) storage.SessionParticipant { p := okP; f(&p); return p }
	withS := func(f func(*storage.Session)) storage.Session { ss := okSession; f(&ss); return ss }
	for _, tc := range []struct {
		name  string
		field string // "" when only ErrInvalid is promised
		write func() error
	}{
		{"session without id", "session.id", func() error { return s.CreateSession(ctx, withS(func(ss *storage.Session) { ss.ID = "" })) }},
		{"session without org", "session.org_id", func() error { return s.CreateSession(ctx, withS(func(ss *storage.Session) { ss.OrgID = "" })) }},
		{"session without site", "session.site_id", func() error { return s.CreateSession(ctx, withS(func(ss *storage.Session) { ss.SiteID = "" })) }},
		{"session without start", "session.started_at", func() error {
			return s.CreateSession(ctx, withS(func(ss *storage.Session) { ss.StartedAt = time.Time{} }))
		}},
		{"session started out of range", "time", func() error { return s.CreateSession(ctx, withS(func(ss *storage.Session) { ss.StartedAt = far })) }},
		{"session of unknown kind", "", func() error { return s.CreateSession(ctx, withS(func(ss *storage.Session) { ss.Kind = "party" })) }},
		{"session of unknown status", "", func() error { return s.CreateSession(ctx, withS(func(ss *storage.Session) { ss.Status = "paused" })) }},
		{"join without id", "participant.id", func() error { return s.RecordJoin(ctx, withP(func(p *storage.SessionParticipant) { p.ID = "" }), okEv) }},
		{"join without session", "participant.session_id", func() error {
			return s.RecordJoin(ctx, withP(func(p *storage.SessionParticipant) { p.SessionID = "" }), okEv)
		}},
		{"join without user", "participant.user_id", func() error {
			return s.RecordJoin(ctx, withP(func(p *storage.SessionParticipant) { p.UserID = "" }), okEv)
		}},
		{"join without time", "participant.joined_at", func() error {
			return s.RecordJoin(ctx, withP(func(p *storage.SessionParticipant) { p.JoinedAt = time.Time{} }), okEv)
		}},
		{"join with another session's event", "event.session_id", func() error {
			return s.RecordJoin(ctx, okP, with(func(ev *storage.SessionEvent) { ev.SessionID = "c9" }))
		}},
		// The participant row is written before the event is checked: the
		// transaction must undo it.
		{"join with an event without id", "event.id", func() error { return s.RecordJoin(ctx, okP, with(func(ev *storage.SessionEvent) { ev.ID = "" })) }},
		{"join with an event without kind", "event.kind", func() error {
			return s.RecordJoin(ctx, okP, with(func(ev *storage.SessionEvent) { ev.Kind = "" }))
		}},
		{"join with an event without time", "event.at", func() error {
			return s.RecordJoin(ctx, okP, with(func(ev *storage.SessionEvent) { ev.At = time.Time{} }))
		}},
		{"join with a payload not JSON", "event.payload", func() error {
			return s.RecordJoin(ctx, okP, with(func(ev *storage.SessionEvent) { ev.Payload = []byte(`{"a":`) }))
		}},
		{"leave without time", "participant.left_at", func() error { return s.RecordLeave(ctx, "p1", time.Time{}, okEv) }},
		{"leave with an event without kind", "event.kind", func() error {
			return s.RecordLeave(ctx, "p1", t0.Add(time.Second), with(func(ev *storage.SessionEvent) { ev.Kind = "" }))
		}},
		{"leave out of range", "time", func() error { return s.RecordLeave(ctx, "p1", far, okEv) }},
		{"event without id", "event.id", func() error { return s.AppendSessionEvent(ctx, with(func(ev *storage.SessionEvent) { ev.ID = "" })) }},
		{"event without kind", "event.kind", func() error { return s.AppendSessionEvent(ctx, with(func(ev *storage.SessionEvent) { ev.Kind = "" })) }},
		{"event without time", "event.at", func() error {
			return s.AppendSessionEvent(ctx, with(func(ev *storage.SessionEvent) { ev.At = time.Time{} }))
		}},
		{"event with a payload not JSON", "event.payload", func() error {
			return s.AppendSessionEvent(ctx, with(func(ev *storage.SessionEvent) { ev.Payload = []byte(`not json`) }))
		}},
		{"event out of range", "time", func() error { return s.AppendSessionEvent(ctx, with(func(ev *storage.SessionEvent) { ev.At = far })) }},
		{"end without time", "session.ended_at", func() error { return s.EndSession(ctx, "c1", time.Time{}, okEv) }},
		{"end with another session's event", "event.session_id", func() error {
			return s.EndSession(ctx, "c1", t0, with(func(ev *storage.SessionEvent) { ev.SessionID = "c9" }))
		}},
		// The session is marked ended before the event is checked: the
		// transaction must undo it.
		{"end with an event without id", "event.id", func() error {
			return s.EndSession(ctx, "c1", t0.Add(time.Minute), with(func(ev *storage.SessionEvent) { ev.ID = "" }))
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.write()
			if !errors.Is(err, storage.ErrInvalid) {
				t.Fatalf("err = %v, want invalid", err)
			}
			if tc.field != "" {
				var ve *storage.ValidationError
				if !errors.As(err, &ve) || ve.Field != tc.field {
					t.Errorf("err = %v, want a ValidationError of field %s", err, tc.field)
				}
			}
			if after := snapshot(t, s, "c1"); !reflect.DeepEqual(after, before) {
				t.Errorf("the failed write changed the store:\n before %+v\n after  %+v", before, after)
			}
			if _, err := s.Session(ctx, "c2"); !errors.Is(err, storage.ErrNotFound) {
				t.Errorf("session c2 after a failed create: %v", err)
			}
		})
	}
	if _, err := s.PendingHistory(ctx, 0); !errors.Is(err, storage.ErrInvalid) {
		t.Errorf("PendingHistory(0) = %v, want invalid", err)
	}
}

// sessionEnd: ending sets the status and end time and appends the event;
// a session ends once; events go to existing sessions only.
func sessionEnd(t *testing.T, s SessionBackend) {
	ctx := context.Background()
	if err := s.CreateSession(ctx, storage.Session{ID: "c1", OrgID: "o1", SiteID: "s1", StartedAt: t0}); err != nil {
		t.Fatal(err)
	}
	chat := storage.SessionEvent{ID: "chat1", SessionID: "c1", At: t0.Add(time.Second), Kind: storage.EventChat, ActorID: "u1",
		Payload: json.RawMessage(`{"text":"hello"}`)}
	if err := s.AppendSessionEvent(ctx, chat); err != nil {
		t.Fatal(err)
	}
	ghost := chat
	ghost.ID, ghost.SessionID = "chat2", "zz"
	if err := s.AppendSessionEvent(ctx, ghost); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("event of an unknown session = %v, want not found", err)
	}
	end := t0.Add(time.Hour + time.Nanosecond)
	ended := storage.SessionEvent{ID: "end1", SessionID: "c1", At: end, Kind: storage.EventEnded, ActorID: "u1"}
	if err := s.EndSession(ctx, "c1", end, ended); err != nil {
		t.Fatal(err)
	}
	got, err := s.Session(ctx, "c1")
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != storage.SessionEnded || got.EndedAt == nil || !got.EndedAt.Equal(end) || got.EndedAt.Location() != time.UTC {
		t.Errorf("ended session = %+v", got)
	}
	ended.ID = "end2"
	if err := s.EndSession(ctx, "c1", end.Add(time.Minute), ended); !errors.Is(err, storage.ErrConflict) {
		t.Errorf("second end = %v, want conflict", err)
	}
	if got2, _ := s.Session(ctx, "c1"); got2.EndedAt == nil || !got2.EndedAt.Equal(end) {
		t.Errorf("the second end moved the end time: %+v", got2)
	}
	ghostEnd := ended
	ghostEnd.ID, ghostEnd.SessionID = "end3", "zz"
	if err := s.EndSession(ctx, "zz", end, ghostEnd); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("end of an unknown session = %v, want not found", err)
	}
	evs := events(t, s, "c1")
	if len(evs) != 2 || evs[0].ID != "chat1" || evs[1].ID != "end1" || evs[1].Seq != 2 || evs[1].Kind != storage.EventEnded {
		t.Errorf("events = %+v", evs)
	}
}

// sessionConflicts: an id already used is a conflict and the write that
// tried it leaves nothing behind.
func sessionConflicts(t *testing.T, s SessionBackend) {
	ctx := context.Background()
	if err := s.CreateSession(ctx, storage.Session{ID: "c1", OrgID: "o1", SiteID: "s1", StartedAt: t0}); err != nil {
		t.Fatal(err)
	}
	if err := s.RecordJoin(ctx, storage.SessionParticipant{ID: "p1", SessionID: "c1", UserID: "u1", JoinedAt: t0},
		storage.SessionEvent{ID: "e1", SessionID: "c1", At: t0, Kind: storage.EventJoined}); err != nil {
		t.Fatal(err)
	}
	before := snapshot(t, s, "c1")
	// The participant id is taken.
	err := s.RecordJoin(ctx, storage.SessionParticipant{ID: "p1", SessionID: "c1", UserID: "u2", JoinedAt: t0},
		storage.SessionEvent{ID: "e2", SessionID: "c1", At: t0, Kind: storage.EventJoined})
	if !errors.Is(err, storage.ErrConflict) {
		t.Errorf("join with a participant id taken = %v, want conflict", err)
	}
	// The event id is taken: the new participant row goes too.
	err = s.RecordJoin(ctx, storage.SessionParticipant{ID: "p2", SessionID: "c1", UserID: "u2", JoinedAt: t0},
		storage.SessionEvent{ID: "e1", SessionID: "c1", At: t0, Kind: storage.EventJoined})
	if !errors.Is(err, storage.ErrConflict) {
		t.Errorf("join with an event id taken = %v, want conflict", err)
	}
	if err := s.AppendSessionEvent(ctx, storage.SessionEvent{ID: "e1", SessionID: "c1", At: t0, Kind: storage.EventChat}); !errors.Is(err, storage.ErrConflict) {
		t.Errorf("event with an id taken = %v, want conflict", err)
	}
	// The leave's event id is taken: the participant stays in.
	err = s.RecordLeave(ctx, "p1", t0.Add(time.Second), storage.SessionEvent{ID: "e1", SessionID: "c1", At: t0, Kind: storage.EventLeft})
	if !errors.Is(err, storage.ErrConflict) {
		t.Errorf("leave with an event id taken = %v, want conflict", err)
	}
	if after := snapshot(t, s, "c1"); !reflect.DeepEqual(after, before) {
		t.Errorf("failed writes changed the store:\n before %+v\n after  %+v", before, after)
	}
}

// sessionOutbox: every write adds one record to the outbox, in commit
// order, carrying the session as it stood after the write and the
// participant and event it wrote.
func sessionOutbox(t *testing.T, s SessionBackend) {
	ctx := context.Background()
	if err := s.CreateSession(ctx, storage.Session{ID: "c1", OrgID: "o1", SiteID: "s1", CreatedBy: "u1", StartedAt: t0}); err != nil {
		t.Fatal(err)
	}
	p := storage.SessionParticipant{ID: "p1", SessionID: "c1", UserID: "u1", DisplayName: "Ann", JoinedAt: t0.Add(time.Second)}
	if err := s.RecordJoin(ctx, p, storage.SessionEvent{ID: "j1", SessionID: "c1", At: p.JoinedAt, Kind: storage.EventJoined, ActorID: "u1"}); err != nil {
		t.Fatal(err)
	}
	if err := s.AppendSessionEvent(ctx, storage.SessionEvent{ID: "m1", SessionID: "c1", At: t0.Add(2 * time.Second), Kind: storage.EventChat,
		ActorID: "u1", Payload: json.RawMessage(`{"text":"hi"}`)}); err != nil {
		t.Fatal(err)
	}
	leftAt := t0.Add(3 * time.Second)
	if err := s.RecordLeave(ctx, "p1", leftAt, storage.SessionEvent{ID: "l1", SessionID: "c1", At: leftAt, Kind: storage.EventLeft, ActorID: "u1"}); err != nil {
		t.Fatal(err)
	}
	endAt := t0.Add(4 * time.Second)
	if err := s.EndSession(ctx, "c1", endAt, storage.SessionEvent{ID: "x1", SessionID: "c1", At: endAt, Kind: storage.EventEnded, ActorID: "u1"}); err != nil {
		t.Fatal(err)
	}
	// Failed writes add nothing.
	_ = s.EndSession(ctx, "c1", endAt, storage.SessionEvent{ID: "x2", SessionID: "c1", At: endAt, Kind: storage.EventEnded})
	_ = s.AppendSessionEvent(ctx, storage.SessionEvent{ID: "m2", SessionID: "zz", At: endAt, Kind: storage.EventChat})

	rows, err := s.PendingHistory(ctx, 100)
	if err != nil {
		t.Fatal(err)
	}
	want := []struct {
		id, kind, status string
		at               time.Time
		participant      bool
		left             bool
	}{
		{"c1", storage.HistorySessionCreated, storage.SessionActive, t0, false, false},
		{"j1", storage.HistoryJoined, storage.SessionActive, p.JoinedAt, true, false},
		{"m1", storage.HistoryEvent, storage.SessionActive, t0.Add(2 * time.Second), false, false},
		{"l1", storage.HistoryLeft, storage.SessionActive, leftAt, true, true},
		{"x1", storage.HistorySessionEnded, storage.SessionEnded, endAt, false, false},
	}
	if len(rows) != len(want) {
		t.Fatalf("outbox holds %d records, want %d: %+v", len(rows), len(want), rows)
	}
	for i, w := range want {
		row := rows[i]
		if i > 0 && row.Seq <= rows[i-1].Seq {
			t.Errorf("record %s has seq %d after %d", row.ID, row.Seq, rows[i-1].Seq)
		}
		if row.ID != w.id || row.Kind != w.kind || !row.CreatedAt.Equal(w.at) {
			t.Errorf("record %d = %s %s at %s, want %s %s at %s", i, row.ID, row.Kind, row.CreatedAt, w.id, w.kind, w.at)
		}
		var rec storage.HistoryRecord
		if err := json.Unmarshal(row.Record, &rec); err != nil {
			t.Fatalf("record %s: %v", row.ID, err)
		}
		if rec.ID != w.id || rec.Kind != w.kind || rec.Session == nil || rec.Session.ID != "c1" || rec.Session.Status != w.status {
			t.Errorf("record %s = %+v (session %+v)", row.ID, rec, rec.Session)
			continue
		}
		if (rec.Participant != nil) != w.participant || (w.left && (rec.Participant.LeftAt == nil || !rec.Participant.LeftAt.Equal(leftAt))) {
			t.Errorf("record %s carries participant %+v", row.ID, rec.Participant)
		}
		if w.kind == storage.HistorySessionCreated {
			if rec.Event != nil {
				t.Errorf("record %s carries event %+v", row.ID, rec.Event)
			}
		} else if rec.Event == nil || rec.Event.ID != w.id || rec.Event.SessionID != "c1" || rec.Event.Seq != int64(i) {
			t.Errorf("record %s carries event %+v", row.ID, rec.Event)
		}
	}
	if rows, err := s.PendingHistory(ctx, 2); err != nil || len(rows) != 2 || rows[1].ID != "j1" {
		t.Errorf("PendingHistory(2) = %+v, %v", rows, err)
	}
}

// sessionConcurrentAppends: events appended at once to one session all
// land, numbered 1..n without a gap or a repeat, each with its record.
func sessionConcurrentAppends(t *testing.T, s SessionBackend) {
	ctx := context.Background()
	if err := s.CreateSession(ctx, storage.Session{ID: "c1", OrgID: "o1", SiteID: "s1", StartedAt: t0}); err != nil {
		t.Fatal(err)
	}
	const n = 24
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- s.AppendSessionEvent(ctx, storage.SessionEvent{ID: fmt.Sprintf("m%02d", i), SessionID: "c1",
				At: t0.Add(time.Duration(i) * time.Millisecond), Kind: storage.EventChat})
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	evs := events(t, s, "c1")
	if len(evs) != n {
		t.Fatalf("%d events, want %d", len(evs), n)
	}
	ids := map[string]bool{}
	for i, ev := range evs {
		if ev.Seq != int64(i+1) {
			t.Errorf("event %d has seq %d", i, ev.Seq)
		}
		ids[ev.ID] = true
	}
	rows, err := s.PendingHistory(ctx, 1000)
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != n+1 || len(ids) != n {
		t.Errorf("%d records for %d distinct events", len(rows), len(ids))
	}
	// A record's event carries the seq it was given: records in outbox
	// order are events in seq order, since the appends committed one at a
	// time.
	for i, row := range rows[1:] {
		var rec storage.HistoryRecord
		if err := json.Unmarshal(row.Record, &rec); err != nil {
			t.Fatal(err)
		}
		if rec.Event == nil || rec.Event.Seq != int64(i+1) {
			t.Errorf("record %d (seq %d) carries event %+v", i+1, row.Seq, rec.Event)
		}
	}
}

// sessionParticipantOrder: participants list by join time, those who
// joined at the same instant by id, byte by byte (upper case first),
// whatever the database's collation.
func sessionParticipantOrder(t *testing.T, s SessionBackend) {
	ctx := context.Background()
	if err := s.CreateSession(ctx, storage.Session{ID: "c1", OrgID: "o1", SiteID: "s1", StartedAt: t0}); err != nil {
		t.Fatal(err)
	}
	for i, pid := range []string{"b", "a", "B", "_x", "z"} {
		at := t0
		if pid == "z" {
			at = t0.Add(-time.Second)
		}
		if err := s.RecordJoin(ctx, storage.SessionParticipant{ID: pid, SessionID: "c1", UserID: "u1", JoinedAt: at},
			storage.SessionEvent{ID: fmt.Sprintf("e%d", i), SessionID: "c1", At: at, Kind: storage.EventJoined}); err != nil {
			t.Fatal(err)
		}
	}
	var ids []string
	for _, p := range participants(t, s, "c1") {
		ids = append(ids, p.ID)
	}
	if want := []string{"z", "B", "_x", "a", "b"}; !reflect.DeepEqual(ids, want) {
		t.Errorf("participants in order %v, want %v", ids, want)
	}
}

// state is what a session's failed write must leave as it was.
type state struct {
	Session      storage.Session
	Participants []storage.SessionParticipant
	Events       []storage.SessionEvent
	Outbox       []storage.HistoryOutboxRow
}

func snapshot(t *testing.T, s SessionBackend, id string) state {
	t.Helper()
	ss, err := s.Session(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	outbox, err := s.PendingHistory(context.Background(), 1000)
	if err != nil {
		t.Fatal(err)
	}
	return state{ss, participants(t, s, id), events(t, s, id), outbox}
}

func participants(t *testing.T, s SessionBackend, id string) []storage.SessionParticipant {
	t.Helper()
	ps, err := s.SessionParticipants(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return ps
}

func events(t *testing.T, s SessionBackend, id string) []storage.SessionEvent {
	t.Helper()
	evs, err := s.SessionEvents(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return evs
}
