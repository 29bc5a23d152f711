package sqlite

import (
	"context"
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

// TestSearchFindsForwardedFields: the fields a plant gives a session
// after the call, applied at headquarters, are searched and listed there
// as the plant's. How they apply (versions, order, repeats) is
// storagetest.HistoryApplier's (TestHistoryApplier).
func TestSearchFindsForwardedFields(t *testing.T) {
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
	v := storage.Version{At: start.Add(time.Minute), Origin: "plant"}
	if _, err := plant.SetSessionNotes(ctx, "call", "order a new belt", v); err != nil {
		t.Fatal(err)
	}
	if _, err := plant.SetSessionLabels(ctx, "call", []string{"l2", "l1"}, v); err != nil {
		t.Fatal(err)
	}
	if res, err := hq.ApplyHistory(ctx, messagesOf(t, plant, "plant")); err != nil || len(res.Rejected) != 0 {
		t.Fatalf("apply at headquarters: %+v, %v", res, err)
	}
	want, got := summaryOf(t, plant, "call"), summaryOf(t, hq, "call")
	if !reflect.DeepEqual(got, want) || got.Notes != "order a new belt" || !slices.Equal(got.Labels, []string{"l1", "l2"}) {
		t.Errorf("headquarters lists %+v\nthe plant %+v", got, want)
	}
	if one, err := hq.SessionSummary(ctx, "o1", "call"); err != nil || !reflect.DeepEqual(one, got) {
		t.Errorf("SessionSummary = %+v, %v; the history lists %+v", one, err, got)
	}
	if found, err := hq.SearchSessions(ctx, storage.SessionQuery{OrgID: "o1", Text: "belt", Limit: 5}); err != nil || len(found.Sessions) != 1 {
		t.Errorf("headquarters finds the session by its notes: %+v, %v", found.Sessions, err)
	}
}
