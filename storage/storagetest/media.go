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

// MediaBackend is what Media drives: the session media rows written at
// this node (storage.MediaStore) with the outbox their writes fill, the
// history applier that brings other nodes' rows, and the blob sweeper's
// side of the store (node/attachments.SweepStore and DeletionNotify).
type MediaBackend interface {
	ApplierBackend
	storage.MediaStore
	HistoryCounts(ctx context.Context, acked int64) (last, unpublished, unacked int64, err error)
	PendingBlobDeletions(ctx context.Context, limit int) ([]storage.MediaDeletion, error)
	MarkBlobDeletionDone(ctx context.Context, id string) error
	DeletionNotify() <-chan struct{}
}

// Media tests storage.MediaStore and the sweeper's store: rows and their
// events, tombstones, the lists that leave them out, the blobs forwarded
// media refer to, and the queue of deletions whose bytes are to go,
// whether deleted here or applied from another node. open returns a new
// store, empty but for the organisation data that holds Labels, closed
// when the test that opened it ends.
func Media(t *testing.T, open func(t *testing.T) MediaBackend) {
	for _, tc := range []struct {
		name string
		test func(t *testing.T, open func(t *testing.T) MediaBackend)
	}{
		{"RowsAndEvents", mediaRowsAndEvents},
		{"Recordings", mediaRecordings},
		{"DeleteKeepsATombstone", mediaDeleteKeepsATombstone},
		{"ApplyDeletionInAnyOrder", mediaApplyDeletionInAnyOrder},
		{"ApplyDeletionRefusesBadRecords", mediaApplyDeletionRefusesBadRecords},
		{"ForwardedBlobs", mediaForwardedBlobs},
	} {
		t.Run(tc.name, func(t *testing.T) { tc.test(t, open) })
	}
}

