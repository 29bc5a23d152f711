package node

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"siteline/storage"
	"siteline/web"
)

// TestServiceReportsReachHeadquarters: an expert writes a service report on
// a plant's call and edits it through the API; headquarters ends with the
// report as the plant has it, every version of it, and finds it by its
// text through the same API.
func TestServiceReportsReachHeadquarters(t *testing.T) {
	hq, plant := historyFederation(t, nil, nil)
	ids := recordCalls(t, plant, 1)
	admin := plant.admin()

	var r storage.ServiceReport
	if st := admin.do("POST", "/api/v1/sessions/"+ids[0]+"/reports", web.ReportInput{
		Fields: map[string]string{"asset": "Pump 0", "fault": "Seal leaking"}, Body: "Replaced the seal."}, &r); st != 201 {
		t.Fatalf("write a report = %d", st)
	}
	if st := admin.do("PUT", "/api/v1/reports/"+r.ID, web.ReportInput{Version: 1,
		Fields: map[string]string{"asset": "Pump 0", "fault": "Seal and impeller worn"}, Body: "Replaced the seal and the impeller."}, &r); st != 200 || r.Version != 2 {
		t.Fatalf("edit the report = %d, version %d", st, r.Version)
	}
	if st := admin.do("PUT", "/api/v1/reports/"+r.ID, web.ReportInput{Version: 1, Body: "stale"}, nil); st != 409 {
		t.Errorf("an edit of version 1 after version 2 = %d, want 409", st)
	}

	// The session's PDF holds its chat and its service report, as text.
	st, body := admin.raw("GET", "/api/v1/sessions/"+ids[0]+"/report.pdf", "", nil)
	if st != 200 || !bytes.HasPrefix(body, []byte("%PDF-")) {
		t.Fatalf("the session's PDF = %d, %d bytes starting %q", st, len(body), body[:min(len(body), 8)])
	}
	text := pdfText(t, body)
	for _, want := range []string{"Pump 0", "valve 0 closed", "Seal and impeller worn", "Replaced the seal and the impeller."} {
		if !strings.Contains(text, want) {
			t.Errorf("the session's PDF does not hold %q:\n%s", want, text)
		}
	}
	if st, _ := admin.raw("GET", "/api/v1/sessions/no-such-session/report.pdf", "", nil); st != 404 {
		t.Errorf("the PDF of an unknown session = %d, want 404", st)
	}

	ctx := context.Background()
	want, err := plant.n.store.ServiceReport(ctx, plant.n.OrgID(), r.ID)
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, 60*time.Second, "the report at headquarters", func() bool {
		got, err := hq.n.store.ServiceReport(ctx, plant.n.OrgID(), r.ID)
		return err == nil && reflect.DeepEqual(got, want)
	})
	var d web.ReportDetail
	if st := hq.admin().do("GET", "/api/v1/reports/"+r.ID, nil, &d); st != 200 || len(d.Versions) != 2 || d.Report.Body != want.Body {
		t.Fatalf("the report at headquarters = %d, %d versions, text %q", st, len(d.Versions), d.Report.Body)
	}
	var found []storage.ServiceReport
	if st := hq.admin().do("GET", "/api/v1/reports?q=impeller", nil, &found); st != 200 || len(found) != 1 || found[0].ID != r.ID {
		t.Errorf("search at headquarters = %d, %v", st, found)
	}
	// Headquarters does not write the plant's reports: the plant does.
	if st := hq.admin().do("PUT", "/api/v1/reports/"+r.ID, web.ReportInput{Version: 2, Body: "from headquarters"}, nil); st != 409 {
		t.Errorf("an edit at headquarters = %d, want 409", st)
	}
	if st := hq.admin().do("POST", fmt.Sprintf("/api/v1/sessions/%s/reports", ids[0]), web.ReportInput{Body: "x"}, nil); st != 409 {
		t.Errorf("a report written at headquarters on a plant's call = %d, want 409", st)
	}
}

// pdfText is the text poppler's pdftotext extracts from a PDF.
func pdfText(t *testing.T, doc []byte) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "report.pdf")
	if err := os.WriteFile(path, doc, 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("pdftotext", "-layout", path, "-").Output()
	if err != nil {
		t.Fatalf("pdftotext (poppler-utils, which the test command installs): %v", err)
	}
	return string(out)
}

