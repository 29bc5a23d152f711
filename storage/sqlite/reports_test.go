package sqlite

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"testing"
	"time"

	"siteline/storage"
	"siteline/storage/storagetest"
)

// reportAt is version v of report "r1" of session "s1", written at t; the
// report was created at 10:30.
func reportAt(v int, t time.Time, body string, fields map[string]string) storage.ServiceReport {
	return storage.ServiceReport{ID: "r1", VersionID: fmt.Sprintf("r1-v%d", v), OrgID: "o1", SiteID: "site-a",
		SessionID: "s1", Version: v, Fields: fields, Body: body, CreatedBy: "u1", CreatedAt: time.Date(2026, 3, 2, 10, 30, 0, 0, time.UTC),
		EditedBy: "u1", EditedAt: t, Origin: "node-a"}
}

func reportIDs(rs []storage.ServiceReport) []string {
	var ids []string
	for _, r := range rs {
		ids = append(ids, r.VersionID)
	}
	return ids
}

// A report is written, edited and deleted as versions: the latest stands,
// every version stays readable, the search finds the standing text only,
// and a version that does not follow the standing one is refused.
func TestServiceReportVersions(t *testing.T) {
	s, _ := openTestStore(t)
	ctx := context.Background()
	t0 := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
	if err := s.CreateSession(ctx, storage.Session{ID: "s1", OrgID: "o1", SiteID: "site-a", CreatedBy: "u1", StartedAt: t0}); err != nil {
		t.Fatal(err)
	}
	v1 := reportAt(1, t0.Add(time.Hour), "Seal replaced on the flange", map[string]string{"asset": "Pump 4", "parts": "gasket DN50"})
	v2 := reportAt(2, t0.Add(2*time.Hour), "Impeller worn, seal replaced", map[string]string{"asset": "Pump 4", "parts": "impeller"})
	for _, v := range []storage.ServiceReport{v1, v2} {
		if err := s.WriteServiceReport(ctx, v); err != nil {
			t.Fatalf("write version %d: %v", v.Version, err)
		}
	}
	got, err := s.ServiceReport(ctx, "o1", "r1")
	if err != nil || got.VersionID != "r1-v2" || got.Body != v2.Body || !reflect.DeepEqual(got.Fields, v2.Fields) {
		t.Fatalf("standing report %+v, %v; want version 2", got, err)
	}
	if _, err := s.ServiceReport(ctx, "o2", "r1"); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("another organisation reads the report: %v", err)
	}
	versions, err := s.ServiceReportVersions(ctx, "o1", "r1")
	if err != nil || !slices.Equal(reportIDs(versions), []string{"r1-v1", "r1-v2"}) || versions[0].Body != v1.Body {
		t.Fatalf("versions %v, %v", reportIDs(versions), err)
	}

	search := func(text string) []string {
		t.Helper()
		rs, err := s.SearchServiceReports(ctx, storage.ServiceReportQuery{OrgID: "o1", Text: text, Limit: 10})
		if err != nil {
			t.Fatalf("search %q: %v", text, err)
		}
		return reportIDs(rs)
	}
	for text, want := range map[string][]string{
		"impel":        {"r1-v2"}, // a prefix of the standing text
		"pump impell":  {"r1-v2"}, // a field's value and the text
		"flange":       nil,       // only in version 1
		"gasket":       nil,       // a field value of version 1
		`"asset" OR x`: nil,       // no FTS5 syntax from the user
		"":             {"r1-v2"},
	} {
		if got := search(text); !slices.Equal(got, want) {
			t.Errorf("search %q = %v, want %v", text, got, want)
		}
	}

	for user, want := range map[string][]string{"u1": {"r1-v2"}, "u9": nil} {
		rs, err := s.SearchServiceReports(ctx, storage.ServiceReportQuery{OrgID: "o1", UserID: user, Limit: 10})
		if err != nil || !slices.Equal(reportIDs(rs), want) {
			t.Errorf("reports of %s's sessions: %v, %v; want %v", user, reportIDs(rs), err, want)
		}
	}

	for _, c := range []struct {
		name string
		r    storage.ServiceReport
		want error
	}{
		{"a stale edit", reportAt(2, t0.Add(3*time.Hour), "late", nil), storage.ErrConflict},
		{"a version skipped", reportAt(4, t0.Add(3*time.Hour), "skip", nil), storage.ErrConflict},
		{"a second creation", func() storage.ServiceReport { r := reportAt(1, t0, "again", nil); r.VersionID = "other"; return r }(), storage.ErrConflict},
		{"another organisation's session", func() storage.ServiceReport {
			r := reportAt(1, t0, "x", nil)
			r.ID, r.VersionID, r.OrgID = "r2", "r2-v1", "o2"
			return r
		}(), storage.ErrNotFound},
		{"no author", func() storage.ServiceReport { r := reportAt(3, t0, "x", nil); r.EditedBy = ""; return r }(), storage.ErrInvalid},
	} {
		if err := s.WriteServiceReport(ctx, c.r); !errors.Is(err, c.want) {
			t.Errorf("%s: %v, want %v", c.name, err, c.want)
		}
	}
	if got, _ := s.ServiceReport(ctx, "o1", "r1"); got.VersionID != "r1-v2" {
		t.Fatalf("a refused write changed the report to %s", got.VersionID)
	}

	del := reportAt(3, t0.Add(4*time.Hour), "", nil)
	del.Deleted = true
	if err := s.WriteServiceReport(ctx, del); err != nil {
		t.Fatal(err)
	}
	if got := search("impeller"); got != nil {
		t.Errorf("a deleted report is found: %v", got)
	}
	if rs, err := s.SessionServiceReports(ctx, "o1", "s1"); err != nil || len(rs) != 0 {
		t.Errorf("session reports after the deletion: %v, %v", reportIDs(rs), err)
	}
	if err := s.WriteServiceReport(ctx, reportAt(4, t0.Add(5*time.Hour), "back", nil)); !errors.Is(err, storage.ErrConflict) {
		t.Errorf("an edit of a deleted report: %v, want a conflict", err)
	}

	pending, err := s.PendingHistory(ctx, 100)
	if err != nil {
		t.Fatal(err)
	}
	var kinds []string
	for _, row := range pending {
		if row.Kind == storage.HistoryServiceReport {
			kinds = append(kinds, row.ID)
		}
	}
	if !slices.Equal(kinds, []string{"r1-v1", "r1-v2", "r1-v3"}) {
		t.Errorf("history records of the report: %v", kinds)
	}
}

