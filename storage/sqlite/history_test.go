package sqlite

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"siteline/storage"
)

// recordPlantHistory writes a session's life at a plant store: created,
// two joins, a chat, a leave, the end, and an audit event.
func recordPlantHistory(t *testing.T, s *Store, id string) {
	t.Helper()
	ctx := context.Background()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(s.CreateSession(ctx, storage.Session{ID: id, OrgID: "o1", SiteID: "plant", Name: "Pump", CreatedBy: "u1", StartedAt: t0}))
	for i, pid := range []string{"p1", "p2"} {
		at := t0.Add(time.Duration(i+1) * time.Second)
		must(s.RecordJoin(ctx, storage.SessionParticipant{ID: id + pid, SessionID: id, UserID: "u" + pid, DisplayName: pid, JoinedAt: at},
			storage.SessionEvent{ID: id + "-join-" + pid, SessionID: id, At: at, Kind: storage.EventJoined, ActorID: "u" + pid}))
	}
	must(s.AppendSessionEvent(ctx, storage.SessionEvent{ID: id + "-chat", SessionID: id, At: t0.Add(3 * time.Second),
		Kind: storage.EventChat, ActorID: "up1", Payload: []byte(`{"text":"hello"}`)}))
	must(s.RecordLeave(ctx, id+"p2", t0.Add(4*time.Second), storage.SessionEvent{ID: id + "-left", SessionID: id,
		At: t0.Add(4 * time.Second), Kind: storage.EventLeft, ActorID: "up2"}))
	must(s.EndSession(ctx, id, t0.Add(5*time.Second), storage.SessionEvent{ID: id + "-end", SessionID: id,
		At: t0.Add(5 * time.Second), Kind: storage.EventEnded, ActorID: "up1"}))
	must(s.AppendAudit(ctx, storage.AuditEvent{ID: id + "-audit", OrgID: "o1", SiteID: "plant", At: t0, ActorID: "u1", Action: "call.start", Target: id}))
}

// messagesOf turns a store's whole outbox into forwarded messages.
func messagesOf(t *testing.T, s *Store, origin string) []storage.HistoryMessage {
	t.Helper()
	rows, err := s.PendingHistory(context.Background(), 1000)
	if err != nil {
		t.Fatal(err)
	}
	var out []storage.HistoryMessage
	for _, r := range rows {
		out = append(out, storage.HistoryMessage{Origin: origin, Seq: r.Seq, Record: r.Record})
	}
	return out
}

// TestHistoryNotify: a commit that adds outbox records wakes the
// publisher, however many commits one wake-up stands for; a write that
// fails wakes nothing. What the outbox holds is the conformance suites'
// (TestSessionStore, TestHistoryOutbox, TestAudit).
func TestHistoryNotify(t *testing.T) {
	s, _ := openTestStore(t)
	ctx := context.Background()
	err := s.RecordJoin(ctx, storage.SessionParticipant{ID: "px", SessionID: "nope", UserID: "u", JoinedAt: t0},
		storage.SessionEvent{ID: "ex", SessionID: "nope", At: t0, Kind: storage.EventJoined})
	if !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("join unknown session = %v", err)
	}
	select {
	case <-s.HistoryNotify():
		t.Error("a failed write woke the publisher")
	default:
	}
	recordPlantHistory(t, s, "c1")
	select {
	case <-s.HistoryNotify():
	default:
		t.Error("no wake-up after history writes")
	}
	select {
	case <-s.HistoryNotify():
		t.Error("a second wake-up for the same commits")
	default:
	}
}

