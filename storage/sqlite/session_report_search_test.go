package sqlite

import (
	"context"
	"slices"
	"testing"
	"time"

	"siteline/storage"
)

// The session search finds a session by the text of its service report
// as it stands: a word of the report's body or fields, not a word an edit
// replaced, nothing once the report is deleted; at the plant that wrote it
// and at headquarters, which applies the versions forwarded to it.
func TestSessionSearchFindsReportText(t *testing.T) {
	plant, _ := openTestStore(t)
	hq, _ := openTestStore(t)
	ctx := context.Background()
	t0 := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
	for _, id := range []string{"s1", "s2"} {
		if err := plant.CreateSession(ctx, storage.Session{ID: id, OrgID: "o1", SiteID: "site-a", CreatedBy: "u1", Name: "pump check", StartedAt: t0}); err != nil {
			t.Fatal(err)
		}
	}
	forwarded := 0
	forward := func() {
		t.Helper()
		rows, err := plant.PendingHistory(ctx, 100)
		if err != nil {
			t.Fatal(err)
		}
		var msgs []storage.HistoryMessage
		for _, row := range rows[forwarded:] {
			msgs = append(msgs, storage.HistoryMessage{Origin: "node-a", Seq: row.Seq, Record: row.Record})
		}
		forwarded = len(rows)
		if res, err := hq.ApplyHistory(ctx, msgs); err != nil || len(res.Rejected) != 0 {
			t.Fatalf("apply at headquarters: %+v, %v", res, err)
		}
	}
	expect := func(step, text string, want ...string) {
		t.Helper()
		defer func(n int) { rareMatches = n }(rareMatches)
		for _, st := range []struct {
			name string
			s    *Store
		}{{"plant", plant}, {"headquarters", hq}} {
			// From the term's matches and from the sort order: both ways.
			for _, rare := range []int{4000, 0} {
				rareMatches = rare
				page, err := st.s.SearchSessions(ctx, storage.SessionQuery{OrgID: "o1", Text: text})
				if err != nil {
					t.Fatal(err)
				}
				var got []string
				for _, ss := range page.Sessions {
					got = append(got, ss.ID)
				}
				if !slices.Equal(got, want) {
					t.Fatalf("%s: %s finds %v for %q, want %v", step, st.name, got, text, want)
				}
			}
		}
	}

	r := reportAt(1, t0.Add(time.Hour), "Gearbox coupling worn", map[string]string{"part": "Impeller 7"})
	if err := plant.WriteServiceReport(ctx, r); err != nil {
		t.Fatal(err)
	}
	forward()
	expect("written", "gearbox", "s1")
	expect("written", "impel", "s1")
	expect("written", "pump coupling", "s1")
	expect("written", "pump", "s1", "s2")

	r = reportAt(2, t0.Add(2*time.Hour), "Shaft realigned", map[string]string{"part": "none"})
	if err := plant.WriteServiceReport(ctx, r); err != nil {
		t.Fatal(err)
	}
	forward()
	expect("edited", "gearbox")
	expect("edited", "impeller")
	expect("edited", "shaft", "s1")

	r = reportAt(3, t0.Add(3*time.Hour), "Shaft realigned", map[string]string{"part": "none"})
	r.Deleted = true
	if err := plant.WriteServiceReport(ctx, r); err != nil {
		t.Fatal(err)
	}
	forward()
	expect("deleted", "shaft")
	expect("deleted", "pump", "s1", "s2")

	for _, s := range []*Store{plant, hq} {
		checkSearchIndex(t, s)
	}
}
