package node

import (
	"context"
	"encoding/json"
	"io"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"siteline/cluster/history"
	"siteline/internal/pgtest"
	"siteline/storage"
	"siteline/storage/blob"
	"siteline/storage/dashboard"
	"siteline/web"
)

// onPostgres puts a node's history on the database dsn.
func onPostgres(dsn string) func(*Config) {
	return func(c *Config) {
		c.Storage.History.Driver = historyDriverPostgres
		c.Storage.History.DSN = blob.Secret(dsn)
	}
}

// dbRecords is every history record of the sessions ids as the node's
// history database holds them (not the node's SQLite store), by kind and
// id, each as its JSON, in siteRecords' form: sessions, participants,
// events, and the audit events of site.
func dbRecords(t testing.TB, tn *testNode, orgID, siteID string, ids []string) map[string]string {
	t.Helper()
	db := tn.n.hist.db
	if db == nil {
		t.Fatalf("%s has no history database", tn.cfg.Node.Site)
	}
	ctx := context.Background()
	out := map[string]string{}
	put := func(kind, id string, v any) {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		out[kind+"/"+id] = string(b)
	}
	for _, id := range ids {
		s, err := db.Session(ctx, id)
		if err != nil {
			continue // not there (yet)
		}
		put("session", s.ID, s)
		ps, err := db.SessionParticipants(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range ps {
			put("participant", p.ID, p)
		}
		evs, err := db.SessionEvents(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		for _, ev := range evs {
			put("event", ev.ID, ev)
		}
	}
	audit, err := db.Audit(ctx, storage.AuditFilter{OrgID: orgID, Limit: 10000})
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range audit {
		if e.SiteID == siteID {
			put("audit", e.ID, e)
		}
	}
	return out
}

// sessionIDs lists a site's sessions in a node's SQLite store.
func sessionIDs(t testing.TB, tn *testNode, orgID, siteID string) []string {
	t.Helper()
	list, err := tn.n.store.ListSessions(context.Background(), storage.SessionFilter{OrgID: orgID, SiteID: siteID})
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, s := range list {
		ids = append(ids, s.ID)
	}
	return ids
}

// waitInDatabase waits until hq's history database holds exactly what
// from's SQLite store holds of from's site.
func waitInDatabase(t testing.TB, hq, from *testNode, within time.Duration) {
	t.Helper()
	org, site := from.n.OrgID(), from.n.siteID
	var want, got map[string]string
	deadline := time.Now().Add(within)
	for {
		want = siteRecords(t, from, org, site)
		got = dbRecords(t, hq, org, site, sessionIDs(t, from, org, site))
		if maps.Equal(want, got) {
			return
		}
		if time.Now().Before(deadline) {
			time.Sleep(25 * time.Millisecond) // polling a condition, as testutil.Eventually does
			continue
		}
		var missing, differ []string
		for k, v := range want {
			if g, ok := got[k]; !ok {
				missing = append(missing, k)
			} else if g != v {
				differ = append(differ, k+": "+g+" != "+v)
			}
		}
		logForwarding(t, hq, from)
		rejected, _ := hq.n.hist.HistoryRejected(context.Background())
		marks, _ := hq.n.hist.HistoryMarks(context.Background())
		t.Fatalf("%s's history database does not hold %s's within %s: %d records there, %d here; missing %v; different %v; rejected %+v; marks %v",
			hq.cfg.Node.Site, from.cfg.Node.Site, within, len(want), len(got), head(missing), head(differ), rejected, marks)
	}
}

// logForwarding logs where history forwarding from one node to a hub
// stands: the hub's sources and apply consumer, the origin's stream and
// outbox.
func logForwarding(t testing.TB, hq, from *testNode) {
	t.Helper()
	ctx := context.Background()
	if st, err := hq.n.bus.JetStream().Stream(ctx, history.Aggregate); err == nil {
		if info, err := st.Info(ctx); err == nil {
			for _, si := range info.Sources {
				t.Logf("%s's source %s: active %v ago, lag %d, error %v", hq.cfg.Node.Site, si.External.APIPrefix, si.Active, si.Lag, si.Error)
			}
			t.Logf("%s's %s: %+v", hq.cfg.Node.Site, history.Aggregate, info.State)
		}
		if c, err := st.Consumer(ctx, "apply"); err == nil {
			if ci, err := c.Info(ctx); err == nil {
				t.Logf("its consumer: delivered %+v, acknowledged %+v, pending %d", ci.Delivered, ci.AckFloor, ci.NumPending+uint64(ci.NumAckPending))
			}
		}
	}
	if st, err := from.n.bus.JetStream().Stream(ctx, history.Stream); err == nil {
		if info, err := st.Info(ctx); err == nil {
			t.Logf("%s's %s: %+v", from.cfg.Node.Site, history.Stream, info.State)
		}
	}
	last, unpublished, unacked, err := from.n.hist.Store.HistoryCounts(ctx, 0)
	t.Logf("%s's outbox: last %d, unpublished %d, unacknowledged %d (%v)", from.cfg.Node.Site, last, unpublished, unacked, err)
}

// TestHistoryOnPostgres: headquarters keeps its history on PostgreSQL. A
// plant's calls arrive there record for record, those recorded while the
// plant's link was cut arrive once the link heals, exactly once;
// headquarters' own calls reach the database too; the history pages,
// search and exports at headquarters give for the plant's site what the
// plant's own node (on SQLite) gives; a field changed after a call shows
// in the very next search; and a restart keeps it all.
func TestHistoryOnPostgres(t *testing.T) {
	dsn := pgtest.DB(t)
	l := newLink(t)
	hq, plant := historyFederation(t, onPostgres(dsn), func(hq *testNode, c *Config) {
		c.NATS.LeafRemotes = []string{"tls://" + l.proxy(strings.TrimPrefix(hq.n.LeafURL(), "tls://"))}
	})
	if hq.n.hist.db == nil {
		t.Fatal("headquarters runs without its history database")
	}
	eventually(t, 20*time.Second, "leaf link", func() bool { return plant.n.bus.LeafLinks() == 1 })

	before := recordCalls(t, plant, 3)
	waitInDatabase(t, hq, plant, 60*time.Second)

	l.setCut(true)
	eventually(t, 20*time.Second, "leaf link down", func() bool { return plant.n.bus.LeafLinks() == 0 && hq.n.bus.LeafLinks() == 0 })
	during := recordCalls(t, plant, 4)
	if _, err := hq.n.hist.db.Session(context.Background(), during[0]); err == nil {
		t.Fatal("a call recorded during the cut is at headquarters already")
	}
	l.setCut(false)
	waitInDatabase(t, hq, plant, 3*time.Minute)
	marks, err := hq.n.hist.db.HistoryMarks(context.Background())
	last, _, _, _ := plant.n.store.HistoryCounts(context.Background(), 0)
	if err != nil || marks[plant.n.nodeID] != last {
		t.Errorf("headquarters' mark for the plant = %d (%v), plant's last record %d", marks[plant.n.nodeID], err, last)
	}

	// Headquarters' own call: in its SQLite store first, then in the
	// database through the same applier.
	own := recordCalls(t, hq, 1)
	waitInDatabase(t, hq, hq, 30*time.Second)

	// The pages and the API at headquarters give for the plant's site what
	// the plant gives.
	plantIDs := slices.Concat(before, during)
	hqAdmin, plantAdmin := hq.admin(), plant.admin()
	sameList := func(query string) {
		t.Helper()
		var atHQ, atPlant []sessionJSON
		if code := hqAdmin.do("GET", "/api/v1/sessions"+query, nil, &atHQ); code != 200 {
			t.Fatalf("GET /api/v1/sessions%s at headquarters = %d", query, code)
		}
		if code := plantAdmin.do("GET", "/api/v1/sessions"+query, nil, &atPlant); code != 200 {
			t.Fatalf("GET /api/v1/sessions%s at the plant = %d", query, code)
		}
		a, b := mustJSON(t, atHQ), mustJSON(t, atPlant)
		if a != b || len(atHQ) == 0 {
			t.Errorf("GET /api/v1/sessions%s:\nheadquarters %s\nplant        %s", query, a, b)
		}
	}
	site := "?site=" + plant.n.siteID
	sameList(site)
	sameList(site + "&q=valve")
	sameList(site + "&q=" + "closed&sort=name&order=asc")
	sameList(site + "&limit=2")
	var all []sessionJSON
	if code := hqAdmin.do("GET", "/api/v1/sessions?limit=100", nil, &all); code != 200 || len(all) != len(plantIDs)+len(own) {
		t.Errorf("headquarters lists %d sessions (%d), want the plant's %d and its own %d", len(all), code, len(plantIDs), len(own))
	}
	exportOf := func(b *browser) string {
		t.Helper()
		code, body := b.raw("GET", "/api/v1/sessions/export?format=json&site="+plant.n.siteID, "", nil)
		if code != 200 {
			t.Fatalf("export = %d %s", code, body)
		}
		return string(body)
	}
	if a, b := exportOf(hqAdmin), exportOf(plantAdmin); a != b {
		t.Errorf("the plant's sessions exported at headquarters differ from the plant's export:\n%s\n%s", a, b)
	}
	// The dashboards, from the database's rollups, count the plant's
	// calls as the plant's own node does.
	for _, q := range []string{"?site=" + plant.n.siteID, "?site=" + plant.n.siteID + "&by=user&period=day"} {
		var atHQ, atPlant dashboard.Report
		if code := hqAdmin.do("GET", "/api/v1/dashboard"+q, nil, &atHQ); code != 200 {
			t.Fatalf("dashboard%s at headquarters = %d", q, code)
		}
		if code := plantAdmin.do("GET", "/api/v1/dashboard"+q, nil, &atPlant); code != 200 {
			t.Fatalf("dashboard%s at the plant = %d", q, code)
		}
		if a, b := mustJSON(t, atHQ), mustJSON(t, atPlant); a != b || atHQ.Summary.Sessions != int64(len(plantIDs)) {
			t.Errorf("dashboard%s:\nheadquarters %s\nplant        %s", q, a, b)
		}
	}
	for _, page := range []string{"/sessions?site=" + plant.n.siteID, "/sessions/" + before[0]} {
		if code, body := hqAdmin.raw("GET", page, "", nil); code != 200 || !strings.Contains(string(body), "Pump 0") {
			t.Errorf("GET %s at headquarters = %d, want the page naming the plant's call", page, code)
		}
	}

	// A field given headquarters' own call after it ended shows in the
	// very next search, which reads the database.
	var fields storage.SessionSummary
	if code := hqAdmin.do("PATCH", "/api/v1/sessions/"+own[0], web.SessionFieldsInput{Notes: ptr("replaced the seal")}, &fields); code != 200 || fields.Notes != "replaced the seal" {
		t.Fatalf("PATCH fields = %d %+v", code, fields)
	}
	var found []sessionJSON
	if code := hqAdmin.do("GET", "/api/v1/sessions?q=seal", nil, &found); code != 200 || len(found) != 1 || found[0].ID != own[0] {
		t.Errorf("search for the new notes right after the change = %d %+v, want %s", code, found, own[0])
	}

	// A restart keeps it: the database is reopened, its schema as it was.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := hq.n.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	hq = restartNode(t, hq.cfg, hq.password)
	if hq.n.hist.db == nil {
		t.Fatal("restarted without its history database")
	}
	waitInDatabase(t, hq, plant, 30*time.Second)
	if code := hq.admin().do("GET", "/api/v1/sessions?q=seal", nil, &found); code != 200 || len(found) != 1 {
		t.Errorf("after a restart the search finds %d (%d)", len(found), code)
	}
	// A backup holds the SQLite store and says the history database is
	// not in it.
	m, err := hq.n.Backup(context.Background(), io.Discard, BackupOptions{})
	if err != nil || m.HistoryDatabase != historyDriverPostgres {
		t.Errorf("backup manifest = %+v, %v; want it to name the history database it leaves out", m, err)
	}
}

// TestHistoryOnPostgresTwoVoters: two headquarters voters on PostgreSQL,
// sharing one database or each with its own, and a plant: every
// database holds every node's history, the voters' own included, each
// record once, and both voters list every call.
func TestHistoryOnPostgresTwoVoters(t *testing.T) {
	for _, shared := range []bool{true, false} {
		name := map[bool]string{true: "one database", false: "a database each"}[shared]
		t.Run(name, func(t *testing.T) {
			dsn1 := pgtest.DB(t)
			dsn2 := dsn1
			if !shared {
				dsn2 = pgtest.DB(t)
			}
			hq1 := fedNode(t, 1, "HQ 1", nil, func(c *Config, _ *Options) { onPostgres(dsn1)(c) })
			hq2 := fedNode(t, 2, "HQ 2", &JoinOptions{Server: hq1.url, Token: voterToken(t, hq1), Voter: true},
				func(c *Config, _ *Options) { onPostgres(dsn2)(c) })
			hq2.password = hq1.password
			plant := fedNode(t, 11, "Plant 1", &JoinOptions{Server: hq1.url, Token: joinToken(t, hq1)}, nil)
			plant.password = hq1.password
			eventually(t, 20*time.Second, "leaf links", func() bool {
				return plant.n.bus.LeafLinks() == 1 && hq2.n.bus.LeafLinks() == 1 && hq1.n.bus.LeafLinks() == 2
			})
			nodes := []*testNode{hq1, hq2, plant}
			var all []string
			for _, tn := range nodes {
				all = append(all, recordCalls(t, tn, 2)...)
			}
			for _, hq := range []*testNode{hq1, hq2} {
				for _, from := range nodes {
					waitInDatabase(t, hq, from, time.Minute)
				}
			}
			slices.Sort(all)
			for _, hq := range []*testNode{hq1, hq2} {
				var listed []sessionJSON
				if code := hq.admin().do("GET", "/api/v1/sessions?limit=100", nil, &listed); code != 200 {
					t.Fatalf("GET /api/v1/sessions at %s = %d", hq.cfg.Node.Site, code)
				}
				var ids []string
				for _, s := range listed {
					ids = append(ids, s.ID)
				}
				slices.Sort(ids)
				if !slices.Equal(ids, all) {
					t.Errorf("%s lists %v, want every node's calls once: %v", hq.cfg.Node.Site, ids, all)
				}
			}
		})
	}
}

// TestHistoryOnPostgresVotersOfOneSite: two headquarters voters of one
// site share one database. A report written at hq2 on a call hq1 held
// (which hq2 holds only in the database) is read at both, and so is its
// edit at hq1.
func TestHistoryOnPostgresVotersOfOneSite(t *testing.T) {
	dsn := pgtest.DB(t)
	hq1 := fedNode(t, 1, "HQ", nil, func(c *Config, _ *Options) { onPostgres(dsn)(c) })
	hq2 := fedNode(t, 2, "HQ", &JoinOptions{Server: hq1.url, Token: voterToken(t, hq1), Voter: true},
		func(c *Config, _ *Options) { onPostgres(dsn)(c); c.Node.ID = "hq-2" })
	hq2.password = hq1.password
	if hq1.n.siteID != hq2.n.siteID {
		t.Fatalf("the voters' sites are %s and %s, want one", hq1.n.siteID, hq2.n.siteID)
	}
	id := recordCalls(t, hq1, 1)[0]
	eventually(t, 20*time.Second, "HQ 1's call at HQ 2", func() bool {
		return hq2.admin().do("GET", "/api/v1/calls/"+id, nil, nil) == 200
	})

	var written storage.ServiceReport
	if code := hq2.admin().do("POST", "/api/v1/sessions/"+id+"/reports",
		web.ReportInput{Fields: map[string]string{"fault": "Seal leaking"}, Body: "Replaced the seal."}, &written); code != 201 {
		t.Fatalf("POST a report at HQ 2 on HQ 1's call = %d", code)
	}
	read := func(tn *testNode, want storage.ServiceReport) {
		t.Helper()
		var got web.ReportDetail
		if code := tn.admin().do("GET", "/api/v1/reports/"+want.ID, nil, &got); code != 200 ||
			got.Report.VersionID != want.VersionID || got.Session.ID != id {
			t.Errorf("the report at node %s = %d %+v, want version %s", tn.n.nodeID, code, got.Report, want.VersionID)
		}
	}
	read(hq2, written)
	read(hq1, written)

	var edited storage.ServiceReport
	if code := hq1.admin().do("PUT", "/api/v1/reports/"+written.ID,
		web.ReportInput{Version: 1, Fields: map[string]string{"fault": "Seal worn"}, Body: "Replaced the seal and the gasket."}, &edited); code != 200 {
		t.Fatalf("PUT the report at HQ 1 = %d", code)
	}
	read(hq1, edited)
	read(hq2, edited)
}
