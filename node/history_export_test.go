package node

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"siteline/storage"
	"siteline/storage/historygen"
	"siteline/web"
)

// exportNode starts a node and loads n generated sessions of its
// organisation into its store; it returns the node and the sessions' ids.
func exportNode(t testing.TB, n int) (*testNode, map[string]bool) {
	t.Helper()
	tn := fedNode(t, 1, "Export 1", nil, nil)
	ctx := context.Background()
	orgs, err := existingOrgs(ctx, tn.n.store)
	if err != nil || len(orgs) != 1 {
		t.Fatalf("the node's organisations: %v, %v", orgs, err)
	}
	cfg := historygen.Defaults
	cfg.Sessions = n
	load, err := tn.n.store.BulkLoad(ctx)
	if err != nil {
		t.Fatal(err)
	}
	ids := idsOf{load: load, ids: map[string]bool{}}
	if _, err := historygen.Fill(ctx, ids, orgs, cfg); err != nil {
		load.Abort(ctx)
		t.Fatal(err)
	}
	if err := load.Finish(ctx); err != nil {
		t.Fatal(err)
	}
	return tn, ids.ids
}

// idsOf notes the ids of the sessions it loads.
type idsOf struct {
	load historygen.Loader
	ids  map[string]bool
}

func (l idsOf) LoadSessions(ctx context.Context, b []storage.SessionBundle) error {
	for _, s := range b {
		l.ids[s.Session.ID] = true
	}
	return l.load.LoadSessions(ctx, b)
}

// exportCSV streams GET /api/v1/sessions/export?format=csv and parses
// every row with encoding/csv as it arrives, giving each to row.
func exportCSV(t testing.TB, b *browser, row func([]string)) {
	t.Helper()
	req, err := http.NewRequest("GET", b.base+"/api/v1/sessions/export?format=csv", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.AddCookie(&http.Cookie{Name: web.SessionCookie, Value: b.cookie})
	resp, err := (&http.Client{Timeout: 5 * time.Minute}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/csv") {
		body, _ := io.ReadAll(resp.Body)
		t.Fatalf("CSV export = %d %s: %s", resp.StatusCode, resp.Header.Get("Content-Type"), body)
	}
	r := csv.NewReader(resp.Body)
	r.ReuseRecord = true
	for {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			return
		}
		if err != nil {
			t.Fatalf("the CSV export does not parse: %v", err)
		}
		row(rec)
	}
}

// An export of 100,000 sessions from a real store holds every one of
// them once, each row parsed by encoding/csv, latest start first.
func TestHistoryExportOf100000Sessions(t *testing.T) {
	const n = 100000
	tn, ids := exportNode(t, n)
	b := tn.admin()
	lines, seen := 0, map[string]bool{}
	var last time.Time
	exportCSV(t, b, func(rec []string) {
		lines++
		if lines == 1 {
			if strings.Join(rec, ",") != "id,name,goal,site,owner,status,started_at,ended_at,duration_seconds,time_to_solve_seconds,outcome,labels,notes" {
				t.Fatalf("CSV header %q", rec)
			}
			return
		}
		if len(rec) != 13 || !ids[rec[0]] || seen[rec[0]] {
			t.Fatalf("row %d: %q is not a generated session not seen before", lines-1, rec)
		}
		seen[rec[0]] = true
		started, err := time.Parse(time.RFC3339, rec[6])
		if err != nil || (!last.IsZero() && started.After(last)) {
			t.Fatalf("row %d starts at %q (%v), after the row before it (%v)", lines-1, rec[6], err, last)
		}
		last = started
		if rec[5] == storage.SessionEnded {
			if d, err := strconv.Atoi(rec[8]); err != nil || d < 60 {
				t.Fatalf("row %d: an ended session lasting %q", lines-1, rec[8])
			}
		}
	})
	if lines != n+1 || len(seen) != n {
		t.Fatalf("the export has %d lines, %d sessions; want %d", lines, len(seen), n)
	}
}

// BenchmarkHistoryExport measures a CSV export of 100,000 generated
// sessions through the HTTP API, parsed by the client as it arrives:
//
//	go test ./node -run '^$' -bench BenchmarkHistoryExport -benchtime 3x -timeout 30m
//
// rows/s is the export's pace; peak-RSS-MB the test process's peak
// resident memory during the exports (node and client together, the high
// water mark reset after the load), base-RSS-MB the resident memory before
// them. SITELINE_BENCH_EXPORT sets the number of sessions.
func BenchmarkHistoryExport(b *testing.B) {
	n := 100000
	if v, err := strconv.Atoi(os.Getenv("SITELINE_BENCH_EXPORT")); err == nil && v > 0 {
		n = v
	}
	tn, _ := exportNode(b, n)
	br := tn.admin()
	resetPeakRSS(b)
	base := rssKiB(b, "VmRSS")
	rows := 0
	b.ResetTimer()
	for b.Loop() {
		exportCSV(b, br, func([]string) { rows++ })
	}
	b.StopTimer()
	if rows != b.N*(n+1) {
		b.Fatalf("%d lines exported, want %d", rows, b.N*(n+1))
	}
	b.ReportMetric(float64(b.N*n)/b.Elapsed().Seconds(), "rows/s")
	b.ReportMetric(float64(rssKiB(b, "VmHWM"))/1024, "peak-RSS-MB")
	b.ReportMetric(float64(base)/1024, "base-RSS-MB")
	b.ReportMetric(0, "ns/op")
}

// resetPeakRSS resets the process's peak resident memory (VmHWM).
func resetPeakRSS(t testing.TB) {
	if err := os.WriteFile("/proc/self/clear_refs", []byte("5"), 0); err != nil {
		t.Fatalf("reset the peak RSS: %v", err)
	}
}

// rssKiB reads a memory figure of /proc/self/status, in KiB.
func rssKiB(t testing.TB, field string) int {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		if rest, ok := strings.CutPrefix(line, field+":"); ok {
			f := strings.Fields(rest)
			if v, err := strconv.Atoi(f[0]); err == nil && slices.Contains(f, "kB") {
				return v
			}
		}
	}
	t.Fatal(fmt.Errorf("no %s in /proc/self/status", field))
	return 0
}
