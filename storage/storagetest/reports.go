package storagetest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"testing"
	"time"

	"siteline/storage"
)

// ReportBackend is what ServiceReports drives: a store that writes
// service reports at this node, with its outbox, its search and the
// history applier that takes them to headquarters.
type ReportBackend interface {
	ApplierBackend
	WriteServiceReport(ctx context.Context, r storage.ServiceReport) error
	SearchServiceReports(ctx context.Context, q storage.ServiceReportQuery) ([]storage.ServiceReport, error)
}

// ServiceReports tests WriteServiceReport. open returns a new, empty
// store, closed when the test that opened it ends.
func ServiceReports(t *testing.T, open func(t *testing.T) ReportBackend) {
	for _, tc := range []struct {
		name string
		test func(t *testing.T, open func(t *testing.T) ReportBackend)
	}{
		{"Versions", reportsVersions},
		{"Refused", reportsRefused},
		{"Applied", reportsApplied},
	} {
		t.Run(tc.name, func(t *testing.T) { tc.test(t, open) })
	}
}

// writtenReport is version v of report "r1" of session "s1", written at
// t; the report was created a minute after t0.
func writtenReport(v int, t time.Time, body string, fields map[string]string) storage.ServiceReport {
	return storage.ServiceReport{ID: "r1", VersionID: fmt.Sprintf("r1-v%d", v), OrgID: "o1", SiteID: "site-a",
		SessionID: "s1", Version: v, Fields: fields, Body: body, CreatedBy: "u1", CreatedAt: t0.Add(time.Minute),
		EditedBy: "u1", EditedAt: t, Origin: "node-a"}
}

// reportStore opens a store holding sessions s1 and s2 of organisation o1.
func reportStore(t *testing.T, open func(t *testing.T) ReportBackend) ReportBackend {
	t.Helper()
	s := open(t)
	for _, id := range []string{"s1", "s2"} {
		if err := s.CreateSession(context.Background(), storage.Session{ID: id, OrgID: "o1", SiteID: "site-a", CreatedBy: "u1", StartedAt: t0}); err != nil {
			t.Fatal(err)
		}
	}
	return s
}

func writeReports(t *testing.T, s ReportBackend, rs ...storage.ServiceReport) {
	t.Helper()
	for _, r := range rs {
		if err := s.WriteServiceReport(context.Background(), r); err != nil {
			t.Fatalf("write version %d of report %s: %v", r.Version, r.ID, err)
		}
	}
}

func reportIDs(rs []storage.ServiceReport) []string {
	var ids []string
	for _, r := range rs {
		ids = append(ids, r.VersionID)
	}
	return ids
}