// mediaRowsAndEvents: a media row is stored with its event and history
// record; the same bytes shared again are a second row over the same
// blob; a refused write leaves no row, no event and no record.
func mediaRowsAndEvents(t *testing.T, open func(t *testing.T) MediaBackend) {
	s := open(t)
	ctx := context.Background()
	if err := s.CreateSession(ctx, storage.Session{ID: "c1", OrgID: "o1", SiteID: "s1", StartedAt: t0}); err != nil {
		t.Fatal(err)
	}
	key := strings.Repeat("ab", 32)
	file := storage.Media{ID: "m1", SessionID: "c1", OrgID: "o1", Kind: storage.MediaFile, Name: "manual.pdf",
		BlobKey: key, ContentType: "application/pdf", Size: 1234, SHA256: key, CreatedBy: "u1", Participant: "p1",
		CreatedAt: t0.Add(time.Second)}
	ev := func(id, kind string) storage.SessionEvent {
		return storage.SessionEvent{ID: id, SessionID: "c1", At: t0.Add(time.Second), Kind: kind, ActorID: "u1",
			Payload: json.RawMessage(`{"media":"x"}`)}
	}
	if err := s.AddMedia(ctx, file, ev("e1", storage.EventFile)); err != nil {
		t.Fatal(err)
	}
	snap := file
	snap.ID, snap.Kind, snap.Name, snap.ContentType, snap.Of = "m2", storage.MediaSnapshot, "snap.png", "image/png", "p2"
	snap.Annotations = json.RawMessage(`{"strokes":[]}`)
	snap.CreatedAt = t0.Add(2 * time.Second)
	if err := s.AddMedia(ctx, snap, ev("e2", storage.EventSnapshot)); err != nil {
		t.Fatalf("second media over the same blob: %v", err)
	}

	_, pendingBefore, _, _ := s.HistoryCounts(ctx, 0)
	withKind := func(id, kind string) storage.Media {
		m := file
		m.ID, m.Kind = id, kind
		return m
	}
	otherSession := withKind("m3", storage.MediaFile)
	otherSession.SessionID = "zz"
	badAnnotations := withKind("m3", storage.MediaSnapshot)
	badAnnotations.Annotations = json.RawMessage(`{"strokes":`)
	for _, tc := range []struct {
		name string
		m    storage.Media
		ev   storage.SessionEvent
		want error
	}{
		{"unknown kind", withKind("m3", "video"), ev("e3", storage.EventFile), storage.ErrInvalid},
		{"no blob", storage.Media{ID: "m3", SessionID: "c1", OrgID: "o1", Kind: "file", ContentType: "x/y", CreatedAt: t0}, ev("e3", storage.EventFile), storage.ErrInvalid},
		{"bad annotations", badAnnotations, ev("e3", storage.EventSnapshot), storage.ErrInvalid},
		{"event of another session", withKind("m3", storage.MediaFile), storage.SessionEvent{ID: "e3", SessionID: "c2", At: t0, Kind: storage.EventFile}, storage.ErrInvalid},
		{"unknown session", otherSession, storage.SessionEvent{ID: "e3", SessionID: "zz", At: t0, Kind: storage.EventFile}, storage.ErrNotFound},
		{"event id taken", withKind("m3", storage.MediaFile), ev("e1", storage.EventFile), storage.ErrConflict},
		{"media id taken", withKind("m1", storage.MediaFile), ev("e3", storage.EventFile), storage.ErrConflict},
	} {
		if err := s.AddMedia(ctx, tc.m, tc.ev); !errors.Is(err, tc.want) {
			t.Errorf("%s: AddMedia = %v, want %v", tc.name, err, tc.want)
		}
	}
	if _, err := s.Media(ctx, "m3"); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("refused media stored: %v", err)
	}
	if _, pending, _, _ := s.HistoryCounts(ctx, 0); pending != pendingBefore {
		t.Errorf("outbox grew from %d to %d on refused writes", pendingBefore, pending)
	}

	if got, err := s.Media(ctx, "m2"); err != nil || !reflect.DeepEqual(got, snap) {
		t.Errorf("Media(m2) =\n %+v, %v; want\n %+v", got, err, snap)
	}
	list, err := s.SessionMedia(ctx, "c1")
	if err != nil || len(list) != 2 || !reflect.DeepEqual(list[0], file) || list[1].ID != "m2" {
		t.Fatalf("SessionMedia = %+v, %v", list, err)
	}
	if list, err := s.SessionMedia(ctx, "nope"); err != nil || list == nil || len(list) != 0 {
		t.Errorf("SessionMedia(nope) = %#v, %v; want an empty list", list, err)
	}

	// Each media event is in the session's history and in the outbox,
	// its record carrying the row.
	if evs := events(t, s, "c1"); len(evs) != 2 || evs[0].Kind != storage.EventFile || evs[1].Kind != storage.EventSnapshot {
		t.Errorf("events = %+v", evs)
	}
	var forwarded []string
	for _, r := range pending(t, s) {
		if r.Kind != storage.HistoryEvent {
			continue
		}
		forwarded = append(forwarded, r.ID)
		var rec storage.HistoryRecord
		if err := json.Unmarshal(r.Record, &rec); err != nil {
			t.Fatal(err)
		}
		want := map[string]string{"e1": "m1", "e2": "m2"}[r.ID]
		if rec.Media == nil || rec.Media.ID != want || rec.Session == nil || rec.Event == nil || rec.Event.Seq == 0 {
			t.Errorf("record %s = %+v, want it to carry media %s, its session and its event", r.ID, rec, want)
		}
	}
	if strings.Join(forwarded, " ") != "e1 e2" {
		t.Errorf("forwarded events = %v, want e1 e2", forwarded)
	}
	if in, err := s.MediaBlobLive(ctx, key); err != nil || !in {
		t.Errorf("MediaBlobLive = %v, %v", in, err)
	}
	if in, err := s.MediaBlobLive(ctx, strings.Repeat("cd", 32)); err != nil || in {
		t.Errorf("MediaBlobLive(unused) = %v, %v", in, err)
	}
	// This node's own rows are not forwarded ones.
	if refs, err := s.ForwardedBlobs(ctx); err != nil || len(refs) != 0 {
		t.Errorf("ForwardedBlobs with local rows only = %+v, %v", refs, err)
	}
}

