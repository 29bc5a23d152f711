package node

import (
	"bytes"
	"context"
	"encoding/json"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"siteline/internal/testutil"
	"siteline/policy"
	"siteline/storage"
	"siteline/web"
)

// historyKinds is what the :id of a route names, by the start of its
// path; the first match wins.
var historyKinds = []struct{ prefix, kind string }{
	{"/api/v1/sessions/", "session"},
	{"/sessions/", "session"},
	{"/api/v1/calls/", "session"},
	{"/calls/", "session"},
	{"/api/v1/reports/", "report"},
	{"/reports/", "report"},
	{"/api/v1/media/", "media"},
	{"/api/v1/recordings/", "recording"},
}

func historyKind(path string) string {
	for _, k := range historyKinds {
		if strings.HasPrefix(path, k.prefix) {
			return k.kind
		}
	}
	return ""
}

var pathParam = regexp.MustCompile(`:(\w+)`)

// fillPath puts id into :id and a placeholder into any other parameter.
func fillPath(path, id string) string {
	return pathParam.ReplaceAllStringFunc(path, func(p string) string {
		if p == ":id" {
			return id
		}
		return "x"
	})
}

// forgedInput is what a request to change a record sends: a change that
// would be accepted from someone allowed to make it.
func forgedInput(r web.RouteInfo) (contentType string, body []byte) {
	if r.Page {
		v := url.Values{"notes": {"forged"}, "body": {"forged"}, "version": {"1"}, "fault": {"forged"}}
		return "application/x-www-form-urlencoded", []byte(v.Encode())
	}
	var in any = map[string]any{}
	switch {
	case r.Method == "PATCH" && strings.HasPrefix(r.Path, "/api/v1/sessions/"):
		in = map[string]any{"notes": "forged"}
	case r.Method == "POST" && strings.HasSuffix(r.Path, "/reports"):
		in = web.ReportInput{Fields: map[string]string{"fault": "forged"}, Body: "forged"}
	case r.Method == "PUT" && historyKind(r.Path) == "report":
		in = map[string]any{"version": 1, "body": "forged", "fields": map[string]string{"fault": "forged"}}
	}
	b, _ := json.Marshal(in)
	return "application/json", b
}

// send makes the request of route r with id in its path, forged input for
// a change, and the version to delete for a deletion.
func send(b *browser, r web.RouteInfo, id string) (int, string) {
	b.t.Helper()
	path := fillPath(r.Path, id)
	if r.Method == "DELETE" && historyKind(r.Path) == "report" {
		path += "?version=1"
	}
	if r.Method == "GET" {
		st, body := b.raw("GET", path, "", nil)
		return st, string(body)
	}
	ct, body := forgedInput(r)
	if r.Page {
		v, _ := url.ParseQuery(string(body))
		v.Set("_csrf", b.csrf)
		body = []byte(v.Encode())
	}
	st, out := b.raw(r.Method, path, ct, bytes.NewReader(body))
	return st, string(out)
}

// sessionState is everything a change of session id could touch: its row
// and fields, its reports with every version, its media and recordings.
func sessionState(t *testing.T, tn *testNode, orgID, id string) string {
	t.Helper()
	ctx := context.Background()
	st := map[string]any{}
	var err error
	if st["summary"], err = tn.n.store.SessionSummary(ctx, orgID, id); err != nil {
		t.Fatal(err)
	}
	reports, err := tn.n.store.SessionServiceReports(ctx, orgID, id)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range reports {
		if st["report "+r.ID], err = tn.n.store.ServiceReportVersions(ctx, orgID, r.ID); err != nil {
			t.Fatal(err)
		}
	}
	if st["media"], err = tn.n.store.SessionMedia(ctx, id); err != nil {
		t.Fatal(err)
	}
	if st["recordings"], err = tn.n.store.SessionRecordings(ctx, id); err != nil {
		t.Fatal(err)
	}
	out, err := json.Marshal(st)
	if err != nil {
		t.Fatal(err)
	}
	return string(out)
}