// TestSessionFieldsReachHeadquarters: an expert gives a plant's call its
// outcome, notes and a label through the API; headquarters' history has
// them, finds the call by them, and leaves changing them to the plant.
func TestSessionFieldsReachHeadquarters(t *testing.T) {
	hq, plant := historyFederation(t, nil, nil)
	ids := recordCalls(t, plant, 2)
	admin := plant.admin()
	var group storage.LabelGroup
	if st := admin.do("POST", "/api/v1/label-groups", map[string]string{"name": "Machine", "color": "#0f766e"}, &group); st != 201 {
		t.Fatalf("create a label group = %d", st)
	}
	var label storage.Label
	if st := admin.do("POST", "/api/v1/labels", map[string]string{"name": "Press 7", "group_id": group.ID}, &label); st != 201 {
		t.Fatalf("create a label = %d", st)
	}
	outcome, notes, labels := storage.OutcomeSolved, "Belt replaced; order two spares", []string{label.ID}
	var got storage.SessionSummary
	if st := admin.do("PATCH", "/api/v1/sessions/"+ids[1], web.SessionFieldsInput{Outcome: &outcome, Notes: &notes, Labels: &labels}, &got); st != 200 ||
		got.Outcome != outcome || got.Notes != notes || len(got.Labels) != 1 || got.SolvedAt == nil {
		t.Fatalf("set the call's fields = %d %+v", st, got)
	}
	bad := "fixed"
	if st := admin.do("PATCH", "/api/v1/sessions/"+ids[1], web.SessionFieldsInput{Outcome: &bad}, nil); st != 400 {
		t.Errorf("an unknown outcome = %d, want 400", st)
	}

	ctx := context.Background()
	want, err := plant.n.store.SessionSummary(ctx, plant.n.OrgID(), ids[1])
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, 60*time.Second, "the call's fields at headquarters", func() bool {
		got, err := hq.n.store.SessionSummary(ctx, plant.n.OrgID(), ids[1])
		return err == nil && reflect.DeepEqual(got, want)
	})
	var rows []struct {
		ID string `json:"id"`
	}
	if st := hq.admin().do("GET", "/api/v1/sessions?outcome=solved&label="+label.ID+"&q=spares", nil, &rows); st != 200 || len(rows) != 1 || rows[0].ID != ids[1] {
		t.Errorf("headquarters' history by outcome, label and notes = %d %+v, want %s", st, rows, ids[1])
	}
	if st := hq.admin().do("PATCH", "/api/v1/sessions/"+ids[1], web.SessionFieldsInput{Notes: &notes}, nil); st != 409 {
		t.Errorf("a change at headquarters of a plant's call = %d, want 409", st)
	}
}

