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

// TestApplyHistoryRejectsReports: the records of service reports, whose
// tables this store does not have yet, are rejected with a reason that
// says so, kept byte for byte, and leave nothing behind; the records
// around them apply.
func TestApplyHistoryRejectsReports(t *testing.T) {
	ctx := context.Background()
	hq, _ := openTestStore(t)
	at := time.Date(2025, 3, 1, 8, 30, 0, 0, time.UTC)
	ss := storage.Session{ID: "c1", OrgID: "o1", SiteID: "plant", Kind: storage.SessionConference, Status: storage.SessionActive, CreatedBy: "u1", StartedAt: at}
	batch := []storage.HistoryMessage{
		message(t, "plant-1", 1, storage.HistoryRecord{ID: "v1", Kind: storage.HistoryServiceReport, Session: &ss,
			Report: &storage.ServiceReport{ID: "rep1", VersionID: "v1", OrgID: "o1", SiteID: "plant", SessionID: "c1", Version: 1}}),
		message(t, "plant-1", 2, storage.HistoryRecord{ID: "c2", Kind: storage.HistorySessionCreated,
			Session: &storage.Session{ID: "c2", OrgID: "o1", SiteID: "plant", Kind: storage.SessionConference, Status: storage.SessionActive, StartedAt: at}}),
	}
	res, err := hq.ApplyHistory(ctx, batch)
	if err != nil {
		t.Fatal(err)
	}
	if res.Applied != 1 || len(res.Rejected) != 1 || res.Rejected[0].Seq != 1 || res.Rejected[0].ID != "v1" ||
		!strings.Contains(res.Rejected[0].Reason, "no service reports yet") {
		t.Fatalf("apply = %+v, want the report rejected naming the missing support, and the session applied", res)
	}
	if _, err := hq.Session(ctx, "c1"); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("the rejected report left its session: %v", err)
	}
	if _, err := hq.Session(ctx, "c2"); err != nil {
		t.Errorf("the session behind the report: %v", err)
	}
	var message []byte
	if err := hq.pool.QueryRow(ctx, `SELECT message FROM history_rejected WHERE origin = 'plant-1' AND seq = 1`).Scan(&message); err != nil || string(message) != string(batch[0].Record) {
		t.Errorf("kept message %s %v, want it byte for byte: %s", message, err, batch[0].Record)
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
