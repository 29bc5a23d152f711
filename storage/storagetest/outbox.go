package storagetest

import (
	"context"
	"errors"
	"reflect"
	"testing"
	"time"

	"siteline/storage"
)

// OutboxBackend is what HistoryOutbox drives: the session store whose
// writes fill the outbox, and the outbox the publisher reads, stamps and
// prunes.
type OutboxBackend interface {
	storage.SessionStore
	storage.HistoryOutbox
}

// HistoryOutbox tests storage.HistoryOutbox. open returns a new, empty
// store for each subtest, closed when that subtest ends.
func HistoryOutbox(t *testing.T, open func(t *testing.T) OutboxBackend) {
	for _, tc := range []struct {
		name string
		test func(t *testing.T, s OutboxBackend)
	}{
		{"PublishCountPrune", outboxPublishCountPrune},
		{"MarkKeepsFirstStamp", outboxMarkKeepsFirstStamp},
		{"LastSurvivesPruning", outboxLastSurvivesPruning},
		{"Invalid", outboxInvalid},
	} {
		t.Run(tc.name, func(t *testing.T) { tc.test(t, open(t)) })
	}
}

// recordSession writes a session's life: created, two joins, a chat, a
// leave and the end, six outbox records with the ids sessionRecordIDs
// lists.
func recordSession(t *testing.T, s storage.SessionStore, id string) {
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
}

// sessionRecordIDs and sessionRecordKinds are the records recordSession
// adds, in order.
func sessionRecordIDs(id string) []string {
	return []string{id, id + "-join-p1", id + "-join-p2", id + "-chat", id + "-left", id + "-end"}
}

var sessionRecordKinds = []string{storage.HistorySessionCreated, storage.HistoryJoined, storage.HistoryJoined,
	storage.HistoryEvent, storage.HistoryLeft, storage.HistorySessionEnded}

// outboxPublishCountPrune: the outbox numbers records 1, 2, 3... in
// commit order; marking them published takes them out of the pending
// list; the counts follow; pruning deletes only what is published, at or
// below the mark and published before the given time.
func outboxPublishCountPrune(t *testing.T, s OutboxBackend) {
	ctx := context.Background()
	recordSession(t, s, "c1")
	// A write that fails adds nothing.
	err := s.RecordJoin(ctx, storage.SessionParticipant{ID: "px", SessionID: "nope", UserID: "u", JoinedAt: t0},
		storage.SessionEvent{ID: "ex", SessionID: "nope", At: t0, Kind: storage.EventJoined})
	if !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("join unknown session = %v", err)
	}
	if err := s.AppendSessionEvent(ctx, storage.SessionEvent{ID: "c1-chat2", SessionID: "c1", At: t0.Add(6 * time.Second),
		Kind: storage.EventChat}); err != nil {
		t.Fatal(err)
	}

	rows, err := s.PendingHistory(ctx, 100)
	if err != nil {
		t.Fatal(err)
	}
	var kinds, ids []string
	for i, r := range rows {
		if r.Seq != int64(i+1) {
			t.Errorf("row %d has seq %d", i, r.Seq)
		}
		if r.PublishedAt != nil {
			t.Errorf("pending row %d is published at %s", r.Seq, r.PublishedAt)
		}
		kinds, ids = append(kinds, r.Kind), append(ids, r.ID)
	}
	wantKinds := append(append([]string{}, sessionRecordKinds...), storage.HistoryEvent)
	wantIDs := append(sessionRecordIDs("c1"), "c1-chat2")
	if !reflect.DeepEqual(kinds, wantKinds) || !reflect.DeepEqual(ids, wantIDs) {
		t.Fatalf("outbox = %v %v, want %v %v", kinds, ids, wantKinds, wantIDs)
	}

	counts := func(acked int64) [3]int64 {
		t.Helper()
		last, unpublished, unacked, err := s.HistoryCounts(ctx, acked)
		if err != nil {
			t.Fatal(err)
		}
		return [3]int64{last, unpublished, unacked}
	}
	if got := counts(2); got != [3]int64{7, 7, 5} {
		t.Fatalf("counts = %v, want last 7, 7 unpublished, 5 above 2", got)
	}
	if err := s.MarkHistoryPublished(ctx, 4, t0); err != nil {
		t.Fatal(err)
	}
	if rows, _ := s.PendingHistory(ctx, 100); len(rows) != 3 || rows[0].Seq != 5 {
		t.Fatalf("pending after mark = %+v", rows)
	}
	if got := counts(0); got != [3]int64{7, 3, 7} {
		t.Fatalf("counts after marking 4 = %v, want 7 3 7", got)
	}
	// Pruning keeps what is unpublished or not yet acknowledged.
	n, err := s.PruneHistoryOutbox(ctx, 3, t0.Add(time.Second))
	if err != nil || n != 3 {
		t.Fatalf("prune = %d %v, want 3", n, err)
	}
	if got := counts(3); got != [3]int64{7, 3, 4} {
		t.Fatalf("counts after prune = %v, want 7 3 4", got)
	}
	// Record 4 is published and acknowledged now, the rest is not
	// published: pruning through 7 takes record 4 alone.
	if n, err := s.PruneHistoryOutbox(ctx, 7, t0.Add(time.Second)); err != nil || n != 1 {
		t.Fatalf("prune through 7 = %d %v, want 1", n, err)
	}
	if rows, _ := s.PendingHistory(ctx, 100); len(rows) != 3 || rows[0].Seq != 5 || rows[2].Seq != 7 {
		t.Fatalf("pending after pruning = %+v", rows)
	}
}

