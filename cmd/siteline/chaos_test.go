package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"siteline/internal/testutil"
	"siteline/node/apiclient"
	"siteline/storage/sqlite"
)

// TestChaosKillNine runs three headquarters voters as separate processes of
// the real binary, formed with the CLI (init, cluster init, cluster token -voter,
// cluster join -voter), and streams organisation writes at them while a
// seeded random schedule SIGKILLs the leader or any node (sometimes two at
// once, so the cluster also loses its quorum) and restarts it after a
// random pause. At the end every node runs again; once they have applied
// the same log, they are stopped and their SQLite stores compared:
// every acknowledged write is on every node, the stores are identical
// record for record, and no write was applied twice.
//
// SITELINE_CHAOS_SEED replays a schedule (the kills and pauses; what the
// processes do in between still depends on timing); SITELINE_CHAOS_DURATION
// (such as 5m) runs it longer than the default 40s.
//
// The binary is built without -race even when the test is: what is under
// test is crash recovery across processes (bolt, SQLite WAL, the Raft log),
// which the race detector does not see, and three race-instrumented nodes
// would run several times slower on CI's two cores, so fewer kills would fit
// in the same time. The same code runs race-checked in node's in-process
// federation tests.
func TestChaosKillNine(t *testing.T) {
	testutil.System(t)
	seed := time.Now().UnixNano()
	if s := os.Getenv("SITELINE_CHAOS_SEED"); s != "" {
		var err error
		if seed, err = strconv.ParseInt(s, 10, 64); err != nil {
			t.Fatalf("SITELINE_CHAOS_SEED=%q: %v", s, err)
		}
	}
	duration := 40 * time.Second
	if s := os.Getenv("SITELINE_CHAOS_DURATION"); s != "" {
		var err error
		if duration, err = time.ParseDuration(s); err != nil {
			t.Fatalf("SITELINE_CHAOS_DURATION=%q: %v", s, err)
		}
	}
	t.Logf("chaos seed %d, duration %s (replay with SITELINE_CHAOS_SEED=%d)", seed, duration, seed)
	rng := rand.New(rand.NewPCG(uint64(seed), 0x5173))

	bin := buildBinary(t)
	nodes := make([]*chaosNode, 3)
	for i := range nodes {
		nodes[i] = newChaosNode(t, bin, i+1)
	}

	// Form the federation the way an operator does.
	hq := nodes[0]
	out := hq.run("init", "-data", hq.dir)
	pw := regexp.MustCompile(`Password:\s+(\S+)`).FindStringSubmatch(out)
	if pw == nil {
		t.Fatalf("init printed no password:\n%s", out)
	}
	if out := hq.run("cluster", "init", "-data", hq.dir); !strings.Contains(out, "Federation CA ready") {
		t.Fatalf("cluster init printed:\n%s", out)
	}
	hq.start("serve", "-data", hq.dir)
	hq.waitReady()
	api := &chaosClient{token: adminToken(t, hq.url(), "it@acme.example", pw[1])}
	for _, n := range nodes[1:] {
		out := hq.run("cluster", "token", "-data", hq.dir, "-ttl", "10m", "-voter")
		tok := regexp.MustCompile(`(?m)^(slj1\.\S+)$`).FindStringSubmatch(out)
		if tok == nil {
			t.Fatalf("cluster token printed:\n%s", out)
		}
		n.start("cluster", "join", "-data", n.dir, "-server", hq.url(), "-token", tok[1], "-voter")
		n.waitReady()
	}
	var st apiclient.ClusterStatus
	if code := api.do(hq.url(), "GET", "/api/v1/cluster", nil, &st); code != 200 || len(st.Nodes) != 3 {
		t.Fatalf("cluster status = %d %+v", code, st.Nodes)
	}
	for _, cn := range st.Nodes {
		if !cn.Voter {
			t.Fatalf("node %s joined as %s, want a voter", cn.ID, cn.Role)
		}
	}

	// Writers: each write is a team with a unique name, retried against
	// random nodes until one acknowledges it or it has been tried for 20s.
	// A 409 on a retry means an earlier, unacknowledged attempt went
	// through (the node refused a second team of that name).
	var (
		mu       sync.Mutex
		acked    = map[string]string{} // team id -> name
		present  []string              // names refused as existing on a retry
		gaveUp   []string              // names never acknowledged
		attempts int
		tries    = map[string][]string{} // name -> "node:status" of each attempt
	)
	stop := make(chan struct{})
	var writers sync.WaitGroup
	for w := range 3 {
		wrng := rand.New(rand.NewPCG(uint64(seed), uint64(w+1)))
		writers.Add(1)
		go func() {
			defer writers.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				name := fmt.Sprintf("w%d-%05d", w, i)
				giveUp := time.Now().Add(20 * time.Second)
				for try := 0; ; try++ {
					target := nodes[wrng.IntN(len(nodes))]
					var tm struct{ ID, Name, Code, Error string }
					code := api.do(target.url(), "POST", "/api/v1/teams", map[string]string{"name": name}, &tm)
					mu.Lock()
					attempts++
					what := fmt.Sprintf("%s:%d", target.id, code)
					if code != 201 && tm.Error != "" {
						what += fmt.Sprintf(" %s %q", tm.Code, tm.Error)
					}
					tries[name] = append(tries[name], what)
					switch {
					case code == 201:
						acked[tm.ID] = name
					case code == 409 && try > 0:
						present = append(present, name)
					case time.Now().After(giveUp):
						gaveUp = append(gaveUp, name)
					}
					mu.Unlock()
					if code == 201 || (code == 409 && try > 0) || time.Now().After(giveUp) {
						break
					}
					if code == 409 || (code/100 == 4 && code != 429) {
						t.Errorf("create team %s at %s = %d on the first attempt", name, target.id, code)
						return
					}
					time.Sleep(time.Duration(20+wrng.IntN(80)) * time.Millisecond)
				}
			}
		}()
	}

	// The schedule: kill the leader (half the time) or any running node,
	// sometimes a second one too, and restart them after a pause.
	kills, leaderKills := 0, 0
	begin := time.Now()
	for time.Since(begin) < duration {
		time.Sleep(time.Duration(500+rng.IntN(2500)) * time.Millisecond)
		var victims []*chaosNode
		if rng.IntN(2) == 0 {
			if l := leaderOf(api, nodes); l != nil {
				victims = append(victims, l)
				leaderKills++
			}
		}
		if len(victims) == 0 {
			victims = append(victims, nodes[rng.IntN(len(nodes))])
		}
		if rng.IntN(4) == 0 {
			for _, n := range rng.Perm(len(nodes)) {
				if nodes[n] != victims[0] {
					victims = append(victims, nodes[n])
					break
				}
			}
		}
		for _, v := range victims {
			v.kill()
			kills++
		}
		pause := time.Duration(200+rng.IntN(2800)) * time.Millisecond
		t.Logf("%6.2fs: SIGKILL %s; restart after %s", time.Since(begin).Seconds(), ids(victims), pause)
		time.Sleep(pause)
		for _, v := range victims {
			v.start("serve", "-data", v.dir)
		}
	}
	close(stop)
	writers.Wait()
	mu.Lock()
	t.Logf("%d kills (%d of the leader) in %s; %d writes acknowledged, %d found applied on a retry, %d given up, %d attempts",
		kills, leaderKills, time.Since(begin).Round(time.Millisecond), len(acked), len(present), len(gaveUp), attempts)
	mu.Unlock()
	if len(acked) == 0 {
		t.Fatal("no write was acknowledged")
	}

	// Every node runs; wait until they have all applied the same log.
	for _, n := range nodes {
		n.waitReady()
	}
	var applied uint64
	testutil.Eventually(t, 60*time.Second, "nodes converge", func() bool {
		var idx []uint64
		for _, n := range nodes {
			var st apiclient.ClusterStatus
			if api.do(n.url(), "GET", "/api/v1/cluster", nil, &st) != 200 || st.LeaderID == "" {
				return false
			}
			for _, cn := range st.Nodes {
				if cn.ID == st.NodeID {
					idx = append(idx, cn.AppliedIndex)
				}
			}
		}
		if len(idx) != 3 {
			return false
		}
		applied = idx[0]
		return idx[0] == idx[1] && idx[1] == idx[2]
	})
	t.Logf("converged at applied index %d", applied)

	// Stop them cleanly and read their stores.
	snaps := make([][]byte, len(nodes))
	for i, n := range nodes {
		n.terminate()
		snaps[i] = storeSnapshot(t, n.dir)
	}
	for i := 1; i < len(nodes); i++ {
		if !bytes.Equal(snaps[0], snaps[i]) {
			t.Errorf("stores of %s and %s differ (%d and %d bytes); seed %d", nodes[0].id, nodes[i].id, len(snaps[0]), len(snaps[i]), seed)
		}
	}
	for i, n := range nodes {
		var snap struct {
			AppliedIndex uint64 `json:"applied_index"`
			Teams        []struct{ ID, Name string }
		}
		if err := json.Unmarshal(snaps[i], &snap); err != nil {
			t.Fatalf("decode store snapshot of %s: %v", n.id, err)
		}
		byID, names := map[string]string{}, map[string][]string{}
		for _, tm := range snap.Teams {
			if _, dup := byID[tm.ID]; dup {
				t.Errorf("%s holds team id %s twice; seed %d", n.id, tm.ID, seed)
			}
			byID[tm.ID] = tm.Name
			names[tm.Name] = append(names[tm.Name], tm.ID)
		}
		for id, name := range acked {
			if got, ok := byID[id]; !ok || got != name {
				t.Errorf("%s lacks acknowledged team %s %q (has %q); seed %d", n.id, id, name, got, seed)
			}
		}
		for _, name := range present {
			if len(names[name]) == 0 {
				t.Errorf("%s lacks team %q that a retry was refused as existing; seed %d", n.id, name, seed)
			}
		}
		// One write, one team: a retry of a write that went through
		// unacknowledged must be refused as a conflict, not make a second.
		for name, teamIDs := range names {
			if len(teamIDs) > 1 {
				var desc []string
				for _, id := range teamIDs {
					_, ok := acked[id]
					desc = append(desc, fmt.Sprintf("%s (acknowledged %v)", id, ok))
				}
				t.Errorf("%s has %d teams named %q: %s; attempts %v; seed %d",
					n.id, len(teamIDs), name, strings.Join(desc, ", "), tries[name], seed)
			}
		}
		if i == 0 {
			t.Logf("%d teams in every store (store index %d)", len(snap.Teams), snap.AppliedIndex)
		}
	}
}

