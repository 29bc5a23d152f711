package sqlite

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"siteline/storage"
)

// plantWithMedia is a plant store with session c1 (recordPlantHistory),
// snapshot m1 and file m2 over the same blob, and recording r1.
func plantWithMedia(t *testing.T) (*Store, string) {
	t.Helper()
	plant, _ := openTestStore(t)
	ctx := context.Background()
	recordPlantHistory(t, plant, "c1")
	key := strings.Repeat("ab", 32)
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
	rkey := strings.Repeat("cd", 32)
	end := t0.Add(time.Minute)
	r := storage.Recording{ID: "r1", SessionID: "c1", OrgID: "o1", Name: "c1.webm", BlobKey: rkey, ContentType: "video/webm",
		Size: 42, SHA256: rkey, Status: storage.RecordingComplete, StartedBy: "u1", StartedAt: t0, EndedAt: &end}
	if err := plant.AddRecording(ctx, r, storage.SessionEvent{ID: "ev-r1", SessionID: "c1", At: end, Kind: storage.EventRecording}); err != nil {
		t.Fatal(err)
	}
	return plant, key
}

// deletion is the deletion of id (media or recording) by u9 at at.
func deletion(what, id, key string, at time.Time) (storage.MediaDeletion, storage.SessionEvent, storage.AuditEvent) {
	d := storage.MediaDeletion{What: what, ID: id, SessionID: "c1", OrgID: "o1", Kind: storage.MediaSnapshot, Name: id + ".png",
		SHA256: key, At: at, By: "u9", ByName: "Nine"}
	ev := storage.SessionEvent{ID: "del-ev-" + id, SessionID: "c1", At: at, Kind: storage.EventMediaDeleted, ActorID: "u9",
		Payload: json.RawMessage(`{"media":"` + id + `"}`)}
	audit := storage.AuditEvent{ID: "del-au-" + id, OrgID: "o1", SiteID: "s1", At: at, ActorID: "u9", Action: "media.delete", Target: id}
	return d, ev, audit
}

