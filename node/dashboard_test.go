package node

import (
	"context"
	"strings"
	"testing"
	"time"

	"siteline/storage"
	"siteline/storage/dashboard"
)

// TestTimeToSolveIsOneNumberEverywhere: a call marked solved 7 min 13 s
// after it started shows that time to solve in its PDF report, and the
// dashboards' median holds it.
func TestTimeToSolveIsOneNumberEverywhere(t *testing.T) {
	tn := startNode(t, Config{})
	ids := recordCalls(t, tn, 1)
	ctx := context.Background()
	ss, err := tn.n.store.SessionSummary(ctx, tn.n.OrgID(), ids[0])
	if err != nil {
		t.Fatal(err)
	}
	solved := ss.StartedAt.Add(7*time.Minute + 13*time.Second)
	if _, err := tn.n.store.SetSessionOutcome(ctx, ids[0], storage.OutcomeSolved, &solved,
		storage.Version{At: time.Now().UTC(), Origin: "test"}); err != nil {
		t.Fatal(err)
	}
	admin := tn.admin()
	st, body := admin.raw("GET", "/api/v1/sessions/"+ids[0]+"/report.pdf", "", nil)
	if st != 200 {
		t.Fatalf("the session's PDF = %d", st)
	}
	if text := pdfText(t, body); !strings.Contains(text, "7 min 13 s") {
		t.Errorf("the PDF does not give the time to solve, 7 min 13 s:\n%s", text)
	}
	var rep dashboard.Report
	if st := admin.do("GET", "/api/v1/dashboard", nil, &rep); st != 200 {
		t.Fatalf("dashboard = %d", st)
	}
	m := rep.Summary.ToSolve.Median
	if rep.Summary.Sessions != 1 || rep.Summary.ToSolve.N != 1 || m == nil || m.Lo > 433 || (m.Hi != 0 && m.Hi <= 433) {
		t.Errorf("the dashboards' time to solve = %+v (median %+v), want one of 433 s", rep.Summary, m)
	}
	if st := admin.do("GET", "/api/v1/dashboard?by=colour", nil, nil); st != 400 {
		t.Errorf("an unknown breakdown = %d, want 400", st)
	}
}
