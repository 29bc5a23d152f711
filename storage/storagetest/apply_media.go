package storagetest

import (
	"context"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"siteline/storage"
)

// mediaPlant is what a plant forwards about its session c1's media: its
// session's records (recordSession), snapshot m1 and file m2 over one
// blob, recording r1, and the deletions of m1 and r1, as records its
// outbox would carry.
type mediaPlant struct {
	key, rkey     string
	m1, m2        storage.Media
	r1            storage.Recording
	dm1, dr1      storage.MediaDeletion
	session       []storage.HistoryMessage // the session's life
	rows          []storage.HistoryMessage // m1, m2, r1
	deletions     []storage.HistoryMessage // m1's deletion, r1's deletion
	deletionAudit storage.HistoryMessage
}

func newMediaPlant(t *testing.T, open func(t *testing.T) ApplierBackend) mediaPlant {
	t.Helper()
	plant := open(t)
	recordSession(t, plant, "c1")
	ss, err := plant.Session(context.Background(), "c1")
	if err != nil {
		t.Fatal(err)
	}
	p := mediaPlant{key: strings.Repeat("ab", 32), rkey: strings.Repeat("cd", 32), session: messagesOf(t, plant, "plant-1")}
	p.m1 = storage.Media{ID: "m1", SessionID: "c1", OrgID: "o1", Kind: storage.MediaSnapshot, Name: "snap.png", ContentType: "image/png",
		Size: 42, SHA256: p.key, Annotations: json.RawMessage(`{"strokes":[{"c":"#f00","p":[1,2]}]}`), CreatedBy: "u1",
		Participant: "c1p1", Of: "c1p2", CreatedAt: t0.Add(time.Second + time.Nanosecond)}
	p.m2 = storage.Media{ID: "m2", SessionID: "c1", OrgID: "o1", Kind: storage.MediaFile, Name: "manual.pdf", ContentType: "application/pdf",
		Size: 42, SHA256: p.key, CreatedBy: "u1", Participant: "c1p1", CreatedAt: t0.Add(2 * time.Second)}
	end := t0.Add(time.Minute)
	p.r1 = storage.Recording{ID: "r1", SessionID: "c1", OrgID: "o1", Name: "c1.webm", ContentType: "video/webm", Size: 4200,
		SHA256: p.rkey, Status: storage.RecordingComplete, StartedBy: "u1", StartedAt: t0, EndedAt: &end, DurationMS: 60_000,
		Participant: "c1p1", Tracks: []string{"audio", "video"}}
	seq := int64(len(p.session))
	evSeq := int64(5) // recordSession's session holds five events
	record := func(rec storage.HistoryRecord, kind string, at time.Time) storage.HistoryMessage {
		seq++
		evSeq++
		rec.Session = &ss
		rec.Event = &storage.SessionEvent{ID: rec.ID, SessionID: "c1", Seq: evSeq, At: at, Kind: kind, ActorID: "u1",
			Payload: json.RawMessage(`{"n":1}`)}
		body, err := json.Marshal(rec)
		if err != nil {
			t.Fatal(err)
		}
		return storage.HistoryMessage{Origin: "plant-1", Seq: seq, Record: body}
	}
	p.rows = []storage.HistoryMessage{
		record(storage.HistoryRecord{ID: "ev-m1", Kind: storage.HistoryEvent, Media: &p.m1}, storage.EventSnapshot, p.m1.CreatedAt),
		record(storage.HistoryRecord{ID: "ev-m2", Kind: storage.HistoryEvent, Media: &p.m2}, storage.EventSnapshot, p.m2.CreatedAt),
		record(storage.HistoryRecord{ID: "ev-r1", Kind: storage.HistoryEvent, Recording: &p.r1}, storage.EventRecording, end),
	}
	p.dm1 = storage.MediaDeletion{What: storage.DeletedMedia, ID: "m1", SessionID: "c1", OrgID: "o1", Kind: storage.MediaSnapshot,
		Name: "snap.png", SHA256: p.key, At: t0.Add(time.Hour), By: "u9", ByName: "Nine"}
	p.dr1 = storage.MediaDeletion{What: storage.DeletedRecording, ID: "r1", SessionID: "c1", OrgID: "o1", Kind: "recording",
		Name: "c1.webm", SHA256: p.rkey, At: t0.Add(2 * time.Hour), By: "u9"}
	p.deletions = []storage.HistoryMessage{
		record(storage.HistoryRecord{ID: "del-m1", Kind: storage.HistoryMediaDeleted, Deletion: &p.dm1}, storage.EventMediaDeleted, p.dm1.At),
		record(storage.HistoryRecord{ID: "del-r1", Kind: storage.HistoryMediaDeleted, Deletion: &p.dr1}, storage.EventMediaDeleted, p.dr1.At),
	}
	seq++
	audit := storage.AuditEvent{ID: "del-au-m1", OrgID: "o1", SiteID: "plant", At: p.dm1.At, ActorID: "u9", Action: "media.delete", Target: "m1"}
	body, err := json.Marshal(storage.HistoryRecord{ID: audit.ID, Kind: storage.HistoryAudit, Audit: &audit})
	if err != nil {
		t.Fatal(err)
	}
	p.deletionAudit = storage.HistoryMessage{Origin: "plant-1", Seq: seq, Record: body}
	return p
}