// TestHistorySinceAndEnqueue: a second reader of the outbox reads every
// record above its position, published or not, in order; records written
// elsewhere join the outbox once each, under new sequences, and wake the
// publisher.
func TestHistorySinceAndEnqueue(t *testing.T) {
	s, _ := openTestStore(t)
	ctx := context.Background()
	recordPlantHistory(t, s, "c1")
	all, err := s.HistorySince(ctx, 0, 1000)
	if err != nil || len(all) < 3 {
		t.Fatalf("HistorySince(0) = %d rows, %v", len(all), err)
	}
	for i := 1; i < len(all); i++ {
		if all[i].Seq <= all[i-1].Seq {
			t.Fatalf("rows out of order: %d after %d", all[i].Seq, all[i-1].Seq)
		}
	}
	if err := s.MarkHistoryPublished(ctx, all[1].Seq, t0); err != nil {
		t.Fatal(err)
	}
	rest, err := s.HistorySince(ctx, all[0].Seq, 2)
	if err != nil || len(rest) != 2 || rest[0].ID != all[1].ID || rest[0].PublishedAt == nil || rest[1].ID != all[2].ID {
		t.Fatalf("HistorySince(first, 2) = %+v, %v; want the 2nd (published) and 3rd records", rest, err)
	}
	if _, err := s.HistorySince(ctx, 0, 0); !errors.Is(err, storage.ErrInvalid) {
		t.Errorf("HistorySince with limit 0 = %v, want invalid", err)
	}

	<-s.HistoryNotify() // the wake-up of recordPlantHistory
	moved := []storage.HistoryOutboxRow{
		{ID: "pg-1", Kind: storage.HistoryFields, Record: []byte(`{"id":"pg-1","kind":"session.fields"}`), CreatedAt: t0},
		{ID: "pg-2", Kind: storage.HistoryFields, Record: []byte(`{"id":"pg-2","kind":"session.fields"}`), CreatedAt: t0},
	}
	if n, err := s.EnqueueHistory(ctx, moved); err != nil || n != 2 {
		t.Fatalf("EnqueueHistory = %d, %v; want 2 added", n, err)
	}
	select {
	case <-s.HistoryNotify():
	default:
		t.Error("enqueued records did not wake the publisher")
	}
	if n, err := s.EnqueueHistory(ctx, moved); err != nil || n != 0 {
		t.Fatalf("EnqueueHistory again = %d, %v; want 0 added", n, err)
	}
	tail, err := s.HistorySince(ctx, all[len(all)-1].Seq, 10)
	if err != nil || len(tail) != 2 || tail[0].ID != "pg-1" || tail[1].ID != "pg-2" || string(tail[1].Record) != string(moved[1].Record) {
		t.Fatalf("after enqueue, HistorySince = %+v, %v", tail, err)
	}
	last, _, _, err := s.HistoryCounts(ctx, 0)
	if err != nil || last != tail[1].Seq {
		t.Fatalf("last = %d, %v; want %d", last, err, tail[1].Seq)
	}
	if _, err := s.EnqueueHistory(ctx, []storage.HistoryOutboxRow{{ID: "bad", Record: []byte("{")}}); !errors.Is(err, storage.ErrInvalid) {
		t.Errorf("a record that is not JSON = %v, want invalid", err)
	}
}