func TestDeleteMediaKeepsATombstone(t *testing.T) {
	plant, key := plantWithMedia(t)
	ctx := context.Background()
	at := t0.Add(time.Hour)
	notified := func() bool {
		select {
		case <-plant.DeletionNotify():
			return true
		default:
			return false
		}
	}
	_, pendingBefore, _, _ := plant.HistoryCounts(ctx, 0)

	d, ev, audit := deletion(storage.DeletedMedia, "m1", key, at)
	if err := plant.DeleteMedia(ctx, d, ev, audit); err != nil {
		t.Fatal(err)
	}
	if !notified() {
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
	if evs, _ := plant.SessionEvents(ctx, "c1"); evs[len(evs)-1].ID != ev.ID || evs[len(evs)-1].Kind != storage.EventMediaDeleted {
		t.Errorf("last event = %+v", evs[len(evs)-1])
	}
	if got, _ := plant.Audit(ctx, storage.AuditFilter{OrgID: "o1", Action: "media."}); len(got) != 1 || got[0].Target != "m1" {
		t.Errorf("audit = %+v", got)
	}
	rows, _ := plant.PendingHistory(ctx, 1000)
	if _, pending, _, _ := plant.HistoryCounts(ctx, 0); pending != pendingBefore+2 {
		t.Errorf("outbox grew by %d, want 2", pending-pendingBefore)
	}
	var rec storage.HistoryRecord
	for _, r := range rows {
		if r.Kind == storage.HistoryMediaDeleted {
			_ = json.Unmarshal(r.Record, &rec)
		}
	}
	if rec.ID != ev.ID || rec.Deletion == nil || rec.Deletion.ID != "m1" || rec.Event == nil || rec.Session == nil {
		t.Errorf("media.deleted record = %+v", rec)
	}

	// Again: a conflict; an unknown id or another session's: not found.
	// None of them writes anything.
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
	d.ID, d.What = "m2", "video"
	if err := plant.DeleteMedia(ctx, d, ev, audit); !errors.Is(err, storage.ErrInvalid) {
		t.Errorf("deletion of what %q = %v, want invalid", d.What, err)
	}
	if _, pending, _, _ := plant.HistoryCounts(ctx, 0); pending != pendingBefore+2 {
		t.Errorf("refused deletions wrote %d records", pending-pendingBefore-2)
	}

	// The other row over the blob and the recording: nothing live is left.
	d2, ev2, au2 := deletion(storage.DeletedMedia, "m2", key, at.Add(time.Second))
	if err := plant.DeleteMedia(ctx, d2, ev2, au2); err != nil {
		t.Fatal(err)
	}
	if live, err := plant.MediaBlobLive(ctx, key); err != nil || live {
		t.Errorf("MediaBlobLive with both rows deleted = %v, %v", live, err)
	}
	d3, ev3, au3 := deletion(storage.DeletedRecording, "r1", strings.Repeat("cd", 32), at.Add(2*time.Second))
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
	dels, err := plant.SessionDeletions(ctx, "c1")
	if err != nil || len(dels) != 3 || dels[0].ID != "m1" || dels[2].What != storage.DeletedRecording || dels[0].ByName != "Nine" {
		t.Errorf("SessionDeletions = %+v, %v", dels, err)
	}

	// The sweeper's queue: each deletion until it is marked done.
	pending, err := plant.PendingBlobDeletions(ctx, 2)
	if err != nil || len(pending) != 2 || pending[0].ID != "m1" || pending[1].ID != "m2" {
		t.Fatalf("PendingBlobDeletions = %+v, %v", pending, err)
	}
	if err := plant.MarkBlobDeletionDone(ctx, "m1"); err != nil {
		t.Fatal(err)
	}
	if pending, _ := plant.PendingBlobDeletions(ctx, 10); len(pending) != 2 || pending[0].ID != "m2" {
		t.Errorf("PendingBlobDeletions after m1 = %+v", pending)
	}
}

func TestApplyMediaDeletionInAnyOrder(t *testing.T) {
	plant, key := plantWithMedia(t)
	ctx := context.Background()
	before := messagesOf(t, plant, "plant-1")
	d, ev, audit := deletion(storage.DeletedMedia, "m1", key, t0.Add(time.Hour))
	if err := plant.DeleteMedia(ctx, d, ev, audit); err != nil {
		t.Fatal(err)
	}
	all := messagesOf(t, plant, "plant-1")
	after := all[len(before):]
	if len(after) != 2 {
		t.Fatalf("the deletion sent %d records, want 2", len(after))
	}

	for name, batches := range map[string][][]storage.HistoryMessage{
		"row first":      {before, after},
		"deletion first": {after, before},
		"one batch":      {append(append([]storage.HistoryMessage{}, after...), before...)},
	} {
		t.Run(name, func(t *testing.T) {
			hq, _ := openTestStore(t)
			for pass := range 2 { // applying again changes nothing
				notified := false
				for _, b := range batches {
					res, err := hq.ApplyHistory(ctx, b)
					if err != nil || res.Applied != len(b) || len(res.Rejected) != 0 {
						t.Fatalf("apply = %+v, %v", res, err)
					}
					select {
					case <-hq.DeletionNotify():
						notified = true
					default:
					}
				}
				if !notified {
					t.Errorf("pass %d: applying a deletion did not wake the sweeper", pass)
				}
				m, err := hq.Media(ctx, "m1")
				if err != nil || m.DeletedAt == nil || !m.DeletedAt.Equal(d.At) || m.DeletedBy != "u9" || m.Origin != "plant-1" {
					t.Errorf("pass %d: m1 at headquarters = %+v, %v; want a tombstone", pass, m, err)
				}
				if m2, err := hq.Media(ctx, "m2"); err != nil || m2.DeletedAt != nil {
					t.Errorf("pass %d: m2 at headquarters = %+v, %v; want it live", pass, m2, err)
				}
				if dels, _ := hq.SessionDeletions(ctx, "c1"); len(dels) != 1 || dels[0].ID != "m1" {
					t.Errorf("pass %d: deletions at headquarters = %+v", pass, dels)
				}
				if got, _ := hq.Audit(ctx, storage.AuditFilter{OrgID: "o1", Action: "media."}); len(got) != 1 {
					t.Errorf("pass %d: audit at headquarters = %+v", pass, got)
				}
				if list, _ := hq.SessionMedia(ctx, "c1"); len(list) != 1 || list[0].ID != "m2" {
					t.Errorf("pass %d: media listed at headquarters = %+v", pass, list)
				}
			}
		})
	}
}

func TestApplyMediaDeletionRefusesBadRecords(t *testing.T) {
	plant, key := plantWithMedia(t)
	hq, _ := openTestStore(t)
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
		raw, _ := json.Marshal(bad)
		res, err := hq.ApplyHistory(ctx, []storage.HistoryMessage{{Origin: "plant-1", Seq: 1, Record: raw}})
		if err != nil || len(res.Rejected) != 1 {
			t.Errorf("%s: apply = %+v, %v; want it rejected", name, res, err)
		}
	}
	if dels, _ := hq.SessionDeletions(ctx, "c1"); len(dels) != 0 {
		t.Errorf("rejected deletions kept: %+v", dels)
	}
}