// mediaRecordings: a recording is stored complete unless told otherwise,
// with its event; its id is not reused; the list is by start time.
func mediaRecordings(t *testing.T, open func(t *testing.T) MediaBackend) {
	s := open(t)
	ctx := context.Background()
	if err := s.CreateSession(ctx, storage.Session{ID: "c1", OrgID: "o1", SiteID: "s1", StartedAt: t0}); err != nil {
		t.Fatal(err)
	}
	end := t0.Add(90 * time.Second)
	rec := storage.Recording{ID: "r1", SessionID: "c1", OrgID: "o1", Name: "call.webm", BlobKey: strings.Repeat("01", 32),
		ContentType: "video/webm", Size: 9999, SHA256: strings.Repeat("01", 32), StartedBy: "u1",
		StartedAt: t0.Add(30 * time.Second), EndedAt: &end, DurationMS: 60000, Participant: "p1", Tracks: []string{"a", "v"}}
	ev := storage.SessionEvent{ID: "e1", SessionID: "c1", At: end, Kind: storage.EventRecording, ActorID: "u1"}
	if err := s.AddRecording(ctx, rec, ev); err != nil {
		t.Fatal(err)
	}
	rec.Status = storage.RecordingComplete
	if got, err := s.Recording(ctx, "r1"); err != nil || !reflect.DeepEqual(got, rec) {
		t.Errorf("Recording = %+v, %v; want %+v", got, err, rec)
	}
	// An earlier, failed one without tracks.
	failed := storage.Recording{ID: "r0", SessionID: "c1", OrgID: "o1", BlobKey: strings.Repeat("02", 32), Status: storage.RecordingFailed,
		StartedAt: t0.Add(10 * time.Second)}
	if err := s.AddRecording(ctx, failed, storage.SessionEvent{ID: "e0", SessionID: "c1", At: end, Kind: storage.EventRecording}); err != nil {
		t.Fatal(err)
	}
	if got, err := s.Recording(ctx, "r0"); err != nil || got.Status != storage.RecordingFailed || got.Tracks == nil || len(got.Tracks) != 0 {
		t.Errorf("Recording(r0) = %#v, %v; want failed, with no tracks", got, err)
	}
	ev.ID = "e2"
	if err := s.AddRecording(ctx, rec, ev); !errors.Is(err, storage.ErrConflict) {
		t.Errorf("second AddRecording r1 = %v, want conflict", err)
	}
	noStart := rec
	noStart.ID, noStart.StartedAt = "r2", time.Time{}
	if err := s.AddRecording(ctx, noStart, ev); !errors.Is(err, storage.ErrInvalid) {
		t.Errorf("AddRecording without start = %v, want invalid", err)
	}
	list, err := s.SessionRecordings(ctx, "c1")
	if err != nil || len(list) != 2 || list[0].ID != "r0" || list[1].ID != "r1" || list[1].DurationMS != 60000 {
		t.Errorf("SessionRecordings = %+v, %v", list, err)
	}
	if list, err := s.SessionRecordings(ctx, "nope"); err != nil || list == nil || len(list) != 0 {
		t.Errorf("SessionRecordings(nope) = %#v, %v; want an empty list", list, err)
	}
	if evs := events(t, s, "c1"); len(evs) != 2 || evs[0].Kind != storage.EventRecording {
		t.Errorf("events = %+v", evs)
	}
	if _, err := s.Recording(ctx, "nope"); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("Recording(nope) = %v", err)
	}
	if in, err := s.MediaBlobLive(ctx, rec.BlobKey); err != nil || !in {
		t.Errorf("MediaBlobLive(recording's blob) = %v, %v", in, err)
	}
}

