package node

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"siteline/cluster/raft"
	"siteline/internal/testutil"
	"siteline/node/org"
	"siteline/web"
)

// testNode is a real node on loopback: SQLite file, Raft, NATS, HTTP.
type testNode struct {
	t        testing.TB
	n        *Node
	cfg      Config
	url      string
	password string // the first administrator's
}

func testConfig(t testing.TB, dir string) Config {
	t.Helper()
	cfg := Default()
	cfg.DataDir = dir
	cfg.HTTP.Listen = "127.0.0.1:0"
	cfg.HTTP.TLS = "off"
	cfg.Media.ICEUDP = "127.0.0.1:0"
	cfg.Media.ICETCP = "127.0.0.1:0"
	cfg.TURN.UDP = "127.0.0.1:0"
	cfg.TURN.TCP = "127.0.0.1:0"
	cfg.Log.Level = "error"
	// The voters of a test federation share two cores with the rest of
	// the suite; under the race detector they wait three times as long
	// for the leader before calling an election (and the lease is as
	// much longer), so a slow heartbeat is not taken for a dead leader.
	if raceDetector {
		cfg.Raft.HeartbeatTimeout = 3 * raft.DefaultHeartbeatTimeout
	}
	if level := os.Getenv("SITELINE_TEST_LOG"); level != "" {
		cfg.Log.Level = level // printed only when a test fails
	}
	return cfg
}

// startNode starts a node in dir (a new temporary one when empty) and stops
// it when the test ends.
func startNode(t *testing.T, cfg Config) *testNode {
	t.Helper()
	if cfg.DataDir == "" {
		cfg = testConfig(t, shortTempDir(t))
	}
	return startNodeWith(t, cfg, Options{})
}

// startNodeWith starts a node with options (a clock, say); its log goes to
// the test's log unless opts name another output. The first administrator's password is adminPassword.
func startNodeWith(t *testing.T, cfg Config, opts Options) *testNode {
	t.Helper()
	tn := startNodeAsIs(t, cfg, opts)
	tn.password = tn.replaceFirstPassword()
	return tn
}

// testCost is the argon2id cost of the passwords of the nodes tests start.
// Production's (org.DefaultCost, 64 MiB and 3 passes a hash) is most of a
// node test's CPU, and node/org's tests hold what it is; a test whose
// point is the cost of hashing (a flood of logins) asks for it.
var testCost = org.Cost{Time: 1, Memory: 64, Threads: 1}

// cheapHashes gives opts the test cost, unless they set one.
func cheapHashes(opts Options) Options {
	if opts.PasswordCost == nil {
		opts.PasswordCost = &testCost
	}
	return opts
}

// startNodeAsIs starts a node and leaves its generated first password
// alone (tn.password is empty).
func startNodeAsIs(t *testing.T, cfg Config, opts Options) *testNode {
	t.Helper()
	// A whole node takes seconds to start (an election, argon2id hashes):
	// every test that starts one is a system test.
	testutil.System(t)
	if opts.LogOutput == nil {
		opts.LogOutput = testutil.NewLog(t)
	}
	n, err := New(cfg, cheapHashes(opts))
	if err != nil {
		t.Fatalf("new node: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := n.Start(ctx); err != nil {
		t.Fatalf("start node: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := n.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
	})
	return &testNode{t: t, n: n, cfg: cfg, url: n.URL()}
}

// adminPassword is the first administrator's password in tests: the
// harness replaces the generated one with it right after the first start,
// as the first login demands.
const adminPassword = "harness administrator password"

// replaceFirstPassword logs in with the generated first password, when the
// node still has one, and changes it to adminPassword. A node started
// before, or one that joined a federation, has none.
func (tn *testNode) replaceFirstPassword() string {
	tn.t.Helper()
	pw, err := os.ReadFile(filepath.Join(tn.cfg.DataDir, InitialPasswordFile))
	if errors.Is(err, fs.ErrNotExist) {
		return adminPassword
	}
	if err != nil {
		tn.t.Fatalf("initial password: %v", err)
	}
	first := strings.TrimSpace(string(pw))
	b := tn.login(tn.cfg.Organisation.AdminEmail, first)
	if st := b.do("POST", "/api/v1/me/password", map[string]string{"current": first, "new": adminPassword}, nil); st != 204 {
		tn.t.Fatalf("replace the first password: status %d", st)
	}
	return adminPassword
}

// shortTempDir keeps the admin socket's path under the 108-byte limit of
// unix socket names, whatever the test's name.
func shortTempDir(t testing.TB) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "stl")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