// outboxMarkKeepsFirstStamp: marking records published again does not
// move the time they were first published, which pruning goes by.
func outboxMarkKeepsFirstStamp(t *testing.T, s OutboxBackend) {
	ctx := context.Background()
	recordSession(t, s, "c1")
	if err := s.MarkHistoryPublished(ctx, 2, t0); err != nil {
		t.Fatal(err)
	}
	if err := s.MarkHistoryPublished(ctx, 6, t0.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	// Records 1 and 2 were published at t0, 3 to 6 an hour later.
	if n, err := s.PruneHistoryOutbox(ctx, 6, t0.Add(time.Minute)); err != nil || n != 2 {
		t.Fatalf("prune what was published before t0+1m = %d %v, want 2", n, err)
	}
	if n, err := s.PruneHistoryOutbox(ctx, 6, t0.Add(time.Hour)); err != nil || n != 0 {
		t.Fatalf("prune what was published before t0+1h = %d %v, want 0 (published at, not before)", n, err)
	}
	if n, err := s.PruneHistoryOutbox(ctx, 6, t0.Add(time.Hour+time.Nanosecond)); err != nil || n != 4 {
		t.Fatalf("prune what was published before t0+1h+1ns = %d %v, want 4", n, err)
	}
}

// outboxLastSurvivesPruning: the last sequence stays when every record is
// pruned, and the next record takes the number after it.
func outboxLastSurvivesPruning(t *testing.T, s OutboxBackend) {
	ctx := context.Background()
	if last, unpublished, unacked, err := s.HistoryCounts(ctx, 0); err != nil || last != 0 || unpublished != 0 || unacked != 0 {
		t.Fatalf("counts of an empty outbox = %d %d %d %v, want 0 0 0", last, unpublished, unacked, err)
	}
	recordSession(t, s, "c1")
	if err := s.MarkHistoryPublished(ctx, 6, t0); err != nil {
		t.Fatal(err)
	}
	if n, err := s.PruneHistoryOutbox(ctx, 6, t0.Add(time.Second)); err != nil || n != 6 {
		t.Fatalf("prune all = %d %v, want 6", n, err)
	}
	if last, unpublished, unacked, err := s.HistoryCounts(ctx, 6); err != nil || last != 6 || unpublished != 0 || unacked != 0 {
		t.Fatalf("counts of a pruned outbox = %d %d %d %v, want 6 0 0", last, unpublished, unacked, err)
	}
	recordSession(t, s, "c2")
	rows, err := s.PendingHistory(ctx, 100)
	if err != nil || len(rows) != 6 || rows[0].Seq != 7 || rows[0].ID != "c2" {
		t.Fatalf("pending after pruning = %+v %v, want c2's records from seq 7", rows, err)
	}
}

// outboxInvalid: a mark or a prune without its time is refused and
// changes nothing.
func outboxInvalid(t *testing.T, s OutboxBackend) {
	ctx := context.Background()
	recordSession(t, s, "c1")
	if err := s.MarkHistoryPublished(ctx, 6, time.Time{}); !errors.Is(err, storage.ErrInvalid) {
		t.Errorf("mark without a time = %v, want invalid", err)
	}
	if rows, _ := s.PendingHistory(ctx, 100); len(rows) != 6 {
		t.Errorf("a refused mark published %d records", 6-len(rows))
	}
	if err := s.MarkHistoryPublished(ctx, 6, t0); err != nil {
		t.Fatal(err)
	}
	if n, err := s.PruneHistoryOutbox(ctx, 6, time.Time{}); !errors.Is(err, storage.ErrInvalid) || n != 0 {
		t.Errorf("prune without a time = %d %v, want invalid", n, err)
	}
	if _, unpublished, unacked, _ := s.HistoryCounts(ctx, 0); unpublished != 0 || unacked != 6 {
		t.Errorf("a refused prune left %d records, want 6", unacked)
	}
}
