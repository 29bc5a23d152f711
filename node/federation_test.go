package node

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"siteline/internal/testutil"
	"siteline/policy"
	"siteline/storage"
	"siteline/web"
)

// fedNode starts a node on its own loopback address (127.0.0.ip) whose
// organisation comes from hq's federation (or a new one when join is nil).
func fedNode(t testing.TB, ip int, site string, join *JoinOptions, mod func(*Config, *Options)) *testNode {
	t.Helper()
	testutil.System(t)
	cfg := testConfig(t, shortTempDir(t))
	host := fmt.Sprintf("127.0.0.%d", ip)
	cfg.HTTP.Listen = host + ":0"
	cfg.Raft.Listen = host + ":0"
	cfg.Node.Site = site
	cfg.Node.ID = strings.ToLower(strings.ReplaceAll(site, " ", "-"))
	opts := Options{Join: join, LogOutput: testutil.NewLog(t)}
	if mod != nil {
		mod(&cfg, &opts)
	}
	if cfg.Raft.Advertise == "" {
		// A node is joined at the address it advertises; on loopback it
		// must name it (see Node.joinable).
		if strings.HasSuffix(cfg.Raft.Listen, ":0") {
			cfg.Raft.Listen = freeAddr(t, strings.TrimSuffix(cfg.Raft.Listen, ":0"))
		}
		cfg.Raft.Advertise = cfg.Raft.Listen
	}
	if cfg.NATS.LeafListen == "" && (join == nil || join.Voter) {
		// A hub's leaf port defaults to its Raft port plus one, which
		// another test's connection may hold by now: one picked free.
		cfg.NATS.LeafListen = freeAddr(t, host)
	}
	n, err := New(cfg, cheapHashes(opts))
	if err != nil {
		t.Fatalf("new node %s: %v", site, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := n.Start(ctx); err != nil {
		t.Fatalf("start node %s: %v", site, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_ = n.Shutdown(ctx)
	})
	tn := &testNode{t: t, n: n, cfg: cfg, url: n.URL()}
	tn.password = tn.replaceFirstPassword()
	return tn
}

// joinToken mints a join token on hq through the API.
func joinToken(t testing.TB, hq *testNode) string {
	t.Helper()
	var tok web.JoinToken
	if st := hq.admin().do("POST", "/api/v1/cluster/tokens", map[string]string{"ttl": "10m"}, &tok); st != 201 || tok.Token == "" {
		t.Fatalf("mint join token = %d %+v", st, tok)
	}
	return tok.Token
}

// federation starts hq (the first voter), more voters and plants
// (non-voters); each joins with its own token.
func startFederation(t testing.TB, voters, plants int, plantMod func(i int, c *Config, o *Options)) []*testNode {
	t.Helper()
	hq := fedNode(t, 1, "HQ 1", nil, nil)
	nodes := []*testNode{hq}
	for i := 2; i <= voters; i++ {
		tn := fedNode(t, i, fmt.Sprintf("HQ %d", i), &JoinOptions{Server: hq.url, Token: voterToken(t, hq), Voter: true}, nil)
		tn.password = hq.password
		nodes = append(nodes, tn)
	}
	for i := 1; i <= plants; i++ {
		var mod func(*Config, *Options)
		if plantMod != nil {
			mod = func(c *Config, o *Options) { plantMod(i, c, o) }
		}
		tn := fedNode(t, 10+i, fmt.Sprintf("Plant %d", i), &JoinOptions{Server: hq.url, Token: joinToken(t, hq)}, mod)
		tn.password = hq.password
		nodes = append(nodes, tn)
	}
	return nodes
}

// eventually polls cond until it holds or the deadline passes.
func eventually(t *testing.T, within time.Duration, what string, cond func() bool) time.Duration {
	t.Helper()
	return testutil.Eventually(t, within, what, cond)
}

// tryLogin logs in once the user has reached this node's copy of the
// organisation data. It does not try before: failed logins count against
// the account's login limit, and a poll would soon be refused with 429.
func (tn *testNode) tryLogin(email, password string) bool {
	if _, err := tn.n.store.UserByLogin(context.Background(), email); err != nil {
		return false
	}
	b := tn.anon()
	return b.do("POST", "/api/v1/session", map[string]string{"email": email, "password": password}, nil) == 200
}

func TestFederationReplicatesAndEnforcesEverywhere(t *testing.T) {
	nodes := startFederation(t, 3, 2, nil)
	hq := nodes[0]
	ctx := context.Background()

	// Every node serves the one organisation and knows the federation.
	var st web.ClusterStatus
	if code := nodes[4].admin().do("GET", "/api/v1/cluster", nil, &st); code != 200 {
		t.Fatalf("GET /cluster at a plant = %d", code)
	}
	roles := map[string]int{}
	for _, nd := range st.Nodes {
		roles[nd.Role]++
		if nd.Link == "down" {
			t.Errorf("node %s link down: %s", nd.ID, nd.Error)
		}
	}
	if len(st.Nodes) != 5 || roles["leader"] != 1 || roles["voter"] != 2 || roles["nonvoter"] != 2 {
		t.Fatalf("cluster status = %+v", st.Nodes)
	}
	for _, tn := range nodes {
		if tn.n.OrgID() != hq.n.OrgID() {
			t.Errorf("%s serves org %s, want %s", tn.cfg.Node.Site, tn.n.OrgID(), hq.n.OrgID())
		}
	}
	sites, _ := hq.n.store.Sites(ctx, hq.n.OrgID())
	if len(sites) != 5 {
		t.Errorf("sites at hq = %d, want 5 (one per node)", len(sites))
	}

	// A user created at headquarters logs in at every node, the plants
	// and the voters that are not the leader (they apply the log later
	// than the leader answers).
	var u userJSON
	if code := hq.admin().do("POST", "/api/v1/users", web.UserInput{Email: "tech@plant.example", Password: "correct horse battery", Roles: []string{"regular"}}, &u); code != 201 {
		t.Fatalf("create user = %d", code)
	}
	for _, p := range nodes[1:] {
		d := eventually(t, 20*time.Second, "login at "+p.cfg.Node.Site, func() bool { return p.tryLogin("tech@plant.example", "correct horse battery") })
		t.Logf("user created at HQ can log in at %s after %s", p.cfg.Node.Site, d)
	}

	// A policy change (grant, then revoke administrator) is enforced at
	// every node; time from the API's answer to enforcement at each.
	sessions := make([]*browser, len(nodes))
	for i, tn := range nodes {
		sessions[i] = tn.login("tech@plant.example", "correct horse battery")
		if code := sessions[i].do("GET", "/api/v1/users", nil, nil); code != 403 {
			t.Fatalf("before grant at %s: %d, want 403", tn.cfg.Node.Site, code)
		}
	}
	for _, grant := range []bool{true, false} {
		roles := []string{"regular"}
		want := 403
		if grant {
			roles, want = []string{"regular", policy.RoleAdministrator}, 200
		}
		start := time.Now()
		if code := hq.admin().do("PATCH", "/api/v1/users/"+u.ID, web.UserPatch{Roles: &roles}, nil); code != 200 {
			t.Fatalf("patch roles = %d", code)
		}
		acked := time.Since(start)
		var worst time.Duration
		for i, tn := range nodes {
			d := eventually(t, 20*time.Second, "enforcement at "+tn.cfg.Node.Site, func() bool { return sessions[i].do("GET", "/api/v1/users", nil, nil) == want })
			worst = max(worst, d)
		}
		t.Logf("policy change (grant=%v): acknowledged in %s; enforced at all %d nodes %s after the acknowledgement", grant, acked, len(nodes), worst)
	}

	// A write at a plant is forwarded to the leader, acknowledged once
	// committed, and visible everywhere.
	var team storage.Team
	if code := nodes[3].admin().do("POST", "/api/v1/teams", map[string]string{"name": "Line 3"}, &team); code != 201 {
		t.Fatalf("create team at plant = %d", code)
	}
	for _, tn := range nodes {
		eventually(t, 20*time.Second, "team at "+tn.cfg.Node.Site, func() bool { _, err := tn.n.store.Team(ctx, team.ID); return err == nil })
	}

	// Leadership moves on request from another voter (a plant may not ask:
	// TestFedPlantCannotChangeMembership); a node can be removed.
	oldLeader := st.LeaderID
	if code := nodes[1].admin().do("POST", "/api/v1/cluster/leader/transfer", map[string]string{}, nil); code != 204 {
		t.Fatalf("transfer leadership = %d", code)
	}
	eventually(t, 20*time.Second, "new leader", func() bool {
		s := hq.n.raft.Stats()
		return s.LeaderID != "" && s.LeaderID != oldLeader
	})
	if code := nodes[0].admin().do("DELETE", "/api/v1/cluster/nodes/"+nodes[4].n.nodeID, nil, nil); code != 204 {
		t.Fatalf("remove plant 2 = %d", code)
	}
	eventually(t, 20*time.Second, "plant 2 gone", func() bool {
		srvs, err := hq.n.raft.Servers(ctx)
		return err == nil && len(srvs) == 4
	})

	// A used token does not work twice; a wrong one gets 401.
	tok := joinToken(t, hq)
	req := web.JoinRequest{Token: tok, NodeID: "x1", RaftAddr: "127.0.0.99:7000", CSR: "junk"}
	if code := hq.anon().do("POST", "/api/v1/cluster/join", req, nil); code != 400 {
		t.Errorf("join with a bad csr = %d, want 400", code)
	}
	parts := strings.Split(tok, ".")
	req.Token = parts[0] + "." + strings.Repeat("A", len(parts[1])) + "." + parts[2]
	if code := hq.anon().do("POST", "/api/v1/cluster/join", req, nil); code != 401 {
		t.Errorf("join with a wrong token = %d, want 401", code)
	}
}

// link is a set of TCP proxies between one node and the others, which the
// test can cut (every connection closed, new ones refused) and heal.
type link struct {
	t       testing.TB
	mu      sync.Mutex
	cut     bool
	conns   []net.Conn
	proxies map[string]string // target -> proxy address
}

func newLink(t testing.TB) *link { return &link{t: t, proxies: map[string]string{}} }

// proxy returns the address of a proxy to target, started on first use.
func (l *link) proxy(target string) string {
	l.mu.Lock()
	defer l.mu.Unlock()
	if a, ok := l.proxies[target]; ok {
		return a
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		l.t.Fatal(err)
	}
	l.t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go l.pipe(c, target)
		}
	}()
	l.proxies[target] = ln.Addr().String()
	return ln.Addr().String()
}

