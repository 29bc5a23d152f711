package node

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"siteline/media/sfu"
	"siteline/media/signal"
	"siteline/node/calls"
	"siteline/policy"
	"siteline/storage"
	"siteline/web"
)

// historyFederation starts a headquarters voter and a plant that joins it.
// mod adjusts the plant's configuration once headquarters runs.
func historyFederation(t testing.TB, hqMod func(*Config), plantMod func(hq *testNode, c *Config)) (hq, plant *testNode) {
	t.Helper()
	hq = fedNode(t, 1, "HQ 1", nil, func(c *Config, _ *Options) {
		if hqMod != nil {
			hqMod(c)
		}
	})
	plant = fedNode(t, 11, "Plant 1", &JoinOptions{Server: hq.url, Token: joinToken(t, hq)}, func(c *Config, _ *Options) {
		if plantMod != nil {
			plantMod(hq, c)
		}
	})
	plant.password = hq.password
	return hq, plant
}

// recordCalls records n calls at tn through the call service: created,
// two participants join, a chat message, one leaves, the call ends; and
// an audit event per call. It returns the calls' ids.
func recordCalls(t testing.TB, tn *testNode, n int) []string {
	t.Helper()
	ctx := context.Background()
	admin, err := tn.n.store.UserByEmail(ctx, tn.n.OrgID(), tn.cfg.Organisation.AdminEmail)
	if err != nil {
		t.Fatal(err)
	}
	a := web.Actor{UserID: admin.ID, OrgID: tn.n.OrgID(), Name: admin.Name}
	rec := tn.n.calls.Recorder()
	var ids []string
	for i := range n {
		s, err := tn.n.calls.CreateCall(ctx, a, web.CallInput{Name: fmt.Sprintf("Pump %d", i), Goal: "leak"})
		if err != nil {
			t.Fatal(err)
		}
		var leaving *calls.Departure
		for j, dev := range []string{"desktop", "glasses"} {
			d, err := tn.n.calls.RecordJoin(ctx, a, s.ID, fmt.Sprintf("%s-p%d", s.ID, j), admin.Name, dev, false)
			if err != nil {
				t.Fatal(err)
			}
			leaving = d
		}
		me := sfu.ParticipantInfo{ID: s.ID + "-p0", UserID: admin.ID, Name: admin.Name}
		if err := rec.Chat(s.ID, me, signal.Message{Text: fmt.Sprintf("valve %d closed", i), Time: time.Now().UnixMilli()}); err != nil {
			t.Fatal(err)
		}
		leaving.Record()
		if err := rec.End(s.ID, me); err != nil {
			t.Fatal(err)
		}
		if err := tn.n.audit(ctx, admin.ID, "call.review", s.ID, map[string]int{"call": i}); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, s.ID)
	}
	return ids
}