// browser is an HTTP client that keeps the session cookie and its CSRF
// token the way a browser page does. It sends the Secure cookie over plain
// HTTP to loopback, as browsers do for localhost.
type browser struct {
	t      testing.TB
	base   string
	cookie string
	csrf   string
	token  string      // API token instead of the cookie, when set
	header http.Header // sent with every request, when set
}

// with returns a copy of the browser that also sends header key: value.
func (b *browser) with(key, value string) *browser {
	c := *b
	c.header = b.header.Clone()
	if c.header == nil {
		c.header = http.Header{}
	}
	c.header.Set(key, value)
	return &c
}

func (tn *testNode) anon() *browser { return &browser{t: tn.t, base: tn.url} }

// login logs in through the API and fails the test if that fails.
func (tn *testNode) login(email, password string) *browser {
	tn.t.Helper()
	b := tn.anon()
	var me struct {
		CSRFToken string `json:"csrf_token"`
	}
	if st := b.do("POST", "/api/v1/session", map[string]string{"email": email, "password": password}, &me); st != 200 {
		tn.t.Fatalf("login %s: status %d", email, st)
	}
	b.csrf = me.CSRFToken
	return b
}

func (tn *testNode) admin() *browser { return tn.login(tn.cfg.Organisation.AdminEmail, tn.password) }

// do sends a JSON request and decodes a JSON answer into out; it returns
// the status.
func (b *browser) do(method, path string, in, out any) int {
	b.t.Helper()
	var body io.Reader
	if in != nil {
		data, err := json.Marshal(in)
		if err != nil {
			b.t.Fatal(err)
		}
		body = bytes.NewReader(data)
	}
	status, data := b.raw(method, path, "application/json", body)
	if out != nil && len(data) > 0 {
		if err := json.Unmarshal(data, out); err != nil {
			b.t.Fatalf("%s %s: decode %q: %v", method, path, data, err)
		}
	}
	return status
}

// raw sends a request with any body and returns the status and body.
func (b *browser) raw(method, path, contentType string, body io.Reader) (int, []byte) {
	b.t.Helper()
	req, err := http.NewRequest(method, b.base+path, body)
	if err != nil {
		b.t.Fatal(err)
	}
	if contentType != "" && body != nil {
		req.Header.Set("Content-Type", contentType)
	}
	req.Header.Set("Accept", "application/json")
	for k, v := range b.header {
		req.Header[k] = v
	}
	if b.token != "" {
		req.Header.Set("Authorization", "Bearer "+b.token)
	}
	if b.cookie != "" {
		req.AddCookie(&http.Cookie{Name: web.SessionCookie, Value: b.cookie})
	}
	if b.csrf != "" {
		req.Header.Set(web.CSRFHeader, b.csrf)
	}
	resp, err := noRedirect.Do(req)
	if err != nil {
		b.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	for _, c := range resp.Cookies() {
		if c.Name == web.SessionCookie {
			b.cookie = c.Value
		}
	}
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		b.t.Fatal(err)
	}
	return resp.StatusCode, data
}

var noRedirect = &http.Client{
	Timeout:       30 * time.Second,
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
}

// apiError decodes an error body.
func apiError(t testing.TB, data []byte) web.ErrorBody {
	t.Helper()
	var e web.ErrorBody
	if err := json.Unmarshal(data, &e); err != nil {
		t.Fatalf("error body %q: %v", data, err)
	}
	return e
}
