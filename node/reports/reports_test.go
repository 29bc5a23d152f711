package reports

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"siteline/policy"
	"siteline/storage"
	"siteline/storage/sqlite"
	"siteline/web"
)

// The service on a real store in a temporary file, with small fakes of
// who may read which session and who holds which permission.

type sessionsFake struct {
	store   *sqlite.Store
	readers map[string][]string // session id → users who may read it
}

func (f sessionsFake) ViewCall(ctx context.Context, a web.Actor, id string) (storage.Session, error) {
	s, err := f.store.Session(ctx, id)
	if err != nil || s.OrgID != a.OrgID {
		return storage.Session{}, fmt.Errorf("session %s: %w", id, storage.ErrNotFound)
	}
	if !slices.Contains(f.readers[id], a.UserID) {
		return storage.Session{}, &storage.ForbiddenError{Permission: policy.SeeAllCallLogs}
	}
	return s, nil
}

type authzFake map[string][]string // user → permissions

func (f authzFake) Check(_, userID, permission string) error {
	if slices.Contains(f[userID], permission) {
		return nil
	}
	return &storage.ForbiddenError{Permission: permission}
}

type fixture struct {
	svc   *Service
	store *sqlite.Store
	clock time.Time
}

var (
	expert  = web.Actor{UserID: "eve", OrgID: "o1", Name: "Eve Expert"}
	reader  = web.Actor{UserID: "rita", OrgID: "o1"} // reads reports, writes none
	outside = web.Actor{UserID: "otto", OrgID: "o1"} // took no part in s1
	other   = web.Actor{UserID: "olga", OrgID: "o2"} // another organisation
)

func newFixture(t *testing.T) *fixture {
	t.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "siteline.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	f := &fixture{store: st, clock: time.Date(2026, 5, 4, 9, 0, 0, 0, time.UTC)}
	for _, s := range []storage.Session{
		{ID: "s1", OrgID: "o1", SiteID: "plant", Name: "Pump 4", CreatedBy: "eve", StartedAt: f.clock},
		{ID: "s2", OrgID: "o1", SiteID: "elsewhere", CreatedBy: "eve", StartedAt: f.clock},
	} {
		if err := st.CreateSession(ctx, s); err != nil {
			t.Fatal(err)
		}
	}
	all := []string{policy.ReadServiceReports, policy.CreateServiceReport, policy.EditServiceReports, policy.DeleteServiceReports}
	n := 0
	f.svc = New(Deps{
		Store:    st,
		Sessions: sessionsFake{store: st, readers: map[string][]string{"s1": {"eve", "rita", "olga"}, "s2": {"eve"}}},
		Authz: authzFake{"eve": all, "rita": {policy.ReadServiceReports, policy.SeeAllCallLogs},
			"otto": all, "olga": all},
		NodeID: "node-1", SiteID: "plant",
		Now:   func() time.Time { f.clock = f.clock.Add(time.Minute); return f.clock },
		NewID: func() string { n++; return fmt.Sprintf("id%d", n) },
	})
	return f
}

