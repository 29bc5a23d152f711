package postgres

import (
	"context"
	"errors"
	"testing"
	"time"

	"siteline/storage"
	"siteline/storage/storagetest"
)

// TestApplyHistoryKeepsRejectedMessages: a rejected message is kept as it
// came, byte for byte, for an operator to read or replay.
func TestApplyHistoryKeepsRejectedMessages(t *testing.T) {
	ctx := context.Background()
	hq, _ := openTestStore(t)
	batch := []storage.HistoryMessage{
		{Origin: "plant-1", Seq: 1, Record: []byte("not json \x00 \xff")},
		{Origin: "plant-1", Seq: 2, Record: []byte(`{"id":"c1", "kind":"session.created",  "session":{"id":"c1"}}`)},
	}
	res, err := hq.ApplyHistory(ctx, batch)
	if err != nil || len(res.Rejected) != 2 {
		t.Fatalf("apply = %+v %v, want both rejected", res, err)
	}
	for _, m := range batch {
		var kept []byte
		if err := hq.pool.QueryRow(ctx, `SELECT message FROM history_rejected WHERE origin = $1 AND seq = $2`, m.Origin, m.Seq).Scan(&kept); err != nil || string(kept) != string(m.Record) {
			t.Errorf("kept %q %v, want %q", kept, err, m.Record)
		}
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