// buildBinary builds the siteline command into the test's directory.
func buildBinary(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "siteline")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	return bin
}

// chaosNode is one node's data directory, fixed addresses (a restarted
// node must come back where the others know it) and its current process.
type chaosNode struct {
	t         *testing.T
	bin       string
	id, dir   string
	httpAddr  string
	raftAddr  string
	log       *syncBuffer // every incarnation's output
	proc      *exec.Cmd
	exited    chan struct{}
	exitErr   error
	incarnate int
}

func newChaosNode(t *testing.T, bin string, i int) *chaosNode {
	t.Helper()
	dir, err := os.MkdirTemp("", "stlchaos") // short: the admin socket's path is limited
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	n := &chaosNode{t: t, bin: bin, id: fmt.Sprintf("hq-%d", i), dir: dir,
		httpAddr: freePort(t), raftAddr: freePort(t), log: &syncBuffer{}}
	cfg := fmt.Sprintf(`node: {id: %s, site: "HQ %d"}
organisation: {name: Acme, admin_email: it@acme.example}
http: {listen: "%s", tls: "off"}
raft: {listen: "%s", advertise: "%s"}
nats: {leaf_listen: "off"}
media: {ice_udp: "127.0.0.1:0", ice_tcp: "127.0.0.1:0"}
turn: {udp: "127.0.0.1:0", tcp: "127.0.0.1:0"}
log: {level: warn}
`, n.id, i, n.httpAddr, n.raftAddr, n.raftAddr)
	if err := os.WriteFile(filepath.Join(dir, "siteline.yaml"), []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		n.kill()
		if t.Failed() {
			t.Logf("output of %s:\n%s", n.id, n.log.tail(16<<10))
		}
	})
	return n
}