func TestListSessionsFilters(t *testing.T) {
	s, _ := openTestStore(t)
	ctx := context.Background()
	for i, c := range []struct{ id, site, by string }{{"a", "s1", "u1"}, {"b", "s2", "u2"}, {"c", "s2", "u3"}} {
		if err := s.CreateSession(ctx, storage.Session{ID: c.id, OrgID: "o1", SiteID: c.site, CreatedBy: c.by,
			StartedAt: t0.Add(time.Duration(i) * time.Minute)}); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.RecordJoin(ctx, storage.SessionParticipant{ID: "p", SessionID: "c", UserID: "u1", JoinedAt: t0},
		storage.SessionEvent{ID: "e", SessionID: "c", At: t0, Kind: storage.EventJoined}); err != nil {
		t.Fatal(err)
	}
	ids := func(f storage.SessionFilter) []string {
		t.Helper()
		f.OrgID = "o1"
		list, err := s.ListSessions(ctx, f)
		if err != nil {
			t.Fatal(err)
		}
		out := []string{}
		for _, ss := range list {
			out = append(out, ss.ID)
		}
		return out
	}
	for _, c := range []struct {
		f    storage.SessionFilter
		want []string
	}{
		{storage.SessionFilter{}, []string{"c", "b", "a"}},
		{storage.SessionFilter{SiteID: "s2"}, []string{"c", "b"}},
		{storage.SessionFilter{UserID: "u1"}, []string{"c", "a"}},
		{storage.SessionFilter{SiteID: "s1", UserID: "u2"}, []string{}},
		{storage.SessionFilter{Limit: 1, Before: t0.Add(2 * time.Minute)}, []string{"b"}},
	} {
		if got := ids(c.f); !reflect.DeepEqual(got, c.want) {
			t.Errorf("ListSessions(%+v) = %v, want %v", c.f, got, c.want)
		}
	}
	if _, err := s.ListSessions(ctx, storage.SessionFilter{}); !errors.Is(err, storage.ErrInvalid) {
		t.Errorf("ListSessions without org = %v, want invalid", err)
	}
}

// TestApplyHistoryMediaRows: the media and recording rows a plant's events
// announce reach headquarters with the plant as their origin, once however
// often they are applied; a row that contradicts its record is refused.
func TestApplyHistoryMediaRows(t *testing.T) {
	plant, _ := openTestStore(t)
	hq, _ := openTestStore(t)
	ctx := context.Background()
	recordPlantHistory(t, plant, "c1")
	key := strings.Repeat("ab", 32)
	m := storage.Media{ID: "m1", SessionID: "c1", OrgID: "o1", Kind: storage.MediaSnapshot, Name: "snap.png", BlobKey: key,
		ContentType: "image/png", Size: 42, SHA256: key, Annotations: []byte(`{"strokes":[]}`), CreatedBy: "u1",
		Participant: "c1p1", Of: "c1p2", CreatedAt: t0.Add(time.Second)}
	if err := plant.AddMedia(ctx, m, storage.SessionEvent{ID: "ev-m1", SessionID: "c1", At: m.CreatedAt, Kind: storage.EventSnapshot}); err != nil {
		t.Fatal(err)
	}
	end := t0.Add(time.Minute)
	r := storage.Recording{ID: "r1", SessionID: "c1", OrgID: "o1", Name: "c1.webm", BlobKey: key, ContentType: "video/webm",
		Size: 42, SHA256: key, Status: storage.RecordingComplete, StartedBy: "u1", StartedAt: t0, EndedAt: &end,
		DurationMS: 60_000, Participant: "c1p1", Tracks: []string{"a"}}
	if err := plant.AddRecording(ctx, r, storage.SessionEvent{ID: "ev-r1", SessionID: "c1", At: end, Kind: storage.EventRecording}); err != nil {
		t.Fatal(err)
	}
	msgs := messagesOf(t, plant, "plant-1")
	for range 2 {
		if res, err := hq.ApplyHistory(ctx, msgs); err != nil || res.Applied != len(msgs) || len(res.Rejected) != 0 {
			t.Fatalf("apply = %+v %v", res, err)
		}
	}
	gotM, err := hq.Media(ctx, "m1")
	wantM, _ := plant.Media(ctx, "m1")
	wantM.Origin = "plant-1"
	if err != nil || !reflect.DeepEqual(gotM, wantM) {
		t.Errorf("media at headquarters = %+v %v, want %+v", gotM, err, wantM)
	}
	gotR, err := hq.Recording(ctx, "r1")
	wantR, _ := plant.Recording(ctx, "r1")
	wantR.Origin = "plant-1"
	if err != nil || !reflect.DeepEqual(gotR, wantR) {
		t.Errorf("recording at headquarters = %+v %v, want %+v", gotR, err, wantR)
	}

	// The snapshot's record, altered so it contradicts itself.
	var snapRec []byte
	for _, msg := range msgs {
		if strings.Contains(string(msg.Record), `"media":{`) {
			snapRec = msg.Record
		}
	}
	if snapRec == nil {
		t.Fatal("no record carries the media row")
	}
	other, _ := openTestStore(t)
	for i, alter := range []struct{ from, to string }{
		{`"sha256":"` + key + `"`, `"sha256":"../../etc/passwd"`},
		{`"kind":"snapshot","name"`, `"kind":"video","name"`},
		{`"media":{"id":"m1","session_id":"c1"`, `"media":{"id":"m1","session_id":"c2"`},
	} {
		bad := strings.Replace(string(snapRec), alter.from, alter.to, 1)
		if bad == string(snapRec) {
			t.Fatalf("alteration %d changed nothing in %s", i, snapRec)
		}
		res, err := other.ApplyHistory(ctx, []storage.HistoryMessage{{Origin: "plant-1", Seq: int64(i + 1), Record: []byte(bad)}})
		if err != nil || len(res.Rejected) != 1 {
			t.Errorf("altered record %d: %+v %v, want it rejected", i, res, err)
		}
	}
	if _, err := other.Media(ctx, "m1"); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("a rejected record left its media row: %v", err)
	}
}

