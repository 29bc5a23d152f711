package web

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"siteline/policy"
	"siteline/storage"
)

// fakeDashboards answers every query with the same counts and keeps the
// queries it was asked.
type fakeDashboards struct {
	mu sync.Mutex
	qs []storage.DashboardQuery
}

func (f *fakeDashboards) DashboardCounts(_ context.Context, q storage.DashboardQuery) (storage.DashboardCounts, error) {
	f.mu.Lock()
	f.qs = append(f.qs, q)
	f.mu.Unlock()
	day := time.Date(2026, 1, 5, 0, 0, 0, 0, time.UTC).Unix() / 86400
	return storage.DashboardCounts{
		Buckets:  []time.Duration{0, time.Second, 2 * time.Second, time.Minute, time.Hour},
		Days:     []storage.DashboardCount{{Value: day, N: 3}, {Value: day + 8, N: 2}},
		Outcomes: []storage.DashboardCount{{Text: "solved", N: 4}, {Text: "", N: 1}},
		ToSolve:  []storage.DashboardCount{{Value: 3, N: 5}},
	}, nil
}

func (f *fakeDashboards) last() storage.DashboardQuery {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.qs[len(f.qs)-1]
}

func dashboardServer(t *testing.T, perms ...string) (*fakeDashboards, *browser, map[string]string) {
	t.Helper()
	f := &fakeDashboards{}
	s, d := newTestServer(t, withServices, func(deps *Deps) { deps.Dashboards = f })
	ids := d.addOrgRecords(d.org.ID, "own")
	d.addUser("u1", adminEmail, testPass, perms...)
	b := &browser{t: t, s: s}
	b.login(adminEmail, testPass)
	return f, b, ids
}

func TestDashboardReadsItsFiltersFromTheURL(t *testing.T) {
	f, b, ids := dashboardServer(t, policy.XAssistDashboard, policy.CallLogs)
	got := b.api("GET", APIPrefix+"/dashboard?from=2026-01-01&to=2026-01-31&site="+ids["site"]+"&team="+ids["team"]+"&outcome=solved&by=team&period=month", "")
	if got.status != http.StatusOK {
		t.Fatalf("dashboard = %d %s", got.status, got.body)
	}
	q := f.last()
	if !q.From.Equal(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)) || !q.To.Equal(time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC)) ||
		len(q.SiteIDs) != 1 || q.SiteIDs[0] != ids["site"] || q.TeamID != ids["team"] || q.Outcome != "solved" || q.By != storage.DimTeam {
		t.Errorf("query = %+v", q)
	}
	for _, want := range []string{`"period":"month"`, `"sessions":5`, `"history":"/sessions?from=2026-01-01\u0026outcome=solved`} {
		if !strings.Contains(got.body, want) {
			t.Errorf("report lacks %s: %s", want, got.body)
		}
	}
	page := b.page("/dashboard?period=day")
	if page.status != http.StatusOK || !strings.Contains(page.body, `id="dash-data"`) || !strings.Contains(page.body, "/static/uplot-1.6.32.min.") {
		t.Fatalf("dashboard page = %d %s", page.status, page.body)
	}
}

func TestDashboardExportsEachChart(t *testing.T) {
	_, b, _ := dashboardServer(t, policy.XAssistDashboard)
	got := b.send("GET", APIPrefix+"/dashboard/export?chart=outcomes&format=csv&from=2026-01-01&to=2026-01-31", "", "")
	if got.status != http.StatusOK || !strings.HasPrefix(got.header.Get("Content-Type"), "text/csv") ||
		got.body != "Outcome,Sessions\nSolved,4\nNone yet,1\n" {
		t.Fatalf("CSV = %d %q %q", got.status, got.header.Get("Content-Type"), got.body)
	}
	if !strings.Contains(got.header.Get("Content-Disposition"), `dashboard-outcomes-2026-01-01-2026-01-31.csv`) {
		t.Errorf("disposition = %q", got.header.Get("Content-Disposition"))
	}
	got = b.send("GET", APIPrefix+"/dashboard/export?chart=sessions&format=json&from=2026-01-05&to=2026-01-18&period=week", "", "")
	if got.status != http.StatusOK || !strings.Contains(got.body, `"label":"2026-01-05","x":1767571200,"values":[3]`) ||
		!strings.Contains(got.body, `"label":"2026-01-12","x":1768176000,"values":[2]`) {
		t.Fatalf("JSON = %d %s", got.status, got.body)
	}
}

func TestDashboardRejectsBadFiltersByName(t *testing.T) {
	f, b, ids := dashboardServer(t, policy.XAssistDashboard)
	for path, field := range map[string]string{
		"?from=yesterday":                         "from",
		"?from=2026-02-01&to=2026-01-01":          "to",
		"?site=elsewhere":                         "site",
		"?label=nope":                             "label",
		"?user=nobody":                            "user",
		"?by=colour":                              "by",
		"?period=fortnight":                       "period",
		"?outcome=Not+Solved":                     "outcome",
		"/export?chart=pie":                       "chart",
		"/export?chart=hours&format=xlsx":         "format",
		"?team=" + ids["team"] + "&by=label":      "by",
		"?team=" + ids["team"] + "&user=own-user": "filter",
	} {
		before := len(f.qs)
		got := b.api("GET", APIPrefix+"/dashboard"+path, "")
		if got.status != http.StatusBadRequest || !strings.Contains(got.body, field) {
			t.Errorf("%s = %d %s, want 400 naming %s", path, got.status, got.body, field)
		}
		if len(f.qs) != before {
			t.Errorf("%s read the rollups", path)
		}
	}
}

func TestDashboardNeedsItsPermission(t *testing.T) {
	_, b, _ := dashboardServer(t, policy.CallLogs, policy.HomeDashboardAccess)
	for _, path := range []string{APIPrefix + "/dashboard", APIPrefix + "/dashboard/export?chart=hours"} {
		got := b.api("GET", path, "")
		if got.status != http.StatusForbidden || !strings.Contains(got.body, policy.XAssistDashboard) {
			t.Errorf("%s = %d %s, want 403 naming %s", path, got.status, got.body, policy.XAssistDashboard)
		}
	}
	if home := b.page("/"); home.status != http.StatusOK || strings.Contains(home.body, "home-dashboard") {
		t.Errorf("the start page shows the dashboard widget without %s: %d", policy.XAssistDashboard, home.status)
	}
}

func TestHomeShowsTheDashboardWidget(t *testing.T) {
	_, b, _ := dashboardServer(t, policy.XAssistDashboard, policy.HomeDashboardAccess)
	home := b.page("/")
	if home.status != http.StatusOK || !strings.Contains(home.body, `id="home-dashboard"`) || !strings.Contains(home.body, "<dd>5</dd>") {
		t.Errorf("start page = %d, want the widget with 5 sessions: %s", home.status, home.body)
	}
}