func (n *chaosNode) url() string { return "http://" + n.httpAddr }

// run runs a CLI command to completion and returns its output.
func (n *chaosNode) run(args ...string) string {
	n.t.Helper()
	cmd := exec.Command(n.bin, args...)
	cmd.Env = nodeEnv()
	out, err := cmd.CombinedOutput()
	if err != nil {
		n.t.Fatalf("siteline %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// start starts a long-running command (serve, cluster join) as the node's
// process; it does not wait for it to be ready.
func (n *chaosNode) start(args ...string) {
	n.t.Helper()
	n.incarnate++
	fmt.Fprintf(n.log, "--- %s start #%d: %s\n", time.Now().Format("15:04:05.000"), n.incarnate, strings.Join(args, " "))
	cmd := exec.Command(n.bin, args...)
	cmd.Env = nodeEnv()
	cmd.Stdout, cmd.Stderr = n.log, n.log
	if err := cmd.Start(); err != nil {
		n.t.Fatalf("start %s: %v", n.id, err)
	}
	n.proc, n.exited = cmd, make(chan struct{})
	go func(exited chan struct{}) {
		n.exitErr = cmd.Wait()
		close(exited)
	}(n.exited)
}

// nodeEnv is the test's environment without its own SITELINE_CHAOS_*
// settings, which the node would refuse as unknown configuration.
func nodeEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "SITELINE_CHAOS_") {
			env = append(env, kv)
		}
	}
	return env
}