// plantWithMedia is a plant store with session c1 (recordPlantHistory),
// snapshot m1 and file m2 over the same blob, and recording r1; it
// returns the blobs' keys.
func plantWithMedia(t *testing.T, open func(t *testing.T) MediaBackend) (plant MediaBackend, key, rkey string) {
	t.Helper()
	plant = open(t)
	ctx := context.Background()
	recordPlantHistory(t, plant, "c1")
	key = strings.Repeat("ab", 32)
	snap := storage.Media{ID: "m1", SessionID: "c1", OrgID: "o1", Kind: storage.MediaSnapshot, Name: "snap.png", BlobKey: key,
		ContentType: "image/png", Size: 42, SHA256: key, CreatedBy: "u1", Participant: "c1p1", CreatedAt: t0.Add(time.Second)}
	file := snap
	file.ID, file.Kind, file.Name = "m2", storage.MediaFile, "same.png"
	for i, m := range []storage.Media{snap, file} {
		ev := storage.SessionEvent{ID: "ev-" + m.ID, SessionID: "c1", At: m.CreatedAt.Add(time.Duration(i)), Kind: storage.EventSnapshot}
		if err := plant.AddMedia(ctx, m, ev); err != nil {
			t.Fatal(err)
		}
	}
	rkey = strings.Repeat("cd", 32)
	end := t0.Add(time.Minute)
	r := storage.Recording{ID: "r1", SessionID: "c1", OrgID: "o1", Name: "c1.webm", BlobKey: rkey, ContentType: "video/webm",
		Size: 4200, SHA256: rkey, Status: storage.RecordingComplete, StartedBy: "u1", StartedAt: t0, EndedAt: &end}
	if err := plant.AddRecording(ctx, r, storage.SessionEvent{ID: "ev-r1", SessionID: "c1", At: end, Kind: storage.EventRecording}); err != nil {
		t.Fatal(err)
	}
	return plant, key, rkey
}

// deletion is the deletion of id (media or recording) by u9 at at, with
// its event and audit event.
func deletion(what, id, key string, at time.Time) (storage.MediaDeletion, storage.SessionEvent, storage.AuditEvent) {
	d := storage.MediaDeletion{What: what, ID: id, SessionID: "c1", OrgID: "o1", Kind: storage.MediaSnapshot, Name: id + ".png",
		SHA256: key, At: at, By: "u9", ByName: "Nine"}
	ev := storage.SessionEvent{ID: "del-ev-" + id, SessionID: "c1", At: at, Kind: storage.EventMediaDeleted, ActorID: "u9",
		Payload: json.RawMessage(`{"media":"` + id + `"}`)}
	audit := storage.AuditEvent{ID: "del-au-" + id, OrgID: "o1", SiteID: "s1", At: at, ActorID: "u9", Action: "media.delete", Target: id}
	return d, ev, audit
}

// notified reports whether s signalled a deletion since last asked.
func notified(s MediaBackend) bool {
	select {
	case <-s.DeletionNotify():
		return true
	default:
		return false
	}
}