// TestHistoryEditsWhileCutOffReachHeadquarters: a plant cut off from
// headquarters goes on giving a call its outcome, notes and labels and
// editing its service report, several times over; once the link heals,
// headquarters holds exactly the plant's final state, every version of
// the report included.
func TestHistoryEditsWhileCutOffReachHeadquarters(t *testing.T) {
	l := newLink(t)
	hq, plant := historyFederation(t, nil, func(hq *testNode, c *Config) {
		c.NATS.LeafRemotes = []string{"tls://" + l.proxy(strings.TrimPrefix(hq.n.LeafURL(), "tls://"))}
	})
	eventually(t, 20*time.Second, "leaf link", func() bool { return plant.n.bus.LeafLinks() == 1 })
	admin := plant.admin()
	ctx := context.Background()
	org := plant.n.OrgID()

	// Labels are organisation data: made while the link is up.
	var group storage.LabelGroup
	if st := admin.do("POST", "/api/v1/label-groups", map[string]string{"name": "Machine", "color": "#0f766e"}, &group); st != 201 {
		t.Fatalf("create a label group = %d", st)
	}
	var press, belt storage.Label
	for _, lb := range []struct {
		name string
		out  *storage.Label
	}{{"Press 7", &press}, {"Belt", &belt}} {
		if st := admin.do("POST", "/api/v1/labels", map[string]string{"name": lb.name, "group_id": group.ID}, lb.out); st != 201 {
			t.Fatalf("create label %s = %d", lb.name, st)
		}
	}
	eventually(t, 20*time.Second, "labels at the plant", func() bool {
		ls, err := plant.n.store.Labels(ctx, org)
		return err == nil && len(ls) == 2
	})
	id := recordCalls(t, plant, 1)[0]
	var r storage.ServiceReport
	if st := admin.do("POST", "/api/v1/sessions/"+id+"/reports", web.ReportInput{
		Fields: map[string]string{"asset": "Press 7", "fault": "Belt slipping"}, Body: "Tightened the belt."}, &r); st != 201 {
		t.Fatalf("write a report = %d", st)
	}
	eventually(t, 60*time.Second, "the report at headquarters", func() bool {
		_, err := hq.n.store.ServiceReport(ctx, org, r.ID)
		return err == nil
	})

	l.setCut(true)
	eventually(t, 20*time.Second, "leaf link down", func() bool { return hq.n.bus.LeafLinks() == 0 })
	str := func(s string) *string { return &s }
	for i, in := range []web.SessionFieldsInput{
		{Outcome: str(storage.OutcomeNotSolved), Notes: str("Belt slips under load"), Labels: &[]string{press.ID}},
		{Outcome: str(storage.OutcomeFollowUp), Notes: str("Belt ordered"), Labels: &[]string{press.ID, belt.ID}},
		{Outcome: str(storage.OutcomeSolved), Notes: str("Belt replaced, runs at full load"), Labels: &[]string{belt.ID}, Name: str("Press 7 belt")},
	} {
		if st := admin.do("PATCH", "/api/v1/sessions/"+id, in, nil); st != 200 {
			t.Fatalf("change %d of the call's fields while cut off = %d", i, st)
		}
	}
	for v, body := range []string{"Ordered a belt.", "Replaced the belt; tested at full load."} {
		if st := admin.do("PUT", "/api/v1/reports/"+r.ID, web.ReportInput{Version: v + 1,
			Fields: map[string]string{"asset": "Press 7", "fault": "Belt worn"}, Body: body}, &r); st != 200 {
			t.Fatalf("edit %d of the report while cut off = %d", v+1, st)
		}
	}
	if got, err := hq.n.store.SessionSummary(ctx, org, id); err != nil || got.Notes != "" {
		t.Fatalf("headquarters has the call's notes before the link heals: %+v, %v", got, err)
	}

	l.setCut(false)
	wantFields, err := plant.n.store.SessionSummary(ctx, org, id)
	if err != nil {
		t.Fatal(err)
	}
	wantVersions, err := plant.n.store.ServiceReportVersions(ctx, org, r.ID)
	if err != nil {
		t.Fatal(err)
	}
	if wantFields.Outcome != storage.OutcomeSolved || wantFields.Name != "Press 7 belt" || len(wantVersions) != 3 {
		t.Fatalf("the plant's final state: %+v, %d report versions", wantFields, len(wantVersions))
	}
	eventually(t, 90*time.Second, "headquarters holds the plant's final state", func() bool {
		gotFields, err := hq.n.store.SessionSummary(ctx, org, id)
		if err != nil || !reflect.DeepEqual(gotFields, wantFields) {
			return false
		}
		gotVersions, err := hq.n.store.ServiceReportVersions(ctx, org, r.ID)
		return err == nil && reflect.DeepEqual(gotVersions, wantVersions)
	})
	var rows []struct {
		ID string `json:"id"`
	}
	if st := hq.admin().do("GET", "/api/v1/sessions?outcome=solved&label="+belt.ID+"&q=full+load", nil, &rows); st != 200 || len(rows) != 1 || rows[0].ID != id {
		t.Errorf("headquarters' history by the final outcome, label and notes = %d %+v, want %s", st, rows, id)
	}
	if st := hq.admin().do("GET", "/api/v1/sessions?label="+press.ID, nil, &rows); st != 200 || len(rows) != 0 {
		t.Errorf("headquarters finds the call by a label it no longer has: %d %+v", st, rows)
	}
}
