package node

import (
	"context"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"siteline/storage"
	"siteline/web"
)

// TestHistorySettingsReachEveryNode: an administrator replaces the
// outcomes and report fields at headquarters; the plant, which holds the
// calls, has them through the replicated log and checks its sessions and
// reports against them, while what was given before stays.
func TestHistorySettingsReachEveryNode(t *testing.T) {
	hq, plant := historyFederation(t, nil, nil)
	ids := recordCalls(t, plant, 2)
	padmin := plant.admin()

	// Given under the defaults: an outcome and a report field the new
	// lists drop.
	old := storage.OutcomeNotSolved
	if st := padmin.do("PATCH", "/api/v1/sessions/"+ids[0], web.SessionFieldsInput{Outcome: &old}, nil); st != 200 {
		t.Fatalf("give a default outcome = %d", st)
	}
	var early storage.ServiceReport
	if st := padmin.do("POST", "/api/v1/sessions/"+ids[0]+"/reports", web.ReportInput{Fields: map[string]string{"asset": "Pump 4"}}, &early); st != 201 {
		t.Fatalf("write a report with a default field = %d", st)
	}

	in := map[string]any{
		"outcomes": []storage.OutcomeDef{{Key: "fixed", Name: "Fixed on site"}, {Key: "solved", Name: "Solved"}},
		"report_fields": []storage.ReportFieldDef{{Key: "machine", Label: "Machine", Required: true},
			{Key: "findings", Label: "Findings", Kind: storage.FieldLongText}},
	}
	var saved storage.HistorySettings
	if st := hq.admin().do("PUT", "/api/v1/organisation/history-settings", in, &saved); st != 200 || len(saved.Outcomes) != 2 {
		t.Fatalf("PUT the history settings at headquarters = %d %+v", st, saved)
	}
	var e web.ErrorBody
	bad := map[string]any{"outcomes": []storage.OutcomeDef{{Key: "x", Name: "X"}, {Key: "x", Name: "Y"}}}
	if st := hq.admin().do("PUT", "/api/v1/organisation/history-settings", bad, &e); st != 400 || !strings.Contains(e.Error, "outcomes[1].key") {
		t.Errorf("PUT with a duplicate key = %d %+v, want 400 naming outcomes[1].key", st, e)
	}

	ctx := context.Background()
	eventually(t, 20*time.Second, "the settings at the plant", func() bool {
		got, err := plant.n.store.HistorySettings(ctx, plant.n.OrgID())
		return err == nil && reflect.DeepEqual(got, saved)
	})
	var got storage.HistorySettings
	if st := padmin.do("GET", "/api/v1/organisation/history-settings", nil, &got); st != 200 || !reflect.DeepEqual(got, saved) {
		t.Errorf("GET at the plant = %d %+v, want %+v", st, got, saved)
	}

	// The plant enforces the new lists.
	fixed := "fixed"
	if st := padmin.do("PATCH", "/api/v1/sessions/"+ids[1], web.SessionFieldsInput{Outcome: &fixed}, nil); st != 200 {
		t.Errorf("an outcome of the new list = %d", st)
	}
	e = web.ErrorBody{}
	if st := padmin.do("PATCH", "/api/v1/sessions/"+ids[1], web.SessionFieldsInput{Outcome: &old}, &e); st != 400 || !strings.Contains(e.Error, "fixed, solved") {
		t.Errorf("a dropped outcome given anew = %d %+v, want 400 listing the organisation's", st, e)
	}
	e = web.ErrorBody{}
	if st := padmin.do("POST", "/api/v1/sessions/"+ids[1]+"/reports", web.ReportInput{Fields: map[string]string{"asset": "Pump 4", "machine": "P4"}}, &e); st != 400 || !strings.Contains(e.Error, "fields.asset") {
		t.Errorf("a report with a dropped field = %d %+v, want 400 naming it", st, e)
	}
	e = web.ErrorBody{}
	if st := padmin.do("POST", "/api/v1/sessions/"+ids[1]+"/reports", web.ReportInput{Body: "looked at it"}, &e); st != 400 || !strings.Contains(e.Error, "fields.machine") {
		t.Errorf("a report without the required field = %d %+v, want 400 naming it", st, e)
	}
	if st := padmin.do("POST", "/api/v1/sessions/"+ids[1]+"/reports", web.ReportInput{Fields: map[string]string{"machine": "P4", "findings": "worn seal"}}, nil); st != 201 {
		t.Errorf("a report with the new fields = %d", st)
	}

	// What was given before stays, and saving the session keeps it.
	notes := "checked again"
	var summary storage.SessionSummary
	if st := padmin.do("PATCH", "/api/v1/sessions/"+ids[0], web.SessionFieldsInput{Outcome: &old, Notes: &notes}, &summary); st != 200 || summary.Outcome != old {
		t.Errorf("saving a session with its dropped outcome = %d %+v", st, summary)
	}
	var d web.ReportDetail
	if st := padmin.do("GET", "/api/v1/reports/"+early.ID, nil, &d); st != 200 || d.Report.Fields["asset"] != "Pump 4" {
		t.Errorf("the early report = %d %+v", st, d.Report)
	}
	page := plant.admin()
	page.header = http.Header{"Accept": {"text/html"}}
	if st, body := page.raw("GET", "/reports/"+early.ID, "", nil); st != 200 || !strings.Contains(string(body), "no longer a report field") || !strings.Contains(string(body), "Pump 4") {
		t.Errorf("the early report's page = %d, want its asset under its key", st)
	}
	st, doc := padmin.raw("GET", "/api/v1/sessions/"+ids[0]+"/report.pdf", "", nil)
	if st != 200 {
		t.Fatalf("the early report's session PDF = %d", st)
	}
	if text := pdfText(t, doc); !strings.Contains(text, "asset") || !strings.Contains(text, "Pump 4") {
		t.Errorf("the PDF does not show the dropped field under its key:\n%s", text)
	}
}