// historyRecords gives session sessionID of organisation orgID a service
// report, a file and a recording, written the way the node writes them.
func historyRecords(t *testing.T, tn *testNode, orgID, sessionID string) map[string]string {
	t.Helper()
	ctx := context.Background()
	now := time.Now().UTC()
	b, err := tn.n.blobs.Put(bytes.NewReader(randomBytes(t, 2048)), 0)
	if err != nil {
		t.Fatal(err)
	}
	m := storage.Media{ID: newID(), SessionID: sessionID, OrgID: orgID, Kind: storage.MediaFile, Name: "manual.pdf",
		BlobKey: b.Key, ContentType: "application/pdf", Size: b.Size, SHA256: b.Key, CreatedBy: "u", CreatedAt: now}
	if err := tn.n.store.AddMedia(ctx, m, storage.SessionEvent{ID: newID(), SessionID: sessionID, At: now,
		Kind: storage.EventFile, ActorID: "u", Payload: payload(map[string]any{"media": m.ID})}); err != nil {
		t.Fatal(err)
	}
	end := now.Add(30 * time.Second)
	rec := storage.Recording{ID: newID(), SessionID: sessionID, OrgID: orgID, Name: "call.webm",
		BlobKey: b.Key, ContentType: "video/webm", Size: b.Size, SHA256: b.Key, Status: storage.RecordingComplete,
		StartedBy: "u", StartedAt: now, EndedAt: &end, DurationMS: 30_000, Participant: "p1", Tracks: []string{"v"}}
	if err := tn.n.store.AddRecording(ctx, rec, storage.SessionEvent{ID: newID(), SessionID: sessionID, At: end,
		Kind: storage.EventRecording, ActorID: "u", Payload: payload(map[string]any{"recording": rec.ID})}); err != nil {
		t.Fatal(err)
	}
	rep := storage.ServiceReport{ID: newID(), VersionID: newID(), OrgID: orgID, SiteID: tn.n.siteID, SessionID: sessionID,
		Version: 1, Fields: map[string]string{"fault": "Seal"}, Body: "Replaced the seal.",
		CreatedBy: "u", CreatedAt: now, EditedBy: "u", EditedAt: now, Origin: tn.n.nodeID}
	if err := tn.n.store.WriteServiceReport(ctx, rep); err != nil {
		t.Fatal(err)
	}
	return map[string]string{"session": sessionID, "report": rep.ID, "media": m.ID, "recording": rec.ID}
}

