package web

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"siteline/policy"
	"siteline/storage"
)

// reportsFake serves one report of one session, in two versions.
type reportsFake struct {
	reportService
	edited []ReportInput
}

func reportVersion(v int, body string) storage.ServiceReport {
	at := time.Date(2026, 3, 2, 10, v, 0, 0, time.UTC)
	return storage.ServiceReport{ID: "r1", VersionID: "r1-v" + string(rune('0'+v)), OrgID: "o1", SessionID: "s1", Version: v,
		Fields: map[string]string{"asset": "Pump 4", "fault": "Seal <leak>"}, Body: body, EditedAt: at, CreatedAt: at, SessionName: "Pump call"}
}

func (f *reportsFake) Reports(context.Context, Actor, string, int) ([]storage.ServiceReport, error) {
	return []storage.ServiceReport{reportVersion(2, "Replaced the seal")}, nil
}

func (f *reportsFake) Report(_ context.Context, _ Actor, id string) (ReportDetail, error) {
	if id != "r1" {
		return ReportDetail{}, storage.ErrNotFound
	}
	return ReportDetail{Report: reportVersion(2, "Replaced the seal"), Versions: []storage.ServiceReport{reportVersion(1, "Looked at it"), reportVersion(2, "Replaced the seal")},
		Session: storage.Session{ID: "s1", Name: "Pump call", StartedAt: time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)}}, nil
}

func (f *reportsFake) EditReport(_ context.Context, _ Actor, id string, in ReportInput) (storage.ServiceReport, error) {
	if in.Version != 2 {
		return storage.ServiceReport{}, errors.Join(errors.New("the report was changed since"), storage.ErrConflict)
	}
	f.edited = append(f.edited, in)
	return reportVersion(3, in.Body), nil
}

func (f *reportsFake) SessionPDF(_ context.Context, _ Actor, id string, w io.Writer) error {
	if id != "s1" {
		return storage.ErrNotFound
	}
	_, err := io.WriteString(w, "%PDF-1.3 fake")
	return err
}

// oneCall is a Calls that knows session s1.
type oneCall struct{ Calls }

func (oneCall) ViewCall(_ context.Context, _ Actor, id string) (storage.Session, error) {
	if id != "s1" {
		return storage.Session{}, storage.ErrNotFound
	}
	return storage.Session{ID: "s1", Name: "Pump call", StartedAt: time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)}, nil
}

// The report pages render a report with its history, the list and the
// form to write one; an edit posts the version it changes, and a stale
// one shows the conflict on the page.
func TestReportPages(t *testing.T) {
	rf := &reportsFake{}
	s, d := newTestServer(t, withServices, func(deps *Deps) { deps.Reports, deps.Calls = rf, oneCall{} })
	d.addUser("u1", adminEmail, testPass, policy.ServiceReports, policy.ReadServiceReports, policy.CreateServiceReport,
		policy.EditServiceReports, policy.DeleteServiceReports, policy.CallLogs)
	b := &browser{t: t, s: s}
	b.login(adminEmail, testPass)

	for path, wants := range map[string][]string{
		"/reports":                 {"Pump call", "Seal &lt;leak&gt;", `href="/reports/r1"`},
		"/reports/r1":              {"Replaced the seal", "Version 1", "Looked at it", `name="version" value="2"`, "saved as version 3", "Delete report"},
		"/sessions/s1/reports/new": {`action="/sessions/s1/reports"`, `name="field_asset"`, `name="field_fault"`, `name="body"`},
	} {
		got := b.page(path)
		if got.status != http.StatusOK {
			t.Fatalf("GET %s = %d %s", path, got.status, got.body)
		}
		for _, w := range wants {
			if !strings.Contains(got.body, w) {
				t.Errorf("GET %s lacks %q", path, w)
			}
		}
	}
	if got := b.page("/reports/nope"); got.status != http.StatusNotFound {
		t.Errorf("an unknown report = %d, want 404", got.status)
	}

	got := b.form("/reports/r1", url.Values{"version": {"2"}, "field_asset": {"Pump 4"}, "body": {"Replaced the seal and the belt"}})
	if got.status != http.StatusSeeOther || len(rf.edited) != 1 || rf.edited[0].Fields["asset"] != "Pump 4" || rf.edited[0].Body != "Replaced the seal and the belt" {
		t.Fatalf("edit = %d, edits %+v", got.status, rf.edited)
	}
	got = b.form("/reports/r1", url.Values{"version": {"1"}, "body": {"stale"}})
	if got.status != http.StatusConflict || !strings.Contains(got.body, "changed since") || !strings.Contains(got.body, "stale") {
		t.Errorf("a stale edit = %d; want 409 showing the conflict and what was typed", got.status)
	}

	pdf := b.send("GET", "/sessions/s1/report.pdf", "", "")
	if pdf.status != http.StatusOK || pdf.header.Get("Content-Type") != "application/pdf" || !strings.HasPrefix(pdf.body, "%PDF") {
		t.Errorf("the session's PDF = %d %s", pdf.status, pdf.header.Get("Content-Type"))
	}
}