// forwarded is m as headquarters keeps it: its bytes' key is its SHA-256,
// its origin the node that sent it.
func forwarded(m storage.Media) storage.Media {
	m.BlobKey, m.Origin = m.SHA256, "plant-1"
	m.CreatedAt = m.CreatedAt.UTC()
	return m
}

func forwardedRecording(r storage.Recording) storage.Recording {
	r.BlobKey, r.Origin = r.SHA256, "plant-1"
	return r
}

// applyMediaRows: the media and recording rows a plant's events announce
// reach headquarters as they were, with the plant as their origin, once
// however often they are applied; a row that contradicts its record is
// refused and leaves nothing.
func applyMediaRows(t *testing.T, open func(t *testing.T) ApplierBackend) {
	ctx := context.Background()
	p := newMediaPlant(t, open)
	hq := open(t)
	for range 2 {
		mustApplyHistory(t, hq, append(append([]storage.HistoryMessage{}, p.session...), p.rows...))
	}
	for _, want := range []storage.Media{forwarded(p.m1), forwarded(p.m2)} {
		if got, err := hq.Media(ctx, want.ID); err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("media at headquarters =\n %+v %v, want\n %+v", got, err, want)
		}
	}
	if got, want := recordingOf(t, hq, "r1"), forwardedRecording(p.r1); !reflect.DeepEqual(got, want) {
		t.Errorf("recording at headquarters =\n %+v, want\n %+v", got, want)
	}
	if evs := events(t, hq, "c1"); len(evs) != 8 || evs[5].ID != "ev-m1" || evs[7].Kind != storage.EventRecording {
		t.Errorf("events at headquarters = %+v", evs)
	}
	if _, err := hq.Media(ctx, "nope"); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("Media(nope) = %v", err)
	}
	if _, err := hq.Recording(ctx, "nope"); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("Recording(nope) = %v", err)
	}

	other := open(t)
	snap, rec := string(p.rows[0].Record), string(p.rows[2].Record)
	for i, alter := range []struct{ record, from, to string }{
		{snap, `"sha256":"` + p.key + `"`, `"sha256":"../../etc/passwd"`},
		{snap, `"kind":"snapshot","name"`, `"kind":"video","name"`},
		{snap, `"media":{"id":"m1","session_id":"c1"`, `"media":{"id":"m1","session_id":"c2"`},
		{snap, `"size":42`, `"size":-1`},
		{snap, `"annotations":{"strokes"`, `"annotations_":{"strokes"`}, // a harmless change: applies
		{rec, `"status":"complete"`, `"status":"recording"`},
		{rec, `"sha256":"` + p.rkey + `"`, `"sha256":"` + strings.ToUpper(p.rkey) + `"`},
		{rec, `"recording":{"id":"r1","session_id":"c1"`, `"recording":{"id":"","session_id":"c1"`},
	} {
		bad := strings.Replace(alter.record, alter.from, alter.to, 1)
		if bad == alter.record {
			t.Fatalf("alteration %d changed nothing in %s", i, alter.record)
		}
		res, err := other.ApplyHistory(ctx, []storage.HistoryMessage{{Origin: "plant-1", Seq: int64(i + 1), Record: []byte(bad)}})
		harmless := strings.HasPrefix(alter.to, `"annotations_"`)
		if err != nil || (len(res.Rejected) == 1) == harmless {
			t.Errorf("altered record %d (%s): %+v %v", i, alter.to, res, err)
		}
		if !harmless {
			continue
		}
		m, err := other.Media(ctx, "m1")
		if err != nil || m.Annotations != nil {
			t.Errorf("m1 without annotations = %+v %v", m, err)
		}
	}
	if _, err := other.Recording(ctx, "r1"); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("a rejected record left its recording row: %v", err)
	}
}