// mediaDeleteKeepsATombstone: a deletion keeps the row as a tombstone,
// writes its event, its audit event and both records in one write, and
// wakes the sweeper; a second deletion, one of an unknown row or of
// another kind's is refused and writes nothing; the sweeper's queue
// holds each deletion, oldest first, until it is marked done.
func mediaDeleteKeepsATombstone(t *testing.T, open func(t *testing.T) MediaBackend) {
	plant, key, rkey := plantWithMedia(t, open)
	ctx := context.Background()
	at := t0.Add(time.Hour)
	if notified(plant) {
		t.Error("the sweeper was woken before any deletion")
	}
	if pending, err := plant.PendingBlobDeletions(ctx, 10); err != nil || len(pending) != 0 {
		t.Errorf("PendingBlobDeletions before any deletion = %+v, %v", pending, err)
	}
	_, pendingBefore, _, _ := plant.HistoryCounts(ctx, 0)

	d, ev, audit := deletion(storage.DeletedMedia, "m1", key, at)
	if err := plant.DeleteMedia(ctx, d, ev, audit); err != nil {
		t.Fatal(err)
	}
	if !notified(plant) {
		t.Error("a deletion did not wake the sweeper")
	}
	m, err := plant.Media(ctx, "m1")
	if err != nil || m.DeletedAt == nil || !m.DeletedAt.Equal(at) || m.DeletedBy != "u9" {
		t.Fatalf("tombstone = %+v, %v", m, err)
	}
	if list, _ := plant.SessionMedia(ctx, "c1"); len(list) != 1 || list[0].ID != "m2" {
		t.Errorf("SessionMedia after the deletion = %+v, want m2 only", list)
	}
	// m2 shares the bytes: they are still live.
	if live, err := plant.MediaBlobLive(ctx, key); err != nil || !live {
		t.Errorf("MediaBlobLive with m2 left = %v, %v", live, err)
	}

	// The event, the audit event and both records went in the same write.
	if evs := events(t, plant, "c1"); evs[len(evs)-1].ID != ev.ID || evs[len(evs)-1].Kind != storage.EventMediaDeleted {
		t.Errorf("last event = %+v", evs[len(evs)-1])
	}
	if got := auditOf(t, plant, storage.AuditFilter{OrgID: "o1", Action: "media."}); len(got) != 1 || got[0].Target != "m1" {
		t.Errorf("audit = %+v", got)
	}
	if _, pending, _, _ := plant.HistoryCounts(ctx, 0); pending != pendingBefore+2 {
		t.Errorf("outbox grew by %d, want 2", pending-pendingBefore)
	}
	var rec storage.HistoryRecord
	var auditRecord bool
	for _, r := range pending(t, plant) {
		switch r.Kind {
		case storage.HistoryMediaDeleted:
			if err := json.Unmarshal(r.Record, &rec); err != nil {
				t.Fatal(err)
			}
		case storage.HistoryAudit:
			auditRecord = auditRecord || r.ID == audit.ID
		}
	}
	if rec.ID != ev.ID || rec.Deletion == nil || !reflect.DeepEqual(*rec.Deletion, d) || rec.Event == nil || rec.Session == nil {
		t.Errorf("media.deleted record = %+v", rec)
	}
	if !auditRecord {
		t.Errorf("no audit record %s in the outbox", audit.ID)
	}

	// Again: a conflict; an unknown id or another kind's: not found; a
	// bad deletion, event or audit event: invalid. None writes anything
	// or wakes the sweeper.
	d.At = at.Add(time.Minute)
	ev.ID, audit.ID = "again-ev", "again-au"
	if err := plant.DeleteMedia(ctx, d, ev, audit); !errors.Is(err, storage.ErrConflict) {
		t.Errorf("second deletion = %v, want conflict", err)
	}
	for _, id := range []string{"nope", "r1"} {
		d.ID = id
		if err := plant.DeleteMedia(ctx, d, ev, audit); !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("deletion of media %s = %v, want not found", id, err)
		}
	}
	d.ID = "m2"
	for name, spoil := range map[string]func(d *storage.MediaDeletion, ev *storage.SessionEvent, au *storage.AuditEvent){
		"unknown what":         func(d *storage.MediaDeletion, _ *storage.SessionEvent, _ *storage.AuditEvent) { d.What = "video" },
		"no time":              func(d *storage.MediaDeletion, _ *storage.SessionEvent, _ *storage.AuditEvent) { d.At = time.Time{} },
		"bad key":              func(d *storage.MediaDeletion, _ *storage.SessionEvent, _ *storage.AuditEvent) { d.SHA256 = "AB" },
		"event of another one": func(_ *storage.MediaDeletion, ev *storage.SessionEvent, _ *storage.AuditEvent) { ev.SessionID = "c2" },
		"audit without actor":  func(_ *storage.MediaDeletion, _ *storage.SessionEvent, au *storage.AuditEvent) { au.ActorID = "" },
	} {
		d, ev, audit := d, ev, audit
		spoil(&d, &ev, &audit)
		if err := plant.DeleteMedia(ctx, d, ev, audit); !errors.Is(err, storage.ErrInvalid) {
			t.Errorf("deletion with %s = %v, want invalid", name, err)
		}
	}
	if _, pending, _, _ := plant.HistoryCounts(ctx, 0); pending != pendingBefore+2 {
		t.Errorf("refused deletions wrote %d records", pending-pendingBefore-2)
	}
	if notified(plant) {
		t.Error("a refused deletion woke the sweeper")
	}

	// The other row over the blob and the recording: nothing live is left.
	d2, ev2, au2 := deletion(storage.DeletedMedia, "m2", key, at.Add(time.Second))
	if err := plant.DeleteMedia(ctx, d2, ev2, au2); err != nil {
		t.Fatal(err)
	}
	if live, err := plant.MediaBlobLive(ctx, key); err != nil || live {
		t.Errorf("MediaBlobLive with both rows deleted = %v, %v", live, err)
	}
	d3, ev3, au3 := deletion(storage.DeletedRecording, "r1", rkey, at.Add(2*time.Second))
	if err := plant.DeleteMedia(ctx, d3, ev3, au3); err != nil {
		t.Fatal(err)
	}
	r, err := plant.Recording(ctx, "r1")
	if err != nil || r.Status != storage.RecordingDeleted || r.DeletedAt == nil || r.DeletedBy != "u9" {
		t.Errorf("recording tombstone = %+v, %v", r, err)
	}
	if list, _ := plant.SessionRecordings(ctx, "c1"); len(list) != 0 {
		t.Errorf("SessionRecordings after the deletion = %+v", list)
	}
	if live, err := plant.MediaBlobLive(ctx, rkey); err != nil || live {
		t.Errorf("MediaBlobLive of the deleted recording = %v, %v", live, err)
	}
	dels, err := plant.SessionDeletions(ctx, "c1")
	if err != nil || len(dels) != 3 || dels[0].ID != "m1" || dels[2].What != storage.DeletedRecording || dels[0].ByName != "Nine" {
		t.Errorf("SessionDeletions = %+v, %v", dels, err)
	}

	// The sweeper's queue: each deletion until it is marked done.
	queue, err := plant.PendingBlobDeletions(ctx, 2)
	if err != nil || len(queue) != 2 || !reflect.DeepEqual(queue[0], dels[0]) || queue[1].ID != "m2" {
		t.Fatalf("PendingBlobDeletions = %+v, %v", queue, err)
	}
	if err := plant.MarkBlobDeletionDone(ctx, "m1"); err != nil {
		t.Fatal(err)
	}
	if queue, _ := plant.PendingBlobDeletions(ctx, 10); len(queue) != 2 || queue[0].ID != "m2" || queue[1].ID != "r1" {
		t.Errorf("PendingBlobDeletions after m1 = %+v", queue)
	}
	// Marking again, or an unknown id, changes nothing.
	for _, id := range []string{"m1", "nope"} {
		if err := plant.MarkBlobDeletionDone(ctx, id); err != nil {
			t.Errorf("MarkBlobDeletionDone(%s) = %v", id, err)
		}
	}
	if queue, _ := plant.PendingBlobDeletions(ctx, 10); len(queue) != 2 {
		t.Errorf("PendingBlobDeletions after marking again = %+v", queue)
	}
	// The deletion itself stays listed for the session.
	if dels, _ := plant.SessionDeletions(ctx, "c1"); len(dels) != 3 {
		t.Errorf("SessionDeletions after m1 done = %+v", dels)
	}
}

