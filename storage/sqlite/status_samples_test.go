package sqlite

import (
	"context"
	"maps"
	"testing"
	"time"

	"siteline/storage"
)

// The team dashboard's samples: stored, listed per organisation from a
// time on, oldest first; a sample stored again replaces the first; those
// before the given time go.
func TestStatusSamplesAreKeptForTheirHours(t *testing.T) {
	ctx := context.Background()
	s, _ := openTestStore(t)
	t0 := time.Date(2026, 12, 6, 8, 0, 0, 0, time.UTC)
	at := func(m int) time.Time { return t0.Add(time.Duration(m) * time.Minute) }
	sample := func(org, team string, m, available int) storage.StatusSample {
		return storage.StatusSample{OrgID: org, TeamID: team, At: at(m), Counts: map[string]int{"available": available, "busy": 1}}
	}
	if err := s.SaveStatusSamples(ctx, []storage.StatusSample{sample("o1", "t1", 0, 1), sample("o1", "t2", 0, 2), sample("o2", "t9", 0, 9)}, at(-60)); err != nil {
		t.Fatal(err)
	}
	if err := s.SaveStatusSamples(ctx, []storage.StatusSample{sample("o1", "t1", 1, 3), sample("o1", "t1", 0, 4)}, at(-59)); err != nil {
		t.Fatal(err)
	}
	got, err := s.StatusSamples(ctx, "o1", at(0))
	if err != nil {
		t.Fatal(err)
	}
	want := []storage.StatusSample{sample("o1", "t1", 0, 4), sample("o1", "t2", 0, 2), sample("o1", "t1", 1, 3)}
	if len(got) != len(want) {
		t.Fatalf("samples = %+v, want %+v", got, want)
	}
	for i := range want {
		if got[i].TeamID != want[i].TeamID || !got[i].At.Equal(want[i].At) || !maps.Equal(got[i].Counts, want[i].Counts) {
			t.Fatalf("sample %d = %+v, want %+v", i, got[i], want[i])
		}
	}
	// Saving at minute 61 with an hour kept removes minute 0, everywhere.
	if err := s.SaveStatusSamples(ctx, []storage.StatusSample{sample("o1", "t1", 61, 5)}, at(1)); err != nil {
		t.Fatal(err)
	}
	if got, err := s.StatusSamples(ctx, "o1", at(-100)); err != nil || len(got) != 2 || !got[0].At.Equal(at(1)) || !got[1].At.Equal(at(61)) {
		t.Fatalf("after pruning: %+v, %v; want minutes 1 and 61", got, err)
	}
	if got, err := s.StatusSamples(ctx, "o2", at(-100)); err != nil || len(got) != 0 {
		t.Fatalf("o2 after pruning: %+v, %v; want none", got, err)
	}
}