func TestWriteEditDeleteKeepsEveryVersion(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	r, err := f.svc.CreateReport(ctx, expert, "s1", web.ReportInput{
		Fields: map[string]string{"asset": " Pump 4 ", "fault": "Seal leaking", "parts": ""}, Body: "Replaced the seal."})
	if err != nil {
		t.Fatal(err)
	}
	if r.Version != 1 || r.Fields["asset"] != "Pump 4" || len(r.Fields) != 2 || r.Origin != "node-1" || r.CreatedBy != "eve" {
		t.Fatalf("created %+v", r)
	}
	edited, err := f.svc.EditReport(ctx, expert, r.ID, web.ReportInput{Version: 1, Fields: map[string]string{"asset": "Pump 4"}, Body: "Replaced the seal and the impeller."})
	if err != nil {
		t.Fatal(err)
	}
	if edited.Version != 2 || !edited.EditedAt.After(r.EditedAt) || !edited.CreatedAt.Equal(r.CreatedAt) {
		t.Fatalf("edited %+v", edited)
	}
	// An editor who saw version 1 does not overwrite version 2 unseen.
	if _, err := f.svc.EditReport(ctx, expert, r.ID, web.ReportInput{Version: 1, Body: "stale"}); !errors.Is(err, storage.ErrConflict) {
		t.Errorf("a stale edit: %v, want a conflict", err)
	}
	d, err := f.svc.Report(ctx, reader, r.ID)
	if err != nil {
		t.Fatal(err)
	}
	if d.Report.Version != 2 || len(d.Versions) != 2 || d.Versions[0].Body != "Replaced the seal." || d.Session.ID != "s1" {
		t.Fatalf("detail: report v%d, %d versions, session %s", d.Report.Version, len(d.Versions), d.Session.ID)
	}
	if found, err := f.svc.Reports(ctx, reader, "impeller", 10); err != nil || len(found) != 1 || found[0].SessionName != "Pump 4" {
		t.Errorf("search impeller: %+v, %v", found, err)
	}
	if err := f.svc.DeleteReport(ctx, expert, r.ID, 1); !errors.Is(err, storage.ErrConflict) {
		t.Errorf("deleting an old version: %v, want a conflict", err)
	}
	if err := f.svc.DeleteReport(ctx, expert, r.ID, 2); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.Report(ctx, expert, r.ID); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("a deleted report: %v, want not found", err)
	}
	if left, err := f.svc.SessionReports(ctx, expert, "s1"); err != nil || len(left) != 0 {
		t.Errorf("session reports after the deletion: %v, %v", left, err)
	}
	versions, err := f.store.ServiceReportVersions(ctx, "o1", r.ID)
	if err != nil || len(versions) != 3 || !versions[2].Deleted {
		t.Errorf("versions kept: %d, %v", len(versions), err)
	}
}

func TestReportsAreForTheirSessionsReaders(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	r, err := f.svc.CreateReport(ctx, expert, "s1", web.ReportInput{Body: "Checked the valve."})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		a    web.Actor
		want error
	}{
		{"someone who may not read the session", outside, storage.ErrNotFound},
		{"another organisation", other, storage.ErrNotFound},
	} {
		if _, err := f.svc.Report(ctx, c.a, r.ID); !errors.Is(err, c.want) {
			t.Errorf("%s reads it: %v, want %v", c.name, err, c.want)
		}
		if _, err := f.svc.EditReport(ctx, c.a, r.ID, web.ReportInput{Version: 1, Body: "x"}); !errors.Is(err, c.want) {
			t.Errorf("%s edits it: %v, want %v", c.name, err, c.want)
		}
	}
	if found, err := f.svc.Reports(ctx, outside, "", 10); err != nil || len(found) != 0 {
		t.Errorf("someone without see-all lists %d reports of others' sessions (%v)", len(found), err)
	}
	if _, err := f.svc.CreateReport(ctx, outside, "s1", web.ReportInput{Body: "x"}); err == nil {
		t.Error("someone who may not read the session wrote a report on it")
	}
	var denied *storage.ForbiddenError
	if _, err := f.svc.Report(ctx, web.Actor{UserID: "nobody", OrgID: "o1"}, r.ID); !errors.As(err, &denied) || denied.Permission != policy.ReadServiceReports {
		t.Errorf("without read-service-reports: %v", err)
	}
}

func TestBadReportsChangeNothing(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	long := string(make([]rune, maxField+1))
	for _, c := range []struct {
		name    string
		session string
		in      web.ReportInput
		want    error
	}{
		{"an unknown field", "s1", web.ReportInput{Fields: map[string]string{"price": "3"}, Body: "x"}, storage.ErrInvalid},
		{"nothing written", "s1", web.ReportInput{Fields: map[string]string{"asset": "  "}, Body: " "}, storage.ErrInvalid},
		{"a field too long", "s1", web.ReportInput{Fields: map[string]string{"asset": long + "x"}}, storage.ErrInvalid},
		{"an unknown session", "nope", web.ReportInput{Body: "x"}, storage.ErrNotFound},
		{"a session of another site", "s2", web.ReportInput{Body: "x"}, storage.ErrConflict},
	} {
		if _, err := f.svc.CreateReport(ctx, expert, c.session, c.in); !errors.Is(err, c.want) {
			t.Errorf("%s: %v, want %v", c.name, err, c.want)
		}
	}
	if all, err := f.store.SearchServiceReports(ctx, storage.ServiceReportQuery{OrgID: "o1", Limit: 10}); err != nil || len(all) != 0 {
		t.Errorf("refused reports left %d rows (%v)", len(all), err)
	}
}
