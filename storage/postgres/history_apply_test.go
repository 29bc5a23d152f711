package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"siteline/storage"
	"siteline/storage/storagetest"
)

// message is rec as origin's outbox would forward it at seq.
func message(t *testing.T, origin string, seq int64, rec storage.HistoryRecord) storage.HistoryMessage {
	t.Helper()
	body, err := json.Marshal(rec)
	if err != nil {
		t.Fatal(err)
	}
	return storage.HistoryMessage{Origin: origin, Seq: seq, Record: body}
}

// TestApplyHistoryRejectsMedia: the records of media, recordings,
// service reports and media deletions, whose tables this store does not
// have yet, are rejected with a reason that says so, kept, and leave
// nothing behind; the records around them apply.
func TestApplyHistoryRejectsMedia(t *testing.T) {
	ctx := context.Background()
	hq, _ := openTestStore(t)
	at := time.Date(2025, 3, 1, 8, 30, 0, 0, time.UTC)
	ss := storage.Session{ID: "c1", OrgID: "o1", SiteID: "plant", Kind: storage.SessionConference, Status: storage.SessionActive, CreatedBy: "u1", StartedAt: at}
	key := strings.Repeat("ab", 32)
	event := func(id, kind string) *storage.SessionEvent {
		return &storage.SessionEvent{ID: id, SessionID: "c1", Seq: 1, At: at, Kind: kind, Payload: json.RawMessage(`{}`)}
	}
	supported := message(t, "plant-1", 1, storage.HistoryRecord{ID: "c1", Kind: storage.HistorySessionCreated, Session: &ss})
	unsupported := []storage.HistoryMessage{
		message(t, "plant-1", 2, storage.HistoryRecord{ID: "ev-m1", Kind: storage.HistoryEvent, Session: &ss, Event: event("ev-m1", storage.EventSnapshot),
			Media: &storage.Media{ID: "m1", SessionID: "c1", OrgID: "o1", Kind: storage.MediaSnapshot, SHA256: key, CreatedAt: at}}),
		message(t, "plant-1", 3, storage.HistoryRecord{ID: "ev-r1", Kind: storage.HistoryEvent, Session: &ss, Event: event("ev-r1", storage.EventRecording),
			Recording: &storage.Recording{ID: "r1", SessionID: "c1", OrgID: "o1", SHA256: key, Status: storage.RecordingComplete, StartedAt: at}}),
		message(t, "plant-1", 4, storage.HistoryRecord{ID: "v1", Kind: storage.HistoryServiceReport, Session: &ss,
			Report: &storage.ServiceReport{ID: "rep1", VersionID: "v1", OrgID: "o1", SiteID: "plant", SessionID: "c1", Version: 1}}),
		message(t, "plant-1", 5, storage.HistoryRecord{ID: "ev-d1", Kind: storage.HistoryMediaDeleted, Session: &ss, Event: event("ev-d1", storage.EventChat),
			Deletion: &storage.MediaDeletion{What: storage.DeletedMedia, ID: "m1", SessionID: "c1", OrgID: "o1", At: at}}),
	}
	res, err := hq.ApplyHistory(ctx, append([]storage.HistoryMessage{supported}, unsupported...))
	if err != nil {
		t.Fatal(err)
	}
	if res.Applied != 1 || len(res.Rejected) != len(unsupported) {
		t.Fatalf("apply = %+v, want the session applied and %d rejected", res, len(unsupported))
	}
	for i, r := range res.Rejected {
		if r.Seq != unsupported[i].Seq || !strings.Contains(r.Reason, "no media, recordings, service reports or media deletions yet") {
			t.Errorf("rejection %+v, want seq %d and a reason naming the missing support", r, unsupported[i].Seq)
		}
	}
	if evs, err := hq.SessionEvents(ctx, "c1"); err != nil || len(evs) != 0 {
		t.Errorf("a rejected record left events: %+v %v", evs, err)
	}
	if kept, err := hq.HistoryRejected(ctx); err != nil || len(kept) != len(unsupported) {
		t.Errorf("kept %+v %v, want %d", kept, err, len(unsupported))
	}
	var message []byte
	if err := hq.pool.QueryRow(ctx, `SELECT message FROM history_rejected WHERE seq = 2`).Scan(&message); err != nil || string(message) != string(unsupported[0].Record) {
		t.Errorf("kept message %s %v, want it byte for byte: %s", message, err, unsupported[0].Record)
	}
}

// TestApplyHistoryRollsBackOnLocalErrors: an error of this node (here, no
// way to read the organisation's labels) is not the record's fault: the
// whole batch is undone, no mark raised and nothing rejected, so that it
// applies once the node is set right.
func TestApplyHistoryRollsBackOnLocalErrors(t *testing.T) {
	ctx := context.Background()
	plant, _ := openTestStoreWith(t, Options{Labels: labelList(storagetest.Labels)})
	at := time.Date(2025, 3, 1, 8, 30, 0, 0, time.UTC)
	if err := plant.CreateSession(ctx, storage.Session{ID: "c1", OrgID: "o1", SiteID: "plant", StartedAt: at}); err != nil {
		t.Fatal(err)
	}
	if _, err := plant.SetSessionLabels(ctx, "c1", []string{"l1"}, storage.Version{At: at.Add(time.Minute), Origin: "plant"}); err != nil {
		t.Fatal(err)
	}
	rows, err := plant.PendingHistory(ctx, 10)
	if err != nil || len(rows) != 2 {
		t.Fatalf("outbox = %+v %v", rows, err)
	}
	var batch []storage.HistoryMessage
	for _, r := range rows {
		batch = append(batch, storage.HistoryMessage{Origin: "plant-1", Seq: r.Seq, Record: r.Record})
	}
	hq, _ := openTestStore(t) // without Options.Labels
	res, err := hq.ApplyHistory(ctx, batch)
	if err == nil || !errors.Is(err, errNoLabels) {
		t.Fatalf("apply = %+v %v, want the batch failed for want of labels", res, err)
	}
	if _, err := hq.Session(ctx, "c1"); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("the failed batch left its session: %v", err)
	}
	if marks, err := hq.HistoryMarks(ctx); err != nil || len(marks) != 0 {
		t.Errorf("marks after a failed batch = %v %v", marks, err)
	}
	if kept, err := hq.HistoryRejected(ctx); err != nil || len(kept) != 0 {
		t.Errorf("rejected after a failed batch = %+v %v", kept, err)
	}
}