// siteRecords is every history record a store holds for a site, by kind
// and id, each as its JSON: sessions, participants, events, audit events.
func siteRecords(t testing.TB, tn *testNode, orgID, siteID string) map[string]string {
	t.Helper()
	ctx := context.Background()
	out := map[string]string{}
	put := func(kind, id string, v any) {
		key := kind + "/" + id
		if _, dup := out[key]; dup {
			t.Fatalf("%s: %s twice", tn.cfg.Node.Site, key)
		}
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		out[key] = string(b)
	}
	sessions, err := tn.n.store.ListSessions(ctx, storage.SessionFilter{OrgID: orgID, SiteID: siteID})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range sessions {
		put("session", s.ID, s)
		ps, err := tn.n.store.SessionParticipants(ctx, s.ID)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range ps {
			put("participant", p.ID, p)
		}
		evs, err := tn.n.store.SessionEvents(ctx, s.ID)
		if err != nil {
			t.Fatal(err)
		}
		for _, ev := range evs {
			put("event", ev.ID, ev)
		}
	}
	audit, err := tn.n.store.Audit(ctx, storage.AuditFilter{OrgID: orgID})
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

// sameHistory reports whether hq holds exactly the plant's history, and
// what differs when it does not.
func sameHistory(t testing.TB, hq, plant *testNode) (bool, string) {
	org, site := plant.n.OrgID(), plant.n.siteID
	want, got := siteRecords(t, plant, org, site), siteRecords(t, hq, org, site)
	if maps.Equal(want, got) {
		return true, ""
	}
	var missing, extra, differ []string
	for k, v := range want {
		if g, ok := got[k]; !ok {
			missing = append(missing, k)
		} else if g != v {
			differ = append(differ, k+": "+g+" != "+v)
		}
	}
	for k := range got {
		if _, ok := want[k]; !ok {
			extra = append(extra, k)
		}
	}
	return false, fmt.Sprintf("plant %d records, hq %d; missing %d %v; extra %v; different %v",
		len(want), len(got), len(missing), head(missing), extra, differ)
}

func head(s []string) []string {
	slices.Sort(s)
	return s[:min(len(s), 5)]
}

// waitSameHistory waits until hq holds exactly the plant's history, in
// its history database when it has one.
func waitSameHistory(t testing.TB, hq, plant *testNode, within time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	if hq.n.hist.db != nil {
		waitInDatabase(t, hq, plant, within)
		return time.Since(start)
	}
	var why string
	for {
		ok, w := sameHistory(t, hq, plant)
		if ok {
			return time.Since(start)
		}
		why = w
		if time.Since(start) > within {
			t.Fatalf("headquarters' history of %s not the plant's within %s: %s\n%s", plant.cfg.Node.Site, within, why, historyDiag(hq, plant))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// historyDiag describes where forwarding from plant to hq stands.
func historyDiag(hq, plant *testNode) string {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var b strings.Builder
	if h := hq.n.history; h != nil {
		un, err := h.Unapplied(ctx)
		fmt.Fprintf(&b, "hub: unapplied %d (%v)\n", un, err)
	}
	if st, err := hq.n.bus.JetStream().Stream(ctx, historyAggregate); err == nil {
		if info, err := st.Info(ctx); err == nil {
			fmt.Fprintf(&b, "%s: %+v\n", historyAggregate, info.State)
			for _, si := range info.Sources {
				fmt.Fprintf(&b, "  source %s: lag %d, active %s, error %v\n", sourceAPI(si), si.Lag, si.Active, si.Error)
			}
		}
	}
	if st, err := plant.n.bus.JetStream().Stream(ctx, historyStream); err == nil {
		if info, err := st.Info(ctx); err == nil {
			fmt.Fprintf(&b, "origin %s: %+v\n", historyStream, info.State)
		}
	}
	marks, _ := hq.n.store.HistoryMarks(ctx)
	last, unpublished, _, _ := plant.n.store.HistoryCounts(ctx, 0)
	fmt.Fprintf(&b, "applied marks %v; origin last %d, unpublished %d", marks, last, unpublished)
	return b.String()
}

// clusterNode returns id's row of the cluster status as tn's API shows it.
func clusterNode(t testing.TB, tn *testNode, b *browser, id string) web.ClusterNode {
	t.Helper()
	var st web.ClusterStatus
	if code := b.do("GET", "/api/v1/cluster", nil, &st); code != 200 {
		t.Fatalf("GET /api/v1/cluster at %s = %d", tn.cfg.Node.Site, code)
	}
	for _, n := range st.Nodes {
		if n.ID == id {
			return n
		}
	}
	t.Fatalf("%s is not in the status at %s: %+v", id, tn.cfg.Node.Site, st.Nodes)
	return web.ClusterNode{}
}

func backlogOf(n web.ClusterNode) int64 {
	if n.HistoryBacklog == nil {
		return -1
	}
	return *n.HistoryBacklog
}

// TestHistoryReachesHeadquarters: calls recorded at a plant appear at
// headquarters record for record, over the leaf link the join set up with
// no configuration; the plant's backlog drains to zero.
func TestHistoryReachesHeadquarters(t *testing.T) {
	hq, plant := historyFederation(t, nil, nil)
	if got, want := plant.n.bus.LeafLinks(), 1; got != want {
		eventually(t, 20*time.Second, "plant's leaf link", func() bool { return plant.n.bus.LeafLinks() == 1 })
	}
	ids := recordCalls(t, plant, 5)
	d := waitSameHistory(t, hq, plant, 60*time.Second)
	t.Logf("5 calls' history at headquarters %s after the last write", d)

	records := siteRecords(t, hq, plant.n.OrgID(), plant.n.siteID)
	kinds := map[string]int{}
	for k := range records {
		kinds[strings.Split(k, "/")[0]]++
	}
	// Per call: the session, two participants, four events (two joins, a
	// chat, a leave, the end: five), one audit event.
	if kinds["session"] != 5 || kinds["participant"] != 10 || kinds["event"] != 25 || kinds["audit"] != 5 {
		t.Errorf("headquarters holds %v of the plant's records", kinds)
	}
	s, err := hq.n.store.Session(context.Background(), ids[0])
	if err != nil || s.Status != storage.SessionEnded || s.SiteID != plant.n.siteID {
		t.Errorf("plant's call at headquarters = %+v, %v; want ended, at the plant's site", s, err)
	}
	// Headquarters' own history stays its own: nothing of it at the plant.
	recordCalls(t, hq, 1)
	if own := siteRecords(t, plant, hq.n.OrgID(), hq.n.siteID); len(own) != 0 {
		t.Errorf("headquarters' history reached the plant: %v", own)
	}

	checkSessionsBySite(t, hq, plant, ids)

	admin := plant.admin()
	eventually(t, 20*time.Second, "plant's backlog acknowledged", func() bool {
		n := clusterNode(t, plant, admin, plant.n.nodeID)
		return backlogOf(n) == 0 && n.HistoryLink == "up"
	})
	hqRow := clusterNode(t, hq, hq.admin(), plant.n.nodeID)
	if backlogOf(hqRow) != 0 || hqRow.HistoryLink != "up" {
		t.Errorf("headquarters shows the plant's history as %v, link %q; want 0, up", backlogOf(hqRow), hqRow.HistoryLink)
	}
	self := clusterNode(t, hq, hq.admin(), hq.n.nodeID)
	if self.HistoryLink != "hub, 1 link" {
		t.Errorf("headquarters' own history link = %q, want hub, 1 link", self.HistoryLink)
	}
}

// TestHistoryPartitionDeliversBacklogOnce: the plant's leaf link is cut;
// calls recorded meanwhile wait at the plant (its backlog shows them); once
// healed, headquarters holds every record exactly once.
func TestHistoryPartitionDeliversBacklogOnce(t *testing.T) {
	l := newLink(t)
	hq, plant := historyFederation(t, nil, func(hq *testNode, c *Config) {
		c.NATS.LeafRemotes = []string{"tls://" + l.proxy(strings.TrimPrefix(hq.n.LeafURL(), "tls://"))}
	})
	eventually(t, 20*time.Second, "leaf link", func() bool { return plant.n.bus.LeafLinks() == 1 })
	recordCalls(t, plant, 3)
	waitSameHistory(t, hq, plant, 60*time.Second)
	before := siteRecords(t, hq, plant.n.OrgID(), plant.n.siteID)

	l.setCut(true)
	eventually(t, 20*time.Second, "leaf link down", func() bool { return plant.n.bus.LeafLinks() == 0 && hq.n.bus.LeafLinks() == 0 })
	during := recordCalls(t, plant, 10)
	admin := plant.admin()
	// Seven outbox records a call: created, two joins, a chat, a leave,
	// the end, the audit event.
	var shown web.ClusterNode
	eventually(t, 20*time.Second, "backlog shown at the plant", func() bool {
		shown = clusterNode(t, plant, admin, plant.n.nodeID)
		return backlogOf(shown) == 10*7 && shown.HistoryLink == "down"
	})
	t.Logf("during the cut the plant shows history backlog %d, link %s", backlogOf(shown), shown.HistoryLink)
	if now := siteRecords(t, hq, plant.n.OrgID(), plant.n.siteID); !maps.Equal(now, before) {
		t.Fatalf("headquarters' copy changed during the cut: %d records, had %d", len(now), len(before))
	}
	if _, err := hq.n.store.Session(context.Background(), during[0]); err == nil {
		t.Fatal("a call recorded during the cut is at headquarters already")
	}

	l.setCut(false)
	d := waitSameHistory(t, hq, plant, 3*time.Minute)
	t.Logf("backlog of 10 calls (70 outbox records) at headquarters %s after the link was healed", d)
	eventually(t, 20*time.Second, "backlog acknowledged", func() bool {
		n := clusterNode(t, plant, admin, plant.n.nodeID)
		return backlogOf(n) == 0 && n.HistoryLink == "up"
	})
	// Exactly once: the plant's records, each once (siteRecords fails on a
	// repeated id, and the tables' keys forbid one), and nothing else.
	after := siteRecords(t, hq, plant.n.OrgID(), plant.n.siteID)
	if len(after) != len(before)+10*9 {
		t.Errorf("headquarters holds %d of the plant's records, want %d", len(after), len(before)+90)
	}
	marks, err := hq.n.store.HistoryMarks(context.Background())
	last, _, _, _ := plant.n.store.HistoryCounts(context.Background(), 0)
	if err != nil || marks[plant.n.nodeID] != last {
		t.Errorf("headquarters' mark for the plant = %d (%v), plant's last record %d", marks[plant.n.nodeID], err, last)
	}
}

// TestHistoryRepublishDoublesNothing: rows published but not marked (a
// crash between the two) are published again; with a duplicate window too
// short to drop them, both streams hold them twice, and headquarters'
// history is still the plant's, once.
func TestHistoryRepublishDoublesNothing(t *testing.T) {
	short := func(c *Config) { c.NATS.DuplicateWindow = 100 * time.Millisecond }
	hq, plant := historyFederation(t, short, func(_ *testNode, c *Config) { short(c) })
	recordCalls(t, plant, 4)
	waitSameHistory(t, hq, plant, 60*time.Second)
	ctx := context.Background()
	last, _, _, err := plant.n.store.HistoryCounts(ctx, 0)
	if err != nil || last == 0 {
		t.Fatalf("plant's outbox: last %d, %v", last, err)
	}
	streamLen := func(tn *testNode, name string) uint64 {
		n, err := tn.n.bus.StreamLen(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	if n := streamLen(plant, historyStream); n != uint64(last) {
		t.Fatalf("plant's stream holds %d messages, want %d", n, last)
	}
	start := time.Now()
	eventually(t, 10*time.Second, "duplicate window over", func() bool { return time.Since(start) > 200*time.Millisecond })

	// The crash: every row loses its published mark, as if the node had
	// stopped between JetStream's acknowledgement and the mark.
	db, err := sql.Open("sqlite", "file:"+plant.cfg.path("siteline.db")+"?_pragma=busy_timeout(5000)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(`UPDATE history_outbox SET published_at = NULL`); err != nil {
		t.Fatal(err)
	}
	eventually(t, 30*time.Second, "rows published again", func() bool {
		_, unpublished, _, err := plant.n.store.HistoryCounts(ctx, 0)
		return err == nil && unpublished == 0
	})
	if n := streamLen(plant, historyStream); n != 2*uint64(last) {
		t.Fatalf("plant's stream holds %d messages, want %d: the republished rows were dropped, not delivered twice", n, 2*last)
	}
	// Both copies went through HISTORY_ALL (which drops what it applied).
	eventually(t, 60*time.Second, "copies applied at headquarters", func() bool {
		n, err := hq.n.history.Unapplied(ctx)
		if err != nil || n != 0 {
			return false
		}
		st, err := hq.n.bus.JetStream().Stream(ctx, historyAggregate)
		if err != nil {
			t.Fatal(err)
		}
		info, err := st.Info(ctx)
		return err == nil && info.State.LastSeq == 2*uint64(last)
	})
	if ok, why := sameHistory(t, hq, plant); !ok {
		t.Fatalf("after republishing: %s", why)
	}
}

type sessionJSON struct {
	storage.Session
	SiteName string `json:"site_name"`
}

// checkSessionsBySite: headquarters lists every site's sessions, with the
// site's name, filtered by site; a user allowed only their own call logs
// sees only the sessions they took part in; one without call logs none.
func checkSessionsBySite(t *testing.T, hq, plant *testNode, plantIDs []string) {
	t.Helper()
	ctx := context.Background()
	admin := hq.admin()
	list := func(b *browser, query string) []sessionJSON {
		t.Helper()
		var out []sessionJSON
		if code := b.do("GET", "/api/v1/sessions"+query, nil, &out); code != 200 {
			t.Fatalf("GET /api/v1/sessions%s = %d", query, code)
		}
		return out
	}
	ids := func(l []sessionJSON) []string {
		var out []string
		for _, s := range l {
			out = append(out, s.ID)
		}
		slices.Sort(out)
		return out
	}
	atPlant := list(admin, "?site="+plant.n.siteID)
	if got, want := ids(atPlant), slices.Sorted(slices.Values(plantIDs)); !slices.Equal(got, want) {
		t.Errorf("sessions of the plant listed at headquarters = %v, want %v", got, want)
	}
	for _, s := range atPlant {
		if s.SiteName != plant.cfg.Node.Site || s.SiteID != plant.n.siteID {
			t.Errorf("session %s listed with site %q (%s), want %q", s.ID, s.SiteName, s.SiteID, plant.cfg.Node.Site)
		}
	}
	if all := list(admin, ""); len(all) != len(plantIDs)+1 {
		t.Errorf("headquarters lists %d sessions in all, want the plant's %d and its own", len(all), len(plantIDs))
	}
	if own := list(admin, "?site="+hq.n.siteID); len(own) != 1 || own[0].SiteName != hq.cfg.Node.Site {
		t.Errorf("headquarters' own sessions = %+v", own)
	}
	for _, q := range []string{"?site=nowhere", "?limit=0", "?status=lost", "?before=yesterday"} {
		if code, body := admin.raw("GET", "/api/v1/sessions"+q, "", nil); code != 400 {
			t.Errorf("GET /api/v1/sessions%s = %d %s, want 400", q, code, body)
		}
	}
	if code, body := admin.raw("GET", "/sessions?site="+plant.n.siteID, "", nil); code != 200 || !strings.Contains(string(body), plant.cfg.Node.Site) {
		t.Errorf("GET /sessions page = %d, want 200 naming %q", code, plant.cfg.Node.Site)
	}

	// A technician allowed their own call logs only, and one without.
	users := map[string]userJSON{}
	for _, email := range []string{"own@hq.example", "none@hq.example"} {
		var u userJSON
		if code := admin.do("POST", "/api/v1/users", web.UserInput{Email: email, Password: "correct horse battery", Roles: []string{"team_member"}}, &u); code != 201 {
			t.Fatalf("create %s = %d", email, code)
		}
		users[email] = u
	}
	org := hq.n.OrgID()
	own := users["own@hq.example"]
	grant := storage.Command{At: time.Now().UTC(), ActorID: "test", Changes: []storage.Change{{Op: storage.OpAddPolicy, Rules: []storage.PolicyRule{
		policy.Grant(org, policy.UserSubject(own.ID), policy.CallLogs),
		policy.Grant(org, policy.UserSubject(own.ID), policy.SeeOwnCallLogs),
	}}}}
	if err := hq.n.raft.Propose(ctx, grant); err != nil {
		t.Fatal(err)
	}
	mine, err := hq.n.calls.CreateCall(ctx, web.Actor{UserID: own.ID, OrgID: org}, web.CallInput{Name: "Mine"})
	if err != nil {
		t.Fatal(err)
	}
	if got := ids(list(hq.login("own@hq.example", "correct horse battery"), "")); !slices.Equal(got, []string{mine.ID}) {
		t.Errorf("own-call-logs user lists %v, want only %s", got, mine.ID)
	}
	code, body := hq.login("none@hq.example", "correct horse battery").raw("GET", "/api/v1/sessions", "", nil)
	if code != 403 || !strings.Contains(string(body), policy.CallLogs) {
		t.Errorf("user without call logs: %d %s, want 403 naming %s", code, body, policy.CallLogs)
	}
}

// TestHistoryStreamsArePurged: a plant's HISTORY keeps acknowledged
// records for historyKeep, then drops them, and forwarding goes on; what
// headquarters applied leaves its HISTORY_ALL, and after a restart of
// headquarters the sources resume where they were, copying nothing twice.
func TestHistoryStreamsArePurged(t *testing.T) {
	hq := fedNode(t, 1, "HQ 1", nil, func(c *Config, _ *Options) {
		// Fixed ports, so that the plant finds headquarters again after
		// its restart.
		c.Raft.Listen = freeAddr(t, "127.0.0.1")
		c.NATS.LeafListen = freeAddr(t, "127.0.0.1")
	})
	clk := &clock{t: time.Now()}
	plant := fedNode(t, 11, "Plant 1", &JoinOptions{Server: hq.url, Token: joinToken(t, hq)}, func(_ *Config, o *Options) {
		o.Now = clk.Now
	})
	plant.password = hq.password
	eventually(t, 20*time.Second, "leaf link", func() bool { return plant.n.bus.LeafLinks() == 1 })
	ctx := context.Background()
	streamLen := func(tn *testNode, name string) uint64 {
		n, err := tn.n.bus.StreamLen(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		return n
	}

	recordCalls(t, plant, 3)
	recordCalls(t, hq, 1)
	waitSameHistory(t, hq, plant, time.Minute)
	last, _, _, err := plant.n.store.HistoryCounts(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, 20*time.Second, "the plant's records acknowledged", func() bool {
		saved, _ := plant.n.meta(ctx, metaHistoryAcked)
		return saved == fmt.Sprint(last)
	})
	if n := streamLen(plant, historyStream); n != uint64(last) {
		t.Errorf("the plant's stream holds %d records an instant after they were acknowledged, want all %d", n, last)
	}

	clk.Add(historyKeep + time.Minute)
	eventually(t, 20*time.Second, "the plant's stream purged", func() bool { return streamLen(plant, historyStream) == 0 })

	recordCalls(t, plant, 2)
	waitSameHistory(t, hq, plant, time.Minute)

	eventually(t, 20*time.Second, "headquarters' aggregate purged", func() bool { return streamLen(hq, historyAggregate) == 0 })
	taken := func() uint64 { // messages HISTORY_ALL has taken in
		st, err := hq.n.bus.JetStream().Stream(ctx, historyAggregate)
		if err != nil {
			t.Fatal(err)
		}
		info, err := st.Info(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return info.State.LastSeq
	}
	before := taken()
	sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	err = hq.n.Shutdown(sctx)
	cancel()
	if err != nil {
		t.Fatalf("stop headquarters: %v", err)
	}
	hq = restartNode(t, hq.cfg, hq.password)
	eventually(t, 30*time.Second, "leaf link again", func() bool { return hq.n.bus.LeafLinks() == 1 })
	recordCalls(t, plant, 1)
	waitSameHistory(t, hq, plant, time.Minute)
	if got := taken(); got != before+7 {
		t.Errorf("HISTORY_ALL took in %d messages after the restart for one call's 7 records", got-before)
	}
}

// TestHistoryVotersHoldEveryonesHistory: with two headquarters voters and
// a plant that joined through the first, each voter holds the history of
// the other voter and of the plant (the second reaching the plant through
// the first), each record once.
func TestHistoryVotersHoldEveryonesHistory(t *testing.T) {
	nodes := startFederation(t, 2, 1, nil)
	hq1, hq2, plant := nodes[0], nodes[1], nodes[2]
	eventually(t, 20*time.Second, "leaf links", func() bool {
		return plant.n.bus.LeafLinks() == 1 && hq2.n.bus.LeafLinks() == 1 && hq1.n.bus.LeafLinks() == 2
	})
	for _, tn := range nodes {
		recordCalls(t, tn, 2)
	}
	for _, pair := range [][2]*testNode{{hq1, plant}, {hq1, hq2}, {hq2, plant}, {hq2, hq1}} {
		d := waitSameHistory(t, pair[0], pair[1], time.Minute)
		t.Logf("%s holds %s's history (%s)", pair[0].cfg.Node.Site, pair[1].cfg.Node.Site, d)
	}
	// Nothing travels to a plant.
	if got := siteRecords(t, plant, hq1.n.OrgID(), hq1.n.siteID); len(got) != 0 {
		t.Errorf("the plant holds %d of headquarters' records", len(got))
	}
	// Nothing waits to be applied anywhere.
	admin := hq1.admin()
	eventually(t, 30*time.Second, "voters' backlogs acknowledged", func() bool {
		var st web.ClusterStatus
		if admin.do("GET", "/api/v1/cluster", nil, &st) != 200 {
			return false
		}
		for _, n := range st.Nodes {
			if backlogOf(n) != 0 {
				return false
			}
		}
		return true
	})
}