// reportsVersions: a report is written, edited and deleted as versions:
// the latest stands, every version stays readable, the search finds the
// standing text only, a deleted report is neither listed nor found nor
// edited, and every version adds its history record, carrying the
// session and the version, to the outbox.
func reportsVersions(t *testing.T, open func(t *testing.T) ReportBackend) {
	s := reportStore(t, open)
	ctx := context.Background()
	v1 := writtenReport(1, t0.Add(time.Hour), "Seal replaced on the flange", map[string]string{"asset": "Pump 4", "parts": "gasket DN50"})
	v2 := writtenReport(2, t0.Add(2*time.Hour), "Impeller worn, seal replaced", map[string]string{"asset": "Pump 4", "parts": "impeller"})
	writeReports(t, s, v1, v2)
	got, err := s.ServiceReport(ctx, "o1", "r1")
	if err != nil || !reflect.DeepEqual(got, v2) {
		t.Fatalf("standing report =\n %+v, %v; want\n %+v", got, err, v2)
	}
	if _, err := s.ServiceReport(ctx, "o2", "r1"); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("another organisation reads the report: %v", err)
	}
	versions, err := s.ServiceReportVersions(ctx, "o1", "r1")
	if err != nil || !slices.Equal(reportIDs(versions), []string{"r1-v1", "r1-v2"}) || !reflect.DeepEqual(versions[0], v1) {
		t.Fatalf("versions %v, %v", reportIDs(versions), err)
	}
	if rs, err := s.SessionServiceReports(ctx, "o1", "s1"); err != nil || !slices.Equal(reportIDs(rs), []string{"r1-v2"}) {
		t.Errorf("session reports %v, %v", reportIDs(rs), err)
	}

	search := func(q storage.ServiceReportQuery) []string {
		t.Helper()
		q.OrgID, q.Limit = "o1", 10
		rs, err := s.SearchServiceReports(ctx, q)
		if err != nil {
			t.Fatalf("search %+v: %v", q, err)
		}
		return reportIDs(rs)
	}
	for text, want := range map[string][]string{
		"impel":       {"r1-v2"}, // a prefix of the standing text
		"pump impell": {"r1-v2"}, // a field's value and the text
		"flange":      nil,       // only in version 1
		"gasket":      nil,       // a field value of version 1
		"":            {"r1-v2"},
	} {
		if got := search(storage.ServiceReportQuery{Text: text}); !slices.Equal(got, want) {
			t.Errorf("search %q = %v, want %v", text, got, want)
		}
	}
	for user, want := range map[string][]string{"u1": {"r1-v2"}, "u9": nil} {
		if got := search(storage.ServiceReportQuery{UserID: user}); !slices.Equal(got, want) {
			t.Errorf("reports of %s's sessions = %v, want %v", user, got, want)
		}
	}

	del := writtenReport(3, t0.Add(4*time.Hour), "", nil)
	del.Deleted = true
	writeReports(t, s, del)
	if got := search(storage.ServiceReportQuery{Text: "impeller"}); got != nil {
		t.Errorf("a deleted report is found: %v", got)
	}
	if rs, err := s.SessionServiceReports(ctx, "o1", "s1"); err != nil || len(rs) != 0 {
		t.Errorf("session reports after the deletion: %v, %v", reportIDs(rs), err)
	}
	if err := s.WriteServiceReport(ctx, writtenReport(4, t0.Add(5*time.Hour), "back", nil)); !errors.Is(err, storage.ErrConflict) {
		t.Errorf("an edit of a deleted report: %v, want a conflict", err)
	}

	ss, err := s.Session(ctx, "s1")
	if err != nil {
		t.Fatal(err)
	}
	var records []string
	for _, row := range pending(t, s) {
		if row.Kind != storage.HistoryServiceReport {
			continue
		}
		records = append(records, row.ID)
		var rec storage.HistoryRecord
		if err := json.Unmarshal(row.Record, &rec); err != nil {
			t.Fatal(err)
		}
		if rec.ID != row.ID || rec.Report == nil || rec.Report.VersionID != row.ID || rec.Session == nil || rec.Session.ID != ss.ID ||
			rec.Session.OrgID != ss.OrgID || !row.CreatedAt.Equal(rec.Report.EditedAt) {
			t.Errorf("outbox row %+v holds %+v", row, rec)
		}
	}
	if !slices.Equal(records, []string{"r1-v1", "r1-v2", "r1-v3"}) {
		t.Errorf("history records of the report: %v", records)
	}
}

