package sqlite

import (
	"context"
	"errors"
	"reflect"
	"slices"
	"testing"
	"time"

	"siteline/storage"
)

// summaryOf is session id as the history lists it.
func summaryOf(t *testing.T, s *Store, id string) storage.SessionSummary {
	t.Helper()
	page, err := s.SearchSessions(context.Background(), storage.SessionQuery{OrgID: "o1", Limit: 50})
	if err != nil {
		t.Fatal(err)
	}
	for _, ss := range page.Sessions {
		if ss.ID == id {
			return ss
		}
	}
	t.Fatalf("session %s is not in the history", id)
	return storage.SessionSummary{}
}

// The fields a plant gives a session after the call are site history:
// headquarters, applying the plant's records in any order (here the
// latest first) and more than once, ends with the plant's final fields.
func TestSessionFieldsReachHeadquarters(t *testing.T) {
	ctx := context.Background()
	plant, _ := openTestStore(t)
	hq, _ := openTestStore(t)
	for _, s := range []*Store{plant, hq} {
		mustApply(t, s, 1, seed())
	}
	start := time.Date(2026, 4, 1, 9, 0, 0, 0, time.UTC)
	if err := plant.CreateSession(ctx, storage.Session{ID: "call", OrgID: "o1", SiteID: "s1", Name: "Call by Alice", CreatedBy: "u1", StartedAt: start}); err != nil {
		t.Fatal(err)
	}
	at := func(min int) storage.Version {
		return storage.Version{At: start.Add(time.Duration(min) * time.Minute), Origin: "plant"}
	}
	solved := start.Add(40 * time.Minute)
	for _, set := range []func() (bool, error){
		func() (bool, error) { return plant.SetSessionDetails(ctx, "call", "Press 7 jam", "restart it", at(1)) },
		func() (bool, error) { return plant.SetSessionOutcome(ctx, "call", storage.OutcomeFollowUp, nil, at(2)) },
		func() (bool, error) { return plant.SetSessionLabels(ctx, "call", []string{"l1"}, at(3)) },
		func() (bool, error) { return plant.SetSessionNotes(ctx, "call", "order a new belt", at(4)) },
		func() (bool, error) {
			return plant.SetSessionOutcome(ctx, "call", storage.OutcomeSolved, &solved, at(5))
		},
		func() (bool, error) { return plant.SetSessionLabels(ctx, "call", []string{"l1", "l2"}, at(6)) },
	} {
		if ok, err := set(); err != nil || !ok {
			t.Fatalf("set at the plant: %v, %v", ok, err)
		}
	}
	// A change older than the one standing is refused and not forwarded.
	if ok, err := plant.SetSessionNotes(ctx, "call", "stale", at(3)); err != nil || ok {
		t.Fatalf("an older change applied: %v, %v", ok, err)
	}

	rows, err := plant.PendingHistory(ctx, 100)
	if err != nil {
		t.Fatal(err)
	}
	var msgs []storage.HistoryMessage
	fields := 0
	for _, row := range rows {
		msgs = append(msgs, storage.HistoryMessage{Origin: "plant", Seq: row.Seq, Record: row.Record})
		if row.Kind == storage.HistoryFields {
			fields++
		}
	}
	if fields != 6 {
		t.Errorf("%d field changes in the outbox, want the 6 that applied", fields)
	}
	slices.Reverse(msgs)
	for range 2 {
		if res, err := hq.ApplyHistory(ctx, msgs); err != nil || len(res.Rejected) != 0 {
			t.Fatalf("apply at headquarters: %+v, %v", res, err)
		}
	}
	want, got := summaryOf(t, plant, "call"), summaryOf(t, hq, "call")
	if one, err := hq.SessionSummary(ctx, "o1", "call"); err != nil || !reflect.DeepEqual(one, got) {
		t.Errorf("SessionSummary = %+v, %v; the history lists %+v", one, err, got)
	}
	if _, err := hq.SessionSummary(ctx, "o2", "call"); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("another organisation reads the session: %v", err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("headquarters holds %+v\nthe plant %+v", got, want)
	}
	if want.Name != "Press 7 jam" || want.Outcome != storage.OutcomeSolved || want.Notes != "order a new belt" ||
		!slices.Equal(want.Labels, []string{"l1", "l2"}) || want.SolvedAt == nil || !want.SolvedAt.Equal(solved) {
		t.Errorf("the plant's fields: %+v", want)
	}
	if found, err := hq.SearchSessions(ctx, storage.SessionQuery{OrgID: "o1", Text: "belt", Limit: 5}); err != nil || len(found.Sessions) != 1 {
		t.Errorf("headquarters finds the session by its notes: %+v, %v", found.Sessions, err)
	}
}