// kill sends SIGKILL and waits for the process to be gone.
func (n *chaosNode) kill() {
	if n.proc == nil {
		return
	}
	_ = n.proc.Process.Signal(syscall.SIGKILL)
	<-n.exited
	n.proc = nil
}

// terminate stops the node with SIGTERM, as an operator does, and fails
// the test if it does not exit cleanly and in time.
func (n *chaosNode) terminate() {
	n.t.Helper()
	if err := n.proc.Process.Signal(syscall.SIGTERM); err != nil {
		n.t.Fatal(err)
	}
	select {
	case <-n.exited:
		if n.exitErr != nil {
			n.t.Errorf("%s exited with %v after SIGTERM", n.id, n.exitErr)
		}
		n.proc = nil
	case <-time.After(30 * time.Second):
		n.t.Fatalf("%s did not stop within 30s of SIGTERM", n.id)
	}
}

// waitReady waits until the node's process answers HTTP.
func (n *chaosNode) waitReady() {
	n.t.Helper()
	testutil.Eventually(n.t, 60*time.Second, n.id+" ready", func() bool {
		select {
		case <-n.exited:
			n.t.Fatalf("%s exited: %v", n.id, n.exitErr)
		default:
		}
		resp, err := quickClient.Get(n.url() + "/api/v1/version")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == 200
	})
}

// leaderOf asks the running nodes which one leads; nil when none knows.
func leaderOf(api *chaosClient, nodes []*chaosNode) *chaosNode {
	for _, n := range nodes {
		if n.proc == nil {
			continue
		}
		var st apiclient.ClusterStatus
		if api.do(n.url(), "GET", "/api/v1/cluster", nil, &st) != 200 {
			continue
		}
		for _, m := range nodes {
			if m.id == st.LeaderID && m.proc != nil {
				return m
			}
		}
	}
	return nil
}

func ids(nodes []*chaosNode) string {
	var s []string
	for _, n := range nodes {
		s = append(s, n.id)
	}
	return strings.Join(s, "+")
}

