package web

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"siteline/policy"
	"siteline/storage"
)

// pagedHistory is a history of n sessions that it pages as the store does:
// Limit at a time, the next page's cursor being the index to go on from.
type pagedHistory struct {
	n  int
	mu sync.Mutex
	qs []storage.SessionQuery
}

func (h *pagedHistory) SearchSessions(_ context.Context, q storage.SessionQuery) (storage.SessionPage, error) {
	h.mu.Lock()
	h.qs = append(h.qs, q)
	h.mu.Unlock()
	from := 0
	if q.Cursor != "" {
		var err error
		if from, err = strconv.Atoi(q.Cursor); err != nil {
			return storage.SessionPage{}, &storage.ValidationError{Field: "cursor", Problem: "is not a cursor of this query"}
		}
	}
	var page storage.SessionPage
	start := time.Date(2026, 1, 1, 8, 0, 0, 0, time.UTC)
	for i := from; i < h.n && len(page.Sessions) < q.Limit; i++ {
		end := start.Add(time.Duration(i+10) * time.Minute)
		page.Sessions = append(page.Sessions, storage.SessionSummary{
			Session: storage.Session{ID: fmt.Sprintf("s%05d", i), OrgID: q.OrgID, SiteID: "own-site", Name: fmt.Sprintf("Pump %d", i),
				Goal: "=cmd|' /C calc'!A0", Status: storage.SessionEnded, StartedAt: start, EndedAt: &end},
			OwnerID: "u1", Outcome: storage.OutcomeSolved, Labels: []string{"l1"}})
	}
	if next := from + len(page.Sessions); next < h.n {
		page.Next = strconv.Itoa(next)
	}
	return page, nil
}

func (h *pagedHistory) queries() []storage.SessionQuery {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]storage.SessionQuery(nil), h.qs...)
}

func historyServer(t *testing.T, n int) (*pagedHistory, *browser) {
	t.Helper()
	h := &pagedHistory{n: n}
	s, d := newTestServer(t, withServices, func(deps *Deps) { deps.History = h })
	d.addOrgRecords(d.org.ID, "own")
	d.addUser("u1", adminEmail, testPass, policy.CallLogs, policy.SeeAllCallLogs, policy.ExportCallLog)
	b := &browser{t: t, s: s}
	b.login(adminEmail, testPass)
	return h, b
}

// The history page reads its query from the URL, scoped to the
// organisation, and links to the next page and to every sort.
func TestHistoryPageQueryIsInTheURL(t *testing.T) {
	h, b := historyServer(t, 120)
	got := b.page("/sessions?q=pump+seal&status=ended&outcome=solved&from=2026-01-01&to=2026-01-31&sort=name&order=asc")
	if got.status != http.StatusOK {
		t.Fatalf("history page = %d %s", got.status, got.body)
	}
	q := h.queries()[0]
	want := storage.SessionQuery{OrgID: "o1", ViewerID: "u1", Text: "pump seal", Status: storage.SessionEnded, Outcome: storage.OutcomeSolved,
		From: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), To: time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC),
		Sort: storage.SortName, Limit: sessionPageSize}
	if fmt.Sprint(q) != fmt.Sprint(want) {
		t.Errorf("query %+v\nwant  %+v", q, want)
	}
	for _, s := range []string{"Pump 0", "Pump 49", `id="history-next"`, "cursor=50", "order=desc&amp;outcome=solved&amp;q=pump&#43;seal&amp;sort=name", `aria-label="ascending"`} {
		if !strings.Contains(got.body, s) {
			t.Errorf("the history page lacks %q", s)
		}
	}
	if strings.Contains(got.body, "Pump 50<") {
		t.Error("the first page shows the second's rows")
	}
	for path, field := range map[string]string{
		"/api/v1/sessions?sort=price":                    "sort",
		"/api/v1/sessions?from=2026-02-01&to=2026-01-01": "from",
		"/api/v1/sessions?from=yesterday":                "from",
		"/api/v1/sessions?status=lost":                   "status",
		"/api/v1/sessions?limit=0":                       "limit",
		"/api/v1/sessions?site=other-site":               "site",
	} {
		got := b.api("GET", path, "")
		if got.status != http.StatusBadRequest || !strings.Contains(got.body, field) {
			t.Errorf("GET %s = %d %s; want 400 naming %s", path, got.status, got.body, field)
		}
	}
}

// An export holds every row the query selects, read page after page:
// 1,234 rows, each parseable, none twice, in CSV and in JSON. A cell that
// a spreadsheet would run as a formula is quoted.
func TestHistoryExportHoldsEveryRow(t *testing.T) {
	const n = 1234
	h, b := historyServer(t, n)
	got := b.api("GET", "/api/v1/sessions/export?format=csv&status=ended", "")
	if got.status != http.StatusOK || !strings.HasPrefix(got.header.Get("Content-Type"), "text/csv") {
		t.Fatalf("CSV export = %d %s", got.status, got.header.Get("Content-Type"))
	}
	records, err := csv.NewReader(strings.NewReader(got.body)).ReadAll()
	if err != nil {
		t.Fatalf("the CSV export does not parse: %v", err)
	}
	if len(records) != n+1 || strings.Join(records[0], ",") != strings.Join(csvHeader, ",") {
		t.Fatalf("CSV export: %d lines, header %v", len(records), records[0])
	}
	seen := map[string]bool{}
	for i, r := range records[1:] {
		if want := fmt.Sprintf("s%05d", i); r[0] != want || seen[r[0]] {
			t.Fatalf("row %d is %s, want %s once", i, r[0], want)
		}
		seen[r[0]] = true
		if r[2] != "'=cmd|' /C calc'!A0" || r[4] != "User u1" || r[8] != strconv.Itoa((i+10)*60) || r[11] != "" {
			t.Fatalf("row %d: %q", i, r)
		}
	}
	pages := h.queries()
	if len(pages) != (n+exportPage-1)/exportPage || pages[0].Status != storage.SessionEnded {
		t.Errorf("the export read %d pages (%+v)", len(pages), pages[0])
	}

	got = b.api("GET", "/api/v1/sessions/export?format=json", "")
	var rows []historyRow
	if err := json.Unmarshal([]byte(got.body), &rows); err != nil || len(rows) != n || rows[n-1].ID != fmt.Sprintf("s%05d", n-1) {
		t.Fatalf("JSON export: %d rows, %v", len(rows), err)
	}
	if got := b.api("GET", "/api/v1/sessions/export?format=xls", ""); got.status != http.StatusBadRequest || !strings.Contains(got.body, "format") {
		t.Errorf("an unknown format = %d %s", got.status, got.body)
	}
}