// reportsRefused: a version that does not follow the standing one, or
// does not belong where it claims, is refused with the error that says
// why, and changes nothing, in the store or in its outbox.
func reportsRefused(t *testing.T, open func(t *testing.T) ReportBackend) {
	s := reportStore(t, open)
	ctx := context.Background()
	writeReports(t, s, writtenReport(1, t0.Add(time.Hour), "one", nil), writtenReport(2, t0.Add(2*time.Hour), "two", nil))
	before := len(pending(t, s))
	with := func(v int, change func(r *storage.ServiceReport)) storage.ServiceReport {
		r := writtenReport(v, t0.Add(3*time.Hour), "x", nil)
		change(&r)
		return r
	}
	for _, c := range []struct {
		name string
		r    storage.ServiceReport
		want error
	}{
		{"a stale edit", writtenReport(2, t0.Add(3*time.Hour), "late", nil), storage.ErrConflict},
		{"a version skipped", writtenReport(4, t0.Add(3*time.Hour), "skip", nil), storage.ErrConflict},
		{"a second creation", with(1, func(r *storage.ServiceReport) { r.VersionID = "other" }), storage.ErrConflict},
		{"a version id taken", with(3, func(r *storage.ServiceReport) { r.VersionID = "r1-v1" }), storage.ErrConflict},
		{"a later version of no report", with(2, func(r *storage.ServiceReport) { r.ID, r.VersionID = "r2", "r2-v2" }), storage.ErrNotFound},
		{"no session", with(1, func(r *storage.ServiceReport) { r.ID, r.VersionID, r.SessionID = "r2", "r2-v1", "s9" }), storage.ErrNotFound},
		{"another organisation's session", with(1, func(r *storage.ServiceReport) { r.ID, r.VersionID, r.OrgID = "r2", "r2-v1", "o2" }), storage.ErrNotFound},
		{"another session", with(3, func(r *storage.ServiceReport) { r.SessionID = "s2" }), storage.ErrInvalid},
		{"no author", with(3, func(r *storage.ServiceReport) { r.EditedBy = "" }), storage.ErrInvalid},
		{"version 0", with(0, func(r *storage.ServiceReport) {}), storage.ErrInvalid},
		{"no edit time", with(3, func(r *storage.ServiceReport) { r.EditedAt = time.Time{} }), storage.ErrInvalid},
	} {
		if err := s.WriteServiceReport(ctx, c.r); !errors.Is(err, c.want) {
			t.Errorf("%s: %v, want %v", c.name, err, c.want)
		}
	}
	if got, err := s.ServiceReport(ctx, "o1", "r1"); err != nil || got.VersionID != "r1-v2" {
		t.Errorf("after the refused writes the report stands at %s, %v", got.VersionID, err)
	}
	if vs, err := s.ServiceReportVersions(ctx, "o1", "r1"); err != nil || len(vs) != 2 {
		t.Errorf("after the refused writes the versions are %v, %v", reportIDs(vs), err)
	}
	if _, err := s.ServiceReport(ctx, "o1", "r2"); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("a refused creation left report r2: %v", err)
	}
	if after := len(pending(t, s)); after != before {
		t.Errorf("the refused writes left %d outbox records", after-before)
	}
}

// reportsApplied: headquarters applies the records of the versions a
// node wrote in whatever order they come, and as often, and ends with
// the node's versions and the one that stands there.
func reportsApplied(t *testing.T, open func(t *testing.T) ReportBackend) {
	plant, hq := reportStore(t, open), open(t)
	ctx := context.Background()
	for v := 1; v <= 3; v++ {
		writeReports(t, plant, writtenReport(v, t0.Add(time.Duration(v)*time.Hour), fmt.Sprintf("text %d", v),
			map[string]string{"fault": fmt.Sprintf("F%d", v)}))
	}
	msgs := reversed(messagesOf(t, plant, "node-a"))
	for range 2 {
		mustApplyHistory(t, hq, msgs)
	}
	want, _ := plant.ServiceReport(ctx, "o1", "r1")
	got, err := hq.ServiceReport(ctx, "o1", "r1")
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("headquarters' report =\n %+v, %v; want\n %+v", got, err, want)
	}
	versions, err := hq.ServiceReportVersions(ctx, "o1", "r1")
	if err != nil || !slices.Equal(reportIDs(versions), []string{"r1-v1", "r1-v2", "r1-v3"}) {
		t.Errorf("headquarters' versions %v, %v", reportIDs(versions), err)
	}
	search := func(text string) []string {
		rs, err := hq.SearchServiceReports(ctx, storage.ServiceReportQuery{OrgID: "o1", Text: text, Limit: 5})
		if err != nil {
			t.Fatalf("search %q: %v", text, err)
		}
		return reportIDs(rs)
	}
	if got := search("F3"); !slices.Equal(got, []string{"r1-v3"}) {
		t.Errorf("headquarters' search for the standing fault: %v", got)
	}
	if got := search("F1"); len(got) != 0 {
		t.Errorf("headquarters finds a replaced fault: %v", got)
	}
}