// applyMediaDeletion: a deletion wins over its row whichever arrives
// first, and applying everything again changes nothing: the row is a
// tombstone, the deletion kept once, the other row sharing the blob live.
func applyMediaDeletion(t *testing.T, open func(t *testing.T) ApplierBackend) {
	p := newMediaPlant(t, open)
	rows := append(append([]storage.HistoryMessage{}, p.session...), p.rows...)
	dels := append(append([]storage.HistoryMessage{}, p.deletions...), p.deletionAudit)
	for name, batches := range map[string][][]storage.HistoryMessage{
		"row first":      {rows, dels},
		"deletion first": {dels, rows},
		"one batch":      {append(append([]storage.HistoryMessage{}, dels...), rows...)},
	} {
		t.Run(name, func(t *testing.T) {
			hq := open(t)
			for pass := range 2 {
				for _, b := range batches {
					mustApplyHistory(t, hq, b)
				}
				m1 := forwarded(p.m1)
				m1.DeletedAt, m1.DeletedBy = &p.dm1.At, "u9"
				if got := mediaOf(t, hq, "m1"); !reflect.DeepEqual(got, m1) {
					t.Errorf("pass %d: m1 = %+v, want the tombstone %+v", pass, got, m1)
				}
				if got := mediaOf(t, hq, "m2"); got.DeletedAt != nil {
					t.Errorf("pass %d: m2 = %+v, want it live", pass, got)
				}
				r1 := forwardedRecording(p.r1)
				r1.Status, r1.DeletedAt, r1.DeletedBy = storage.RecordingDeleted, &p.dr1.At, "u9"
				if got := recordingOf(t, hq, "r1"); !reflect.DeepEqual(got, r1) {
					t.Errorf("pass %d: r1 = %+v, want the tombstone %+v", pass, got, r1)
				}
				if dels := deletionsOf(t, hq, "c1"); !reflect.DeepEqual(dels, []storage.MediaDeletion{p.dm1, p.dr1}) {
					t.Errorf("pass %d: deletions = %+v, want %+v", pass, dels, []storage.MediaDeletion{p.dm1, p.dr1})
				}
				if got := auditOf(t, hq, storage.AuditFilter{OrgID: "o1", Action: "media."}); len(got) != 1 {
					t.Errorf("pass %d: audit = %+v", pass, got)
				}
			}
		})
	}
	// A later deletion of a row already deleted keeps the first.
	t.Run("deleted twice", func(t *testing.T) {
		hq := open(t)
		mustApplyHistory(t, hq, append(append([]storage.HistoryMessage{}, rows...), p.deletions[0]))
		again := p.dm1
		again.At, again.By = p.dm1.At.Add(time.Hour), "u8"
		var rec storage.HistoryRecord
		if err := json.Unmarshal(p.deletions[0].Record, &rec); err != nil {
			t.Fatal(err)
		}
		rec.ID, rec.Event.ID, rec.Event.Seq, rec.Deletion = "del-m1-again", "del-m1-again", 99, &again
		body, _ := json.Marshal(rec)
		mustApplyHistory(t, hq, []storage.HistoryMessage{{Origin: "plant-1", Seq: 99, Record: body}})
		if got := mediaOf(t, hq, "m1"); got.DeletedAt == nil || !got.DeletedAt.Equal(p.dm1.At) || got.DeletedBy != "u9" {
			t.Errorf("m1 = %+v, want the first deletion's tombstone", got)
		}
		if dels := deletionsOf(t, hq, "c1"); len(dels) != 1 || dels[0].By != "u9" {
			t.Errorf("deletions = %+v, want the first alone", dels)
		}
	})
}