// TestHistoryRoutesKeepOrganisationsAndUsersApart walks every route that
// takes the id of a session, a service report, a media item or a
// recording. The administrator, who holds every permission, gets the
// organisation's own records; another organisation's records in the same
// store are answered as unknown ids are, 404, and a change sent to them
// changes nothing. A user who may read, export and report on their own
// sessions only gets none of the administrator's: 403 or 404 on every
// route, nothing in the lists and exports, nothing changed.
func TestHistoryRoutesKeepOrganisationsAndUsersApart(t *testing.T) {
	testutil.System(t)
	tn := startNode(t, Config{})
	ctx := context.Background()
	admin := tn.admin()
	org := tn.n.OrgID()

	own := historyRecords(t, tn, org, recordCalls(t, tn, 1)[0])
	const otherOrg = "otherorganisation000000000"
	otherSession := storage.Session{ID: newID(), OrgID: otherOrg, SiteID: tn.n.siteID, Kind: storage.SessionConference,
		Name: "Their pump", Status: storage.SessionActive, CreatedBy: "them", StartedAt: time.Now().UTC()}
	if err := tn.n.store.CreateSession(ctx, otherSession); err != nil {
		t.Fatal(err)
	}
	other := historyRecords(t, tn, otherOrg, otherSession.ID)
	unknown := map[string]string{}
	for k := range own {
		unknown[k] = "unknown" + k
	}

	// A technician who may read, export and report on their own sessions.
	u := createUser(t, admin, "tech@plant.example", "correct horse battery", "team_member")
	for _, p := range []string{policy.CallLogs, policy.SeeOwnCallLogs, policy.ExportCallLog, policy.DownloadMedia,
		policy.DeleteMedia, policy.ServiceReports, policy.ReadServiceReports, policy.CreateServiceReport,
		policy.EditServiceReports, policy.DeleteServiceReports} {
		grant(t, admin, policy.UserSubject(u.ID), p)
	}
	tech := tn.login("tech@plant.example", "correct horse battery")
	mine, err := tn.n.calls.CreateCall(ctx, web.Actor{UserID: u.ID, OrgID: org, Name: "Tech"}, web.CallInput{Name: "Mine"})
	if err != nil {
		t.Fatal(err)
	}

	before := map[string]string{
		"own":   sessionState(t, tn, org, own["session"]),
		"other": sessionState(t, tn, otherOrg, other["session"]),
	}
	var walked []string
	for _, r := range tn.n.web.Routes() {
		kind := historyKind(r.Path)
		// OPTIONS (WHIP/WHEP) answers what the endpoint takes, the same
		// for any id, and reads no record.
		if kind == "" || !strings.Contains(r.Path, ":id") || r.Public || r.Method == "OPTIONS" {
			continue
		}
		name := r.Method + " " + r.Path
		walked = append(walked, name)
		// The administrator reads the organisation's own records.
		plainRead := r.Method == "GET" && !strings.HasPrefix(r.Path, "/calls/") && !strings.HasPrefix(r.Path, "/api/v1/calls/")
		if plainRead {
			if st, body := send(admin, r, own[kind]); st != 200 {
				t.Errorf("%s of the organisation's own %s = %d %.200s, want 200", name, kind, st, body)
			}
		}
		// Another organisation's record is an unknown one.
		foreignSt, foreign := send(admin, r, other[kind])
		absentSt, absent := send(admin, r, unknown[kind])
		// (The call's WebSocket answers any plain GET 426, whatever the id.)
		if r.Method == "GET" && foreignSt != 404 && !strings.HasSuffix(r.Path, "/signal") {
			t.Errorf("%s with another organisation's %s = %d %.200s, want 404", name, kind, foreignSt, foreign)
		}
		// A page's form answers with a redirect back, to an error or not:
		// the records' state, checked below, tells whether it did anything.
		formRedirect := r.Page && r.Method != "GET" && foreignSt == 303
		if (foreignSt < 400 && !formRedirect) || foreignSt != absentSt ||
			strings.ReplaceAll(foreign, other[kind], "ID") != strings.ReplaceAll(absent, unknown[kind], "ID") {
			t.Errorf("%s answers another organisation's %s (%d %.200s) otherwise than an unknown one (%d %.200s)",
				name, kind, foreignSt, foreign, absentSt, absent)
		}
		// The technician gets nothing of the administrator's.
		if st, body := send(tech, r, own[kind]); st != 403 && st != 404 {
			t.Errorf("%s of another user's %s by a user without %s = %d %.200s, want 403 or 404",
				name, kind, policy.SeeAllCallLogs, st, body)
		} else if st == 403 && !strings.Contains(body, "xa_") {
			t.Errorf("%s of another user's %s: 403 without naming a permission: %.200s", name, kind, body)
		}
	}
	for _, want := range []string{"GET /sessions/:id", "GET /sessions/:id/report.pdf", "GET /api/v1/sessions/:id/report.pdf",
		"PATCH /api/v1/sessions/:id", "POST /sessions/:id/fields", "GET /reports/:id", "GET /api/v1/reports/:id",
		"PUT /api/v1/reports/:id", "DELETE /api/v1/reports/:id", "POST /reports/:id/delete",
		"POST /api/v1/sessions/:id/reports", "GET /api/v1/media/:id", "GET /api/v1/recordings/:id"} {
		if !slices.Contains(walked, want) {
			t.Errorf("the walk did not reach %s (walked %v)", want, walked)
		}
	}
	after := map[string]string{
		"own":   sessionState(t, tn, org, own["session"]),
		"other": sessionState(t, tn, otherOrg, other["session"]),
	}
	for k := range before {
		if before[k] != after[k] {
			t.Errorf("the walk changed the %s session:\nbefore %s\nafter  %s", k, before[k], after[k])
		}
	}

	// The technician's lists, searches and exports hold their own session
	// alone; another organisation's is in nobody's.
	for _, tt := range []struct {
		who  *browser
		name string
		want []string
	}{{tech, "the technician", []string{mine.ID}}, {admin, "the administrator", []string{own["session"], mine.ID}}} {
		var page []struct {
			ID string `json:"id"`
		}
		if st := tt.who.do("GET", "/api/v1/sessions?limit=100", nil, &page); st != 200 {
			t.Fatalf("%s lists sessions: %d", tt.name, st)
		}
		var got []string
		for _, r := range page {
			got = append(got, r.ID)
		}
		slices.Sort(got)
		slices.Sort(tt.want)
		if !slices.Equal(got, tt.want) {
			t.Errorf("%s lists sessions %v, want %v", tt.name, got, tt.want)
		}
		st, csv := tt.who.raw("GET", "/api/v1/sessions/export?format=csv", "", nil)
		if st != 200 || strings.Contains(string(csv), other["session"]) ||
			(tt.who == tech && strings.Contains(string(csv), own["session"])) || !strings.Contains(string(csv), mine.ID) {
			t.Errorf("%s's CSV export = %d, with rows that are not theirs or without their own:\n%s", tt.name, st, csv)
		}
		var reports []storage.ServiceReport
		if st := tt.who.do("GET", "/api/v1/reports?q=seal", nil, &reports); st != 200 {
			t.Fatalf("%s searches reports: %d", tt.name, st)
		}
		for _, r := range reports {
			if r.ID == other["report"] || (tt.who == tech && r.ID == own["report"]) {
				t.Errorf("%s's report search found report %s of session %s", tt.name, r.ID, r.SessionID)
			}
		}
	}
}