// mediaApplyDeletionInAnyOrder: a deletion made at a plant wins at
// headquarters over its row whichever arrives first; applying it wakes
// headquarters' sweeper and queues the deletion for its bytes; applying
// everything again changes nothing and queues nothing twice.
func mediaApplyDeletionInAnyOrder(t *testing.T, open func(t *testing.T) MediaBackend) {
	plant, key, _ := plantWithMedia(t, open)
	ctx := context.Background()
	before := messagesOf(t, plant, "plant-1")
	d, ev, audit := deletion(storage.DeletedMedia, "m1", key, t0.Add(time.Hour))
	if err := plant.DeleteMedia(ctx, d, ev, audit); err != nil {
		t.Fatal(err)
	}
	after := messagesOf(t, plant, "plant-1")[len(before):]
	if len(after) != 2 {
		t.Fatalf("the deletion sent %d records, want 2", len(after))
	}

	for name, batches := range map[string][][]storage.HistoryMessage{
		"row first":      {before, after},
		"deletion first": {after, before},
		"one batch":      {append(append([]storage.HistoryMessage{}, after...), before...)},
	} {
		t.Run(name, func(t *testing.T) {
			hq := open(t)
			for pass := range 2 { // applying again changes nothing
				woken := false
				for _, b := range batches {
					mustApplyHistory(t, hq, b)
					woken = woken || notified(hq)
				}
				if !woken {
					t.Errorf("pass %d: applying a deletion did not wake the sweeper", pass)
				}
				m, err := hq.Media(ctx, "m1")
				if err != nil || m.DeletedAt == nil || !m.DeletedAt.Equal(d.At) || m.DeletedBy != "u9" || m.Origin != "plant-1" {
					t.Errorf("pass %d: m1 at headquarters = %+v, %v; want a tombstone", pass, m, err)
				}
				if m2, err := hq.Media(ctx, "m2"); err != nil || m2.DeletedAt != nil {
					t.Errorf("pass %d: m2 at headquarters = %+v, %v; want it live", pass, m2, err)
				}
				if dels := deletionsOf(t, hq, "c1"); len(dels) != 1 || !reflect.DeepEqual(dels[0], d) {
					t.Errorf("pass %d: deletions at headquarters = %+v, want %+v", pass, dels, d)
				}
				if got := auditOf(t, hq, storage.AuditFilter{OrgID: "o1", Action: "media."}); len(got) != 1 {
					t.Errorf("pass %d: audit at headquarters = %+v", pass, got)
				}
				if list, _ := hq.SessionMedia(ctx, "c1"); len(list) != 1 || list[0].ID != "m2" {
					t.Errorf("pass %d: media listed at headquarters = %+v", pass, list)
				}
				if list, _ := hq.SessionRecordings(ctx, "c1"); len(list) != 1 || list[0].ID != "r1" || list[0].Origin != "plant-1" {
					t.Errorf("pass %d: recordings listed at headquarters = %+v", pass, list)
				}
				if queue, err := hq.PendingBlobDeletions(ctx, 10); err != nil || len(queue) != 1 || !reflect.DeepEqual(queue[0], d) {
					t.Errorf("pass %d: headquarters' sweeper queue = %+v, %v; want m1's deletion", pass, queue, err)
				}
			}
			// Once done, the same deletion applied again is not queued
			// again: the first deletion of a row is the one kept.
			if err := hq.MarkBlobDeletionDone(ctx, "m1"); err != nil {
				t.Fatal(err)
			}
			mustApplyHistory(t, hq, after)
			if queue, _ := hq.PendingBlobDeletions(ctx, 10); len(queue) != 0 {
				t.Errorf("queue after the deletion done and applied again = %+v", queue)
			}
		})
	}

	// A batch without a deletion does not wake the sweeper.
	hq := open(t)
	mustApplyHistory(t, hq, before)
	if notified(hq) {
		t.Error("a batch without deletions woke the sweeper")
	}
}