// storeSnapshot reads a stopped node's organisation store: a copy of its
// SQLite files, opened apart so the node's own files stay untouched, dumped
// as the Raft snapshot document (every organisation record, in a fixed
// order, and the applied index).
func storeSnapshot(t *testing.T, dataDir string) []byte {
	t.Helper()
	tmp := t.TempDir()
	files, _ := filepath.Glob(filepath.Join(dataDir, "siteline.db*"))
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(tmp, filepath.Base(f)), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(tmp, "siteline.db"), nil)
	if err != nil {
		t.Fatalf("open store of %s: %v", dataDir, err)
	}
	defer st.Close()
	var buf bytes.Buffer
	if err := st.Snapshot(ctx, &buf); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// chaosClient calls the API with an API token, which every node accepts
// (tokens are organisation data).
type chaosClient struct{ token string }

var quickClient = &http.Client{Timeout: 2 * time.Second}

// do returns the status, or 0 when the node could not be reached or did
// not answer within 10s.
func (c *chaosClient) do(base, method, path string, in, out any) int {
	var body io.Reader
	if in != nil {
		data, _ := json.Marshal(in)
		body = bytes.NewReader(data)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, base+path, body)
	if err != nil {
		return 0
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+c.token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0
	}
	// An error's body ({"code", "error"}) is decoded into out too, for
	// callers that want to say why.
	if out != nil && json.Unmarshal(data, out) != nil && resp.StatusCode/100 == 2 {
		return 0
	}
	return resp.StatusCode
}

// adminToken logs the administrator in with the generated first password,
// chooses another (the first login demands it) and creates an API token.
func adminToken(t *testing.T, base, email, password string) string {
	t.Helper()
	body, _ := json.Marshal(map[string]string{"email": email, "password": password})
	resp, err := http.Post(base+"/api/v1/session", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	var me struct {
		CSRFToken string `json:"csrf_token"`
	}
	err = json.NewDecoder(resp.Body).Decode(&me)
	resp.Body.Close()
	if resp.StatusCode != 200 || err != nil {
		t.Fatalf("log in = %d (%v)", resp.StatusCode, err)
	}
	cookies := resp.Cookies() // Secure cookies: a jar would not send them over http
	post := func(path, body string) *http.Response {
		req, _ := http.NewRequest("POST", base+path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-CSRF-Token", me.CSRFToken)
		for _, c := range cookies {
			req.AddCookie(c)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}
	change, _ := json.Marshal(map[string]string{"current": password, "new": "chaos administrator password"})
	resp = post("/api/v1/me/password", string(change))
	resp.Body.Close()
	if resp.StatusCode != 204 {
		t.Fatalf("replace the first password = %d", resp.StatusCode)
	}
	cookies = resp.Cookies() // the session's new id
	resp = post("/api/v1/tokens", `{"name":"chaos"}`)
	defer resp.Body.Close()
	var tok struct{ Secret string }
	if err := json.NewDecoder(resp.Body).Decode(&tok); err != nil || resp.StatusCode != 201 || tok.Secret == "" {
		t.Fatalf("create API token = %d (%v)", resp.StatusCode, err)
	}
	return tok.Secret
}

// givenPorts are the ports freePort handed out: the kernel may hand a
// port closed a moment ago out again, before the node it went to listens
// on it (hq-2's Raft once got hq-1's HTTP port).
var givenPorts = struct {
	sync.Mutex
	m map[string]bool
}{m: map[string]bool{}}

// freePort reserves a loopback port for a node to listen on, one no other
// node of the test run was given.
func freePort(t *testing.T) string {
	t.Helper()
	givenPorts.Lock()
	defer givenPorts.Unlock()
	for {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := ln.Addr().String()
		ln.Close()
		if !givenPorts.m[addr] {
			givenPorts.m[addr] = true
			return addr
		}
	}
}

// syncBuffer collects a process's output from its pipes' goroutines.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// tail is the last max bytes written.
func (b *syncBuffer) tail(max int) string {
	b.mu.Lock()
	defer b.mu.Unlock()
	s := b.buf.String()
	if len(s) > max {
		s = s[len(s)-max:]
	}
	return s
}
