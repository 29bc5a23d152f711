package storagetest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"testing"
	"time"

	"siteline/storage"
)

// reportVersion is version v of report rep1 of session c1 written at
// origin at t.
func reportVersion(v int, origin string, t time.Time, body string) storage.ServiceReport {
	return storage.ServiceReport{ID: "rep1", VersionID: fmt.Sprintf("rep1-%s-v%d", origin, v), OrgID: "o1", SiteID: "plant",
		SessionID: "c1", Version: v, Fields: map[string]string{"fault": body, "asset": "P-7"}, Body: "text " + body,
		CreatedBy: "u1", CreatedAt: t0.Add(time.Minute), EditedBy: "u1", EditedAt: t, Origin: origin}
}

// reportMessage is r's record as its origin's outbox carries it.
func reportMessage(t *testing.T, ss storage.Session, seq int64, r storage.ServiceReport) storage.HistoryMessage {
	t.Helper()
	body, err := json.Marshal(storage.HistoryRecord{ID: r.VersionID, Kind: storage.HistoryServiceReport, Session: &ss, Report: &r})
	if err != nil {
		t.Fatal(err)
	}
	return storage.HistoryMessage{Origin: r.Origin, Seq: seq, Record: body}
}

// applyServiceReports: the versions of a report, from two nodes, applied
// in any order and more than once, are all kept, and the one that stands
// is the latest by edit time, then origin, then version number; a
// version that contradicts its record or one already kept is rejected.
func applyServiceReports(t *testing.T, open func(t *testing.T) ApplierBackend) {
	ctx := context.Background()
	plant := open(t)
	recordSession(t, plant, "c1")
	ss, err := plant.Session(ctx, "c1")
	if err != nil {
		t.Fatal(err)
	}
	at := t0.Add(time.Hour)
	v1 := reportVersion(1, "node-a", at, "F1")
	v2 := reportVersion(2, "node-a", at.Add(time.Minute), "F2")
	// Node-b's edit is as late as v2: the origins decide, byte by byte,
	// and "node-a" > "Node-b" makes v2 stand (a locale's order would
	// not).
	b1 := reportVersion(1, "Node-b", at.Add(time.Minute), "B1")
	// A later deletion at node-a.
	v3 := reportVersion(3, "node-a", at.Add(time.Minute+time.Nanosecond), "F3")
	v3.Deleted = true
	v3.Fields = nil
	msgs := slices.Concat(messagesOf(t, plant, "node-a"), []storage.HistoryMessage{
		reportMessage(t, ss, 100, v1), reportMessage(t, ss, 101, v2), reportMessage(t, ss, 1, b1), reportMessage(t, ss, 102, v3)})

	for name, tc := range map[string]struct {
		batch []storage.HistoryMessage
		want  storage.ServiceReport
	}{
		"in order":        {msgs[:len(msgs)-1], v2},
		"backwards":       {reversed(msgs[:len(msgs)-1]), v2},
		"with the delete": {reversed(msgs), v3},
		"v2 and v1":       {slices.Concat(msgs[:6], msgs[7:8], msgs[6:7]), v2},
	} {
		t.Run(name, func(t *testing.T) {
			hq := open(t)
			for range 2 {
				mustApplyHistory(t, hq, tc.batch)
			}
			got, err := hq.ServiceReport(ctx, "o1", "rep1")
			want := tc.want
			if want.Fields == nil {
				want.Fields = map[string]string{}
			}
			if err != nil || !reflect.DeepEqual(got, want) {
				t.Errorf("the report that stands =\n %+v %v, want\n %+v", got, err, want)
			}
			versions, err := hq.ServiceReportVersions(ctx, "o1", "rep1")
			if err != nil {
				t.Fatal(err)
			}
			var ids []string
			for _, v := range versions {
				ids = append(ids, v.VersionID)
			}
			wantIDs := []string{"rep1-node-a-v1", "rep1-Node-b-v1", "rep1-node-a-v2", "rep1-node-a-v3"}
			switch name {
			case "in order", "backwards":
				wantIDs = wantIDs[:3]
			case "v2 and v1":
				wantIDs = []string{"rep1-node-a-v1", "rep1-node-a-v2"}
			}
			if !slices.Equal(ids, wantIDs) {
				t.Errorf("versions %v, want %v (by edit time, origin, version)", ids, wantIDs)
			}
			if _, err := hq.ServiceReport(ctx, "o2", "rep1"); !errors.Is(err, storage.ErrNotFound) {
				t.Errorf("another organisation reads the report: %v", err)
			}
			// The session's list holds the report while it stands, not
			// once deleted, and nothing for another organisation.
			list, err := hq.SessionServiceReports(ctx, "o1", "c1")
			if err != nil || len(list) != map[bool]int{true: 0, false: 1}[want.Deleted] ||
				len(list) == 1 && !reflect.DeepEqual(list[0], want) {
				t.Errorf("session c1's reports = %+v %v, want the standing one unless deleted", list, err)
			}
			if list, err := hq.SessionServiceReports(ctx, "o2", "c1"); err != nil || len(list) != 0 {
				t.Errorf("another organisation lists session c1's reports: %+v %v", list, err)
			}
		})
	}

	hq := open(t)
	mustApplyHistory(t, hq, slices.Concat(msgs[:6], msgs[6:7]))
	clash := v1
	clash.VersionID, clash.Body = "rep1-other", "another text" // node-a's version 1 again, under another id
	other := v1
	other.VersionID = "rep1-x"
	for name, r := range map[string]storage.ServiceReport{
		"version 1 twice": clash,
		"no version":      func() storage.ServiceReport { r := other; r.Version = 0; return r }(),
		"no author":       func() storage.ServiceReport { r := other; r.CreatedBy = ""; return r }(),
		"no edit time":    func() storage.ServiceReport { r := other; r.EditedAt = time.Time{}; return r }(),
		"another session": func() storage.ServiceReport { r := other; r.SessionID = "c2"; return r }(),
		"another org":     func() storage.ServiceReport { r := other; r.OrgID = "o2"; return r }(),
		"no report id":    func() storage.ServiceReport { r := other; r.ID = ""; return r }(),
	} {
		res, err := hq.ApplyHistory(ctx, []storage.HistoryMessage{reportMessage(t, ss, 200, r)})
		if err != nil || len(res.Rejected) != 1 {
			t.Errorf("%s: apply = %+v %v, want it rejected", name, res, err)
		}
	}
	// A record whose id is not its version's.
	rec := storage.HistoryRecord{ID: "rep1-y", Kind: storage.HistoryServiceReport, Session: &ss, Report: &other}
	body, _ := json.Marshal(rec)
	if res, err := hq.ApplyHistory(ctx, []storage.HistoryMessage{{Origin: "node-a", Seq: 201, Record: body}}); err != nil || len(res.Rejected) != 1 {
		t.Errorf("a record of another id: apply = %+v %v, want it rejected", res, err)
	}
	if versions, err := hq.ServiceReportVersions(ctx, "o1", "rep1"); err != nil || len(versions) != 1 || versions[0].VersionID != v1.VersionID {
		t.Errorf("versions after the rejections = %+v %v, want v1 alone", versions, err)
	}
}