// Headquarters applies the versions of a report in whatever order they
// come, and as often: it ends with the plant's versions and the one that
// stands there.
func TestServiceReportVersionsApplyAtHeadquarters(t *testing.T) {
	plant, _ := openTestStore(t)
	hq, _ := openTestStore(t)
	ctx := context.Background()
	t0 := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
	if err := plant.CreateSession(ctx, storage.Session{ID: "s1", OrgID: "o1", SiteID: "site-a", CreatedBy: "u1", StartedAt: t0}); err != nil {
		t.Fatal(err)
	}
	for v := 1; v <= 3; v++ {
		if err := plant.WriteServiceReport(ctx, reportAt(v, t0.Add(time.Duration(v)*time.Hour), fmt.Sprintf("text %d", v), map[string]string{"fault": fmt.Sprintf("F%d", v)})); err != nil {
			t.Fatal(err)
		}
	}
	rows, err := plant.PendingHistory(ctx, 100)
	if err != nil {
		t.Fatal(err)
	}
	var msgs []storage.HistoryMessage
	for _, row := range rows {
		msgs = append(msgs, storage.HistoryMessage{Origin: "node-a", Seq: row.Seq, Record: row.Record})
	}
	slices.Reverse(msgs)
	for range 2 {
		res, err := hq.ApplyHistory(ctx, msgs)
		if err != nil || len(res.Rejected) != 0 {
			t.Fatalf("apply: %+v, %v", res, err)
		}
	}
	want, _ := plant.ServiceReport(ctx, "o1", "r1")
	got, err := hq.ServiceReport(ctx, "o1", "r1")
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("headquarters' report %+v, %v; want %+v", got, err, want)
	}
	versions, err := hq.ServiceReportVersions(ctx, "o1", "r1")
	if err != nil || !slices.Equal(reportIDs(versions), []string{"r1-v1", "r1-v2", "r1-v3"}) {
		t.Errorf("headquarters' versions %v, %v", reportIDs(versions), err)
	}
	if rs, _ := hq.SearchServiceReports(ctx, storage.ServiceReportQuery{OrgID: "o1", Text: "F3", Limit: 5}); !slices.Equal(reportIDs(rs), []string{"r1-v3"}) {
		t.Errorf("headquarters' search for the standing fault: %v", reportIDs(rs))
	}
	if rs, _ := hq.SearchServiceReports(ctx, storage.ServiceReportQuery{OrgID: "o1", Text: "F1", Limit: 5}); len(rs) != 0 {
		t.Errorf("headquarters finds a replaced fault: %v", reportIDs(rs))
	}
}

// TestReportSearch runs the reports' search conformance suite, which
// storage/postgres runs too, on a SQLite file.
func TestReportSearch(t *testing.T) {
	storagetest.ReportSearch(t, func(t *testing.T) storagetest.ReportSearchBackend {
		s, _ := openTestStore(t)
		return s
	})
}
