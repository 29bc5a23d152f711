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

// TestHeadquartersDashboardsCoverThePlants: calls made at a plant, and the
// outcome given one of them there, reach headquarters' dashboards through
// the forwarded history; the plant's dashboards count its own calls.
func TestHeadquartersDashboardsCoverThePlants(t *testing.T) {
	hq, plant := historyFederation(t, nil, nil)
	ids := recordCalls(t, plant, 3)
	at := time.Now().UTC()
	if _, err := plant.n.store.SetSessionOutcome(context.Background(), ids[1], storage.OutcomeSolved, nil,
		storage.Version{At: at, Origin: "plant"}); err != nil {
		t.Fatal(err)
	}
	solvedAt := func(tn *testNode) func() bool {
		return func() bool {
			var rep dashboard.Report
			if st := tn.admin().do("GET", "/api/v1/dashboard?by=site&outcome=solved", nil, &rep); st != 200 {
				return false
			}
			return rep.Summary.Sessions == 1 && len(rep.Groups) == 1 && rep.Groups[0].ID == plant.n.siteID
		}
	}
	eventually(t, 60*time.Second, "the plant's solved call on its own dashboards", solvedAt(plant))
	eventually(t, 60*time.Second, "the plant's solved call on headquarters' dashboards", solvedAt(hq))
	var rep dashboard.Report
	if st := hq.admin().do("GET", "/api/v1/dashboard?site="+plant.n.siteID, nil, &rep); st != 200 || rep.Summary.Sessions != 3 {
		t.Errorf("headquarters' dashboards of the plant = %d, %d sessions, want 3", st, rep.Summary.Sessions)
	}
}