func (l *link) pipe(c net.Conn, target string) {
	l.mu.Lock()
	cut := l.cut
	l.mu.Unlock()
	if cut {
		c.Close()
		return
	}
	up, err := net.Dial("tcp", target)
	if err != nil {
		c.Close()
		return
	}
	l.mu.Lock()
	if l.cut {
		l.mu.Unlock()
		c.Close()
		up.Close()
		return
	}
	l.conns = append(l.conns, c, up)
	l.mu.Unlock()
	go func() { io.Copy(up, c); up.Close() }()
	io.Copy(c, up)
	c.Close()
}

func (l *link) setCut(cut bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.cut = cut
	if cut {
		for _, c := range l.conns {
			c.Close()
		}
		l.conns = nil
	}
}

// dial is the node's Raft dialer: every connection goes through the link.
func (l *link) dial(ctx context.Context, addr string) (net.Conn, error) {
	var d net.Dialer
	return d.DialContext(ctx, "tcp", l.proxy(addr))
}

// freeAddr reserves a port on host for a node to listen on.
func freeAddr(t testing.TB, host string) string {
	t.Helper()
	ln, err := net.Listen("tcp", host+":0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// linkedPlant starts headquarters and a plant all of whose Raft and
// forwarding traffic, both ways, goes through a link the test can cut.
func linkedPlant(t *testing.T) (hq, plant *testNode, l *link) {
	t.Helper()
	l = newLink(t)
	nodes := startFederation(t, 1, 1, func(i int, c *Config, o *Options) {
		c.Raft.Listen = freeAddr(t, "127.0.0.11")
		c.Raft.Advertise = l.proxy(c.Raft.Listen)
		o.RaftDial = l.dial
	})
	return nodes[0], nodes[1], l
}

func TestFederationPartitionedPlantKeepsServing(t *testing.T) {
	hq, plant, l := linkedPlant(t)
	ctx := context.Background()
	if code := hq.admin().do("POST", "/api/v1/users", web.UserInput{Email: "tech@plant.example", Password: "correct horse battery"}, nil); code != 201 {
		t.Fatalf("create user = %d", code)
	}
	eventually(t, 20*time.Second, "user at plant", func() bool { return plant.tryLogin("tech@plant.example", "correct horse battery") })
	admin := plant.admin()

	l.setCut(true)
	// Logins and permission checks go on at the plant.
	tech := plant.login("tech@plant.example", "correct horse battery")
	if code := tech.do("GET", "/api/v1/users", nil, nil); code != 403 {
		t.Errorf("tech lists users at the cut-off plant = %d, want 403", code)
	}
	if code := admin.do("GET", "/api/v1/users", nil, nil); code != 200 {
		t.Errorf("admin lists users at the cut-off plant = %d, want 200", code)
	}
	if code := plant.admin().do("GET", "/api/v1/me", nil, nil); code != 200 {
		t.Errorf("admin logs in at the cut-off plant = %d", code)
	}
	// An organisation change there gets 503 federation_unreachable and
	// changes nothing anywhere.
	before, _ := plant.n.store.Teams(ctx, plant.n.OrgID())
	idx := plant.n.raft.Stats().StoreIndex
	start := time.Now()
	code, body := admin.raw("POST", "/api/v1/teams", "application/json", strings.NewReader(`{"name":"Cut off"}`))
	if code != 503 || apiError(t, body).Code != "federation_unreachable" {
		t.Fatalf("org write at the cut-off plant = %d %s, want 503 federation_unreachable", code, body)
	}
	t.Logf("org write at the cut-off plant refused after %s", time.Since(start))
	after, _ := plant.n.store.Teams(ctx, plant.n.OrgID())
	if len(after) != len(before) || plant.n.raft.Stats().StoreIndex != idx {
		t.Errorf("refused write changed the plant's store: teams %d -> %d", len(before), len(after))
	}
	if hqTeams, _ := hq.n.store.Teams(ctx, hq.n.OrgID()); len(hqTeams) != 0 {
		t.Errorf("refused write reached headquarters: %+v", hqTeams)
	}
	var st web.ClusterStatus
	admin.do("GET", "/api/v1/cluster", nil, &st)
	for _, nd := range st.Nodes {
		if nd.ID == hq.n.nodeID && nd.Link != "down" {
			t.Errorf("status at cut-off plant shows hq link %q, want down", nd.Link)
		}
	}

	// Headquarters goes on meanwhile.
	if code := hq.admin().do("POST", "/api/v1/users", web.UserInput{Email: "late@hq.example", Password: "correct horse battery"}, nil); code != 201 {
		t.Fatalf("create user at hq during the cut = %d", code)
	}

	// Healed, the plant catches up without an operator and can write again.
	l.setCut(false)
	d := eventually(t, 30*time.Second, "plant catches up", func() bool { return plant.tryLogin("late@hq.example", "correct horse battery") })
	t.Logf("plant caught up %s after the link came back", d)
	eventually(t, 30*time.Second, "write at healed plant", func() bool {
		return admin.do("POST", "/api/v1/teams", map[string]string{"name": "Back online"}, nil) == 201
	})
}

func TestFederationLeaderCrashLosesNoAcknowledgedWrite(t *testing.T) {
	nodes := startFederation(t, 3, 0, nil)
	ctx := context.Background()
	leader := -1
	eventually(t, 10*time.Second, "leader", func() bool {
		for i, tn := range nodes {
			if tn.n.raft.IsLeader() {
				leader = i
				return true
			}
		}
		return false
	})
	var survivors []*testNode
	for i, tn := range nodes {
		if i != leader {
			survivors = append(survivors, tn)
		}
	}
	sess := []*browser{survivors[0].admin(), survivors[1].admin()}

	// A stream of org writes at the two followers (forwarded to the leader).
	var mu sync.Mutex
	var acked []string
	failed := 0
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			name := fmt.Sprintf("team-%04d", i)
			var tm storage.Team
			code := sess[i%2].do("POST", "/api/v1/teams", map[string]string{"name": name}, &tm)
			mu.Lock()
			if code == 201 {
				acked = append(acked, tm.ID)
			} else {
				failed++
			}
			mu.Unlock()
		}
	}()
	count := func() int { mu.Lock(); defer mu.Unlock(); return len(acked) }
	eventually(t, 30*time.Second, "writes before the crash", func() bool { return count() >= 30 })

	// Crash the leader: Raft and its transport stop at once, without
	// leaving the cluster or handing over leadership.
	crashAt := count()
	if err := nodes[leader].n.raft.Shutdown(ctx); err != nil {
		t.Fatalf("crash leader: %v", err)
	}
	start := time.Now()
	eventually(t, 30*time.Second, "new leader", func() bool { return survivors[0].n.raft.IsLeader() || survivors[1].n.raft.IsLeader() })
	t.Logf("new leader elected %s after the crash", time.Since(start))
	eventually(t, 30*time.Second, "writes after the crash", func() bool { return count() >= crashAt+30 })
	close(stop)
	<-done
	t.Logf("%d writes acknowledged, %d refused around the crash", len(acked), failed)

	// Every acknowledged write is on both survivors, whose stores are the
	// same record for record.
	eventually(t, 30*time.Second, "survivors in step", func() bool {
		a, b := survivors[0].n.raft.Stats(), survivors[1].n.raft.Stats()
		return a.StoreIndex == b.StoreIndex && a.AppliedIndex == b.AppliedIndex && a.AppliedIndex == max(a.LastIndex, b.LastIndex)
	})
	for _, tn := range survivors {
		teams, err := tn.n.store.Teams(ctx, tn.n.OrgID())
		if err != nil {
			t.Fatal(err)
		}
		have := map[string]bool{}
		for _, tm := range teams {
			have[tm.ID] = true
		}
		for _, id := range acked {
			if !have[id] {
				t.Errorf("%s lacks acknowledged team %s", tn.cfg.Node.Site, id)
			}
		}
	}
	var snaps [2]bytes.Buffer
	for i, tn := range survivors {
		if err := tn.n.store.Snapshot(ctx, &snaps[i]); err != nil {
			t.Fatal(err)
		}
	}
	if !bytes.Equal(snaps[0].Bytes(), snaps[1].Bytes()) {
		t.Errorf("survivors' stores differ (%d and %d bytes)", snaps[0].Len(), snaps[1].Len())
	}
}

// percentile of sorted durations.
func percentile(d []time.Duration, p float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	s := slices.Clone(d)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[min(len(s)-1, int(p*float64(len(s))))]
}
