package node

import (
	"context"
	"fmt"
	"reflect"
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