// mediaApplyDeletionRefusesBadRecords: a deletion record a plant wrote,
// spoiled, is rejected at headquarters and keeps nothing.
func mediaApplyDeletionRefusesBadRecords(t *testing.T, open func(t *testing.T) MediaBackend) {
	plant, key, _ := plantWithMedia(t, open)
	hq := open(t)
	ctx := context.Background()
	before := len(messagesOf(t, plant, "plant-1"))
	d, ev, audit := deletion(storage.DeletedMedia, "m1", key, t0.Add(time.Hour))
	if err := plant.DeleteMedia(ctx, d, ev, audit); err != nil {
		t.Fatal(err)
	}
	var rec storage.HistoryRecord
	if err := json.Unmarshal(messagesOf(t, plant, "plant-1")[before].Record, &rec); err != nil || rec.Kind != storage.HistoryMediaDeleted {
		t.Fatalf("record = %+v, %v", rec, err)
	}
	for name, spoil := range map[string]func(r *storage.HistoryRecord){
		"no deletion":      func(r *storage.HistoryRecord) { r.Deletion = nil },
		"other session":    func(r *storage.HistoryRecord) { c := *r.Deletion; c.SessionID = "c2"; r.Deletion = &c },
		"unknown what":     func(r *storage.HistoryRecord) { c := *r.Deletion; c.What = "call"; r.Deletion = &c },
		"bad key":          func(r *storage.HistoryRecord) { c := *r.Deletion; c.SHA256 = "x"; r.Deletion = &c },
		"no deletion time": func(r *storage.HistoryRecord) { c := *r.Deletion; c.At = time.Time{}; r.Deletion = &c },
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
	if queue, _ := hq.PendingBlobDeletions(ctx, 10); len(queue) != 0 {
		t.Errorf("rejected deletions queued for the sweeper: %+v", queue)
	}
	if notified(hq) {
		t.Error("rejected deletions woke the sweeper")
	}
}

// mediaForwardedBlobs: headquarters lists the blobs of forwarded rows that
// are live, once each, by key, with their origin and size; a blob two
// live rows share stays listed while one of them is.
func mediaForwardedBlobs(t *testing.T, open func(t *testing.T) MediaBackend) {
	ctx := context.Background()
	plant, key, rkey := plantWithMedia(t, open)
	hq := open(t)
	mustApplyHistory(t, hq, messagesOf(t, plant, "plant-1"))
	// A row of headquarters' own over another blob is not forwarded.
	own := strings.Repeat("ef", 32)
	if err := hq.AddMedia(ctx, storage.Media{ID: "m9", SessionID: "c1", OrgID: "o1", Kind: storage.MediaFile, BlobKey: own,
		ContentType: "text/plain", SHA256: own, CreatedAt: t0.Add(time.Hour)},
		storage.SessionEvent{ID: "ev-m9", SessionID: "c1", At: t0.Add(time.Hour), Kind: storage.EventFile}); err != nil {
		t.Fatal(err)
	}
	blobs := func() []storage.BlobRef {
		t.Helper()
		refs, err := hq.ForwardedBlobs(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return refs
	}
	want := []storage.BlobRef{{Key: key, Origin: "plant-1", Size: 42}, {Key: rkey, Origin: "plant-1", Size: 4200}}
	if got := blobs(); !reflect.DeepEqual(got, want) {
		t.Errorf("ForwardedBlobs = %+v, want %+v", got, want)
	}
	for i, id := range []string{"m1", "m2", "r1"} {
		what, k := storage.DeletedMedia, key
		if id == "r1" {
			what, k = storage.DeletedRecording, rkey
		}
		d, ev, audit := deletion(what, id, k, t0.Add(time.Duration(i+1)*time.Hour))
		if err := plant.DeleteMedia(ctx, d, ev, audit); err != nil {
			t.Fatal(err)
		}
	}
	all := messagesOf(t, plant, "plant-1")
	deletions := all[len(all)-6:] // three deletions, each with its audit record
	mustApplyHistory(t, hq, deletions[:2])
	if got := blobs(); !reflect.DeepEqual(got, want) {
		t.Errorf("ForwardedBlobs with m2 live = %+v, want %+v", got, want)
	}
	mustApplyHistory(t, hq, deletions[2:4])
	if got := blobs(); !reflect.DeepEqual(got, want[1:]) {
		t.Errorf("ForwardedBlobs with m1 and m2 deleted = %+v, want %+v", got, want[1:])
	}
	mustApplyHistory(t, hq, deletions[4:])
	if got := blobs(); len(got) != 0 {
		t.Errorf("ForwardedBlobs with every forwarded row deleted = %+v", got)
	}
	if live, err := hq.MediaBlobLive(ctx, own); err != nil || !live {
		t.Errorf("MediaBlobLive(own) = %v, %v", live, err)
	}
}

// pending is the whole of s's unpublished outbox.
func pending(t *testing.T, s ApplierBackend) []storage.HistoryOutboxRow {
	t.Helper()
	rows, err := s.PendingHistory(context.Background(), 1000)
	if err != nil {
		t.Fatal(err)
	}
	return rows
}