// applyMediaDeletionRefusesBadRecords: a deletion record that is missing
// its deletion or contradicts itself is rejected and keeps nothing.
func applyMediaDeletionRefusesBadRecords(t *testing.T, open func(t *testing.T) ApplierBackend) {
	ctx := context.Background()
	p := newMediaPlant(t, open)
	hq := open(t)
	var rec storage.HistoryRecord
	if err := json.Unmarshal(p.deletions[0].Record, &rec); err != nil {
		t.Fatal(err)
	}
	for name, spoil := range map[string]func(r *storage.HistoryRecord){
		"no deletion":      func(r *storage.HistoryRecord) { r.Deletion = nil },
		"other session":    func(r *storage.HistoryRecord) { c := *r.Deletion; c.SessionID = "c2"; r.Deletion = &c },
		"other org":        func(r *storage.HistoryRecord) { c := *r.Deletion; c.OrgID = "o2"; r.Deletion = &c },
		"unknown what":     func(r *storage.HistoryRecord) { c := *r.Deletion; c.What = "call"; r.Deletion = &c },
		"no id":            func(r *storage.HistoryRecord) { c := *r.Deletion; c.ID = ""; r.Deletion = &c },
		"bad key":          func(r *storage.HistoryRecord) { c := *r.Deletion; c.SHA256 = "x"; r.Deletion = &c },
		"no deletion time": func(r *storage.HistoryRecord) { c := *r.Deletion; c.At = time.Time{}; r.Deletion = &c },
		"no event":         func(r *storage.HistoryRecord) { r.Event = nil },
	} {
		bad := rec
		spoil(&bad)
		raw, err := json.Marshal(bad)
		if err != nil {
			t.Fatal(err)
		}
		res, err := hq.ApplyHistory(ctx, []storage.HistoryMessage{{Origin: "plant-1", Seq: 1, Record: raw}})
		if err != nil || len(res.Rejected) != 1 {
			t.Errorf("%s: apply = %+v, %v; want it rejected", name, res, err)
		}
	}
	if dels := deletionsOf(t, hq, "c1"); len(dels) != 0 {
		t.Errorf("rejected deletions kept: %+v", dels)
	}
}

func mediaOf(t *testing.T, s ApplierBackend, id string) storage.Media {
	t.Helper()
	m, err := s.Media(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func recordingOf(t *testing.T, s ApplierBackend, id string) storage.Recording {
	t.Helper()
	r, err := s.Recording(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func deletionsOf(t *testing.T, s ApplierBackend, sessionID string) []storage.MediaDeletion {
	t.Helper()
	dels, err := s.SessionDeletions(context.Background(), sessionID)
	if err != nil {
		t.Fatal(err)
	}
	return dels
}

func auditOf(t *testing.T, s ApplierBackend, f storage.AuditFilter) []storage.AuditEvent {
	t.Helper()
	got, err := s.Audit(context.Background(), f)
	if err != nil {
		t.Fatal(err)
	}
	return got
}