// A take-over at a plant reaches headquarters: the forwarded history
// carries the new owner, in whichever order the records are applied.
func TestApplyHistoryCarriesTheOwnerChange(t *testing.T) {
	plant, _ := openTestStore(t)
	ctx := context.Background()
	if err := plant.CreateSession(ctx, storage.Session{ID: "c9", OrgID: "o1", SiteID: "plant", Name: "Pump", CreatedBy: "u1", StartedAt: t0}); err != nil {
		t.Fatal(err)
	}
	for i, owner := range []string{"lead", "other"} {
		kind := storage.EventTakenOver
		if i == 1 {
			kind = storage.EventTransfer
		}
		ev := storage.SessionEvent{ID: "own" + owner, SessionID: "c9", At: t0.Add(time.Duration(i+1) * time.Second),
			Kind: kind, ActorID: "lead", Payload: []byte(`{"owner":"` + owner + `","from":"u1"}`)}
		if err := plant.SetSessionOwner(ctx, "c9", owner, ev); err != nil {
			t.Fatal(err)
		}
	}
	if s, err := plant.Session(ctx, "c9"); err != nil || s.OwnerID != "other" || s.CreatedBy != "u1" {
		t.Fatalf("plant session = %+v, %v; want owner other, creator u1", s, err)
	}
	msgs := messagesOf(t, plant, "plant-1")
	backwards := make([]storage.HistoryMessage, len(msgs))
	for i, m := range msgs {
		backwards[len(msgs)-1-i] = m
	}
	for name, batch := range map[string][]storage.HistoryMessage{"forwards": msgs, "backwards": backwards} {
		hq, _ := openTestStore(t)
		if res, err := hq.ApplyHistory(ctx, batch); err != nil || len(res.Rejected) != 0 {
			t.Fatalf("%s: apply = %+v %v", name, res, err)
		}
		if s, err := hq.Session(ctx, "c9"); err != nil || s.OwnerID != "other" {
			t.Errorf("%s: headquarters session = %+v, %v; want owner other", name, s, err)
		}
	}
	ended := storage.SessionEvent{ID: "end9", SessionID: "c9", At: t0.Add(time.Minute), Kind: storage.EventEnded}
	if err := plant.EndSession(ctx, "c9", ended.At, ended); err != nil {
		t.Fatal(err)
	}
	late := storage.SessionEvent{ID: "late", SessionID: "c9", At: t0.Add(2 * time.Minute), Kind: storage.EventTakenOver}
	if err := plant.SetSessionOwner(ctx, "c9", "lead", late); !errors.Is(err, storage.ErrConflict) {
		t.Errorf("take over an ended session = %v, want conflict", err)
	}
}
