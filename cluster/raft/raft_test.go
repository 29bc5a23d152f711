package raft

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"siteline/internal/testutil"
	"siteline/storage"
	"siteline/storage/sqlite"
)

// testLogger logs at debug level into a log shown only if the test fails.
func testLogger(t *testing.T) (*slog.Logger, *testutil.Log) {
	t.Helper()
	l := testutil.NewLog(t)
	return l.Logger(), l
}

func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// eventually polls cond until it holds or ten seconds pass.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	testutil.Eventually(t, 10*time.Second, what, cond)
}

// applyLog records the commands onApply saw.
type applyLog struct {
	mu   sync.Mutex
	cmds []storage.Command
}

func (a *applyLog) record(c storage.Command) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.cmds = append(a.cmds, c)
}

func (a *applyLog) len() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.cmds)
}

// testNode is a Raft node over a real SQLite store in dir.
type testNode struct {
	dir     string
	store   *sqlite.Store
	node    *Node
	applied *applyLog
	logs    *testutil.Log
	stopped bool
}

type nodeOpt func(*Config)

func startNode(t *testing.T, ctx context.Context, dir, id string, bootstrap bool, opts ...nodeOpt) *testNode {
	t.Helper()
	return startNodeOver(t, ctx, dir, id, bootstrap, nil, opts...)
}

// startNodeOver starts a node whose state machine applies to wrap(store)
// (the store itself when wrap is nil), for tests that stand in its way.
func startNodeOver(t *testing.T, ctx context.Context, dir, id string, bootstrap bool, wrap func(storage.OrgStore) storage.OrgStore, opts ...nodeOpt) *testNode {
	t.Helper()
	logger, logs := testLogger(t)
	store, err := sqlite.Open(ctx, filepath.Join(dir, "org.db"), logger)
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	var fsmStore storage.OrgStore = store
	if wrap != nil {
		fsmStore = wrap(store)
	}
	tn := &testNode{dir: dir, store: store, applied: &applyLog{}, logs: logs}
	cfg := Config{
		Dir:       filepath.Join(dir, "raft"),
		NodeID:    id,
		BindAddr:  "127.0.0.1:0",
		Bootstrap: bootstrap,
		Logger:    logger,
	}
	for _, o := range opts {
		o(&cfg)
	}
	tn.node, err = New(cfg, fsmStore, tn.applied.record)
	if err != nil {
		store.Close()
		t.Fatalf("New: %v", err)
	}
	if err := tn.node.Start(ctx); err != nil {
		store.Close()
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() { tn.stop(t) })
	return tn
}

// stop shuts the node down, then closes its store.
func (tn *testNode) stop(t *testing.T) {
	t.Helper()
	if tn.stopped {
		return
	}
	tn.stopped = true
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := tn.node.Shutdown(ctx); err != nil {
		t.Errorf("Shutdown %s: %v", tn.node.ID(), err)
	}
	if err := tn.store.Close(); err != nil {
		t.Errorf("close store: %v", err)
	}
}

func waitLeader(t *testing.T, ctx context.Context, n *Node) {
	t.Helper()
	wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := n.WaitLeader(wctx); err != nil {
		t.Fatalf("WaitLeader: %v", err)
	}
}

func putOrg(id, name string) storage.Command {
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	return storage.Command{
		At:      at,
		ActorID: "test",
		Changes: []storage.Change{{Op: storage.OpPutOrg, Org: &storage.Org{ID: id, Name: name, CreatedAt: at}}},
	}
}

func putUser(orgID, id, email string) storage.Command {
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	return storage.Command{
		At:      at,
		ActorID: "test",
		Changes: []storage.Change{{Op: storage.OpPutUser, User: &storage.User{
			ID: id, OrgID: orgID, Email: email, Name: id, Kind: storage.UserRegular,
			Active: true, CreatedAt: at, UpdatedAt: at,
		}}},
	}
}

func propose(t *testing.T, ctx context.Context, n *Node, cmd storage.Command) {
	t.Helper()
	if err := n.Propose(ctx, cmd); err != nil {
		t.Fatalf("Propose: %v", err)
	}
}

func appliedIndex(t *testing.T, ctx context.Context, s storage.OrgStore) uint64 {
	t.Helper()
	idx, err := s.AppliedIndex(ctx)
	if err != nil {
		t.Fatalf("AppliedIndex: %v", err)
	}
	return idx
}

func wantOrg(t *testing.T, ctx context.Context, s storage.OrgReader, id, name string) {
	t.Helper()
	o, err := s.Org(ctx, id)
	if err != nil {
		t.Fatalf("Org %s: %v", id, err)
	}
	if o.Name != name {
		t.Fatalf("Org %s name = %q, want %q", id, o.Name, name)
	}
}

func TestConfigValidate(t *testing.T) {
	ok := Config{Dir: "/x", NodeID: "n1"}
	for _, tc := range []struct {
		name  string
		edit  func(*Config)
		field string // "" means valid
	}{
		{"minimal", func(*Config) {}, ""},
		{"loopback any port", func(c *Config) { c.BindAddr = "127.0.0.1:0" }, ""},
		{"all interfaces with advertise", func(c *Config) { c.BindAddr = ":7000"; c.AdvertiseAddr = "10.0.0.5:7000" }, ""},
		{"no dir", func(c *Config) { c.Dir = "" }, "Dir"},
		{"no node id", func(c *Config) { c.NodeID = "" }, "NodeID"},
		{"bad bind", func(c *Config) { c.BindAddr = "localhost" }, "BindAddr"},
		{"bad bind port", func(c *Config) { c.BindAddr = "127.0.0.1:http" }, "BindAddr"},
		{"all interfaces without advertise", func(c *Config) { c.BindAddr = "0.0.0.0:7000" }, "AdvertiseAddr"},
		{"unspecified advertise", func(c *Config) { c.AdvertiseAddr = "0.0.0.0:7000" }, "AdvertiseAddr"},
		{"advertise port 0", func(c *Config) { c.AdvertiseAddr = "10.0.0.5:0" }, "AdvertiseAddr"},
		{"negative apply timeout", func(c *Config) { c.ApplyTimeout = -time.Second }, "ApplyTimeout"},
		{"election below heartbeat", func(c *Config) {
			c.HeartbeatTimeout = time.Second
			c.ElectionTimeout = 500 * time.Millisecond
		}, "ElectionTimeout"},
		{"lease above heartbeat", func(c *Config) { c.LeaderLeaseTimeout = time.Second }, "LeaderLeaseTimeout"},
		{"negative retain", func(c *Config) { c.SnapshotRetain = -1 }, "SnapshotRetain"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := ok
			tc.edit(&cfg)
			err := cfg.Validate()
			if tc.field == "" {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.field) {
				t.Fatalf("Validate = %v, want an error naming %s", err, tc.field)
			}
		})
	}

	if _, err := New(Config{}, nil, nil); err == nil {
		t.Fatal("New accepted an empty config")
	}
	if _, err := New(ok, nil, nil); err == nil {
		t.Fatal("New accepted a nil store")
	}
	d := ok.WithDefaults()
	if d.HeartbeatTimeout >= time.Second || d.ApplyTimeout == 0 || d.SnapshotRetain != 2 || d.Logger == nil {
		t.Fatalf("WithDefaults = %+v", d)
	}
}

func TestSingleNodeProposeAndRead(t *testing.T) {
	ctx := testContext(t)
	tn := startNode(t, ctx, t.TempDir(), "n1", true)
	started := time.Now()
	waitLeader(t, ctx, tn.node)
	if el := time.Since(started); el > 2*time.Second {
		t.Errorf("a single node took %s to elect itself", el)
	} else {
		t.Logf("leader after %s", el)
	}
	if !tn.node.IsLeader() {
		t.Fatal("the only voter is not the leader")
	}

	propose(t, ctx, tn.node, putOrg("org-1", "Acme"))
	propose(t, ctx, tn.node, putUser("org-1", "u-1", "Ann@Acme.example"))
	wantOrg(t, ctx, tn.store, "org-1", "Acme")
	u, err := tn.store.UserByEmail(ctx, "org-1", "ann@acme.example")
	if err != nil || u.ID != "u-1" {
		t.Fatalf("UserByEmail = %+v, %v", u, err)
	}
	if n := tn.applied.len(); n != 2 {
		t.Fatalf("onApply called %d times, want 2", n)
	}
	if got := tn.applied.cmds[0].Changes[0].Org.Name; got != "Acme" {
		t.Fatalf("onApply saw %q", got)
	}

	if err := tn.node.Barrier(ctx); err != nil {
		t.Fatalf("Barrier: %v", err)
	}
	st := tn.node.Stats()
	if st.State != "Leader" || st.LeaderID != "n1" || st.LeaderAddr != tn.node.Addr() || st.Term == 0 {
		t.Fatalf("Stats = %+v", st)
	}
	if idx := appliedIndex(t, ctx, tn.store); st.StoreIndex != idx || st.AppliedIndex < idx || st.LastIndex < idx {
		t.Fatalf("Stats = %+v, store applied index %d", st, idx)
	}
	if !strings.HasPrefix(tn.node.Addr(), "127.0.0.1:") || strings.HasSuffix(tn.node.Addr(), ":0") {
		t.Fatalf("Addr = %q", tn.node.Addr())
	}
	if _, err := os.Stat(filepath.Join(tn.dir, "raft", "raft.db")); err != nil {
		t.Fatalf("raft.db: %v", err)
	}
}

func TestRestartDoesNotApplyTwice(t *testing.T) {
	ctx := testContext(t)
	dir := t.TempDir()
	first := startNode(t, ctx, dir, "n1", true)
	waitLeader(t, ctx, first.node)
	propose(t, ctx, first.node, putOrg("org-1", "Acme"))
	for i := range 5 {
		propose(t, ctx, first.node, putUser("org-1", fmt.Sprintf("u-%d", i), fmt.Sprintf("u%d@acme.example", i)))
	}
	before := appliedIndex(t, ctx, first.store)
	if n := first.applied.len(); n != 6 {
		t.Fatalf("onApply called %d times, want 6", n)
	}
	first.stop(t)

	// Bootstrap is set again and must be ignored: the state exists.
	second := startNode(t, ctx, dir, "n1", true)
	waitLeader(t, ctx, second.node)
	if err := second.node.Barrier(ctx); err != nil { // the whole log has been handed to the FSM
		t.Fatalf("Barrier: %v", err)
	}
	if after := appliedIndex(t, ctx, second.store); after != before {
		t.Fatalf("applied index after restart = %d, want %d", after, before)
	}
	if n := second.applied.len(); n != 0 {
		t.Fatalf("onApply called %d times for entries applied before the restart", n)
	}
	users, err := second.store.Users(ctx, "org-1")
	if err != nil || len(users) != 5 {
		t.Fatalf("Users = %d, %v; want 5", len(users), err)
	}

	propose(t, ctx, second.node, putOrg("org-2", "Globex"))
	if n := second.applied.len(); n != 1 {
		t.Fatalf("onApply called %d times, want 1", n)
	}
	if after := appliedIndex(t, ctx, second.store); after <= before {
		t.Fatalf("applied index %d did not advance past %d", after, before)
	}
	wantOrg(t, ctx, second.store, "org-2", "Globex")
}

func TestSnapshotThenRestart(t *testing.T) {
	ctx := testContext(t)
	dir := t.TempDir()
	// Keep one trailing entry so the snapshot really truncates the log: the
	// restart must not need the entries behind it.
	short := func(c *Config) { c.TrailingLogs = 1 }
	first := startNode(t, ctx, dir, "n1", true, short)
	waitLeader(t, ctx, first.node)
	for i := range 4 {
		propose(t, ctx, first.node, putOrg(fmt.Sprintf("org-%d", i), fmt.Sprintf("Org %d", i)))
	}
	if err := first.node.Snapshot(); err != nil {
		t.Fatalf("Snapshot: %v", err)
	}
	snaps, err := os.ReadDir(filepath.Join(dir, "raft", "snapshots"))
	if err != nil || len(snaps) != 1 {
		t.Fatalf("snapshots dir = %v, %v; want one snapshot", snaps, err)
	}
	for i := 4; i < 7; i++ {
		propose(t, ctx, first.node, putOrg(fmt.Sprintf("org-%d", i), fmt.Sprintf("Org %d", i)))
	}
	before := appliedIndex(t, ctx, first.store)
	first.stop(t)

	second := startNode(t, ctx, dir, "n1", false, short)
	waitLeader(t, ctx, second.node)
	if err := second.node.Barrier(ctx); err != nil {
		t.Fatalf("Barrier: %v", err)
	}
	for i := range 7 {
		wantOrg(t, ctx, second.store, fmt.Sprintf("org-%d", i), fmt.Sprintf("Org %d", i))
	}
	if after := appliedIndex(t, ctx, second.store); after != before {
		t.Fatalf("applied index after restart = %d, want %d", after, before)
	}
	if n := second.applied.len(); n != 0 {
		t.Fatalf("onApply called %d times after restart, want 0", n)
	}
	propose(t, ctx, second.node, putOrg("org-7", "Org 7"))
	wantOrg(t, ctx, second.store, "org-7", "Org 7")
	if err := second.node.Snapshot(); err != nil {
		t.Fatalf("second Snapshot: %v", err)
	}
}

func TestRefusedCommandChangesNothing(t *testing.T) {
	ctx := testContext(t)
	tn := startNode(t, ctx, t.TempDir(), "n1", true)
	waitLeader(t, ctx, tn.node)
	propose(t, ctx, tn.node, putOrg("org-1", "Acme"))
	propose(t, ctx, tn.node, putUser("org-1", "u-1", "ann@acme.example"))
	calls := tn.applied.len()

	t.Run("invalid before the log", func(t *testing.T) {
		last := tn.node.Stats().LastIndex
		bad := storage.Command{Changes: []storage.Change{{Op: storage.OpPutUser}}}
		err := tn.node.Propose(ctx, bad)
		var ve *storage.ValidationError
		if !errors.Is(err, storage.ErrInvalid) || !errors.As(err, &ve) || ve.Field != "user" {
			t.Fatalf("Propose = %v, want a ValidationError on user", err)
		}
		if got := tn.node.Stats().LastIndex; got != last {
			t.Fatalf("an invalid command reached the log: last index %d -> %d", last, got)
		}
		if err := tn.node.Propose(ctx, storage.Command{}); !errors.Is(err, storage.ErrInvalid) {
			t.Fatalf("Propose(empty) = %v, want ErrInvalid", err)
		}
	})

	t.Run("refused by the store", func(t *testing.T) {
		before := appliedIndex(t, ctx, tn.store)
		// A second user with the same e-mail in the same org, in a batch
		// with a valid change: all or nothing.
		cmd := putUser("org-1", "u-2", "ANN@acme.example")
		cmd.Changes = append(putOrg("org-2", "Globex").Changes, cmd.Changes...)
		err := tn.node.Propose(ctx, cmd)
		if !errors.Is(err, storage.ErrConflict) {
			t.Fatalf("Propose = %v, want ErrConflict", err)
		}
		if errors.Is(err, storage.ErrFederationUnreachable) {
			t.Fatalf("a refusal reads as unreachable: %v", err)
		}
		if _, err := tn.store.User(ctx, "u-2"); !errors.Is(err, storage.ErrNotFound) {
			t.Fatalf("User u-2 = %v, want ErrNotFound", err)
		}
		if _, err := tn.store.Org(ctx, "org-2"); !errors.Is(err, storage.ErrNotFound) {
			t.Fatalf("Org org-2 = %v, want ErrNotFound (the batch is all or nothing)", err)
		}
		if after := appliedIndex(t, ctx, tn.store); after <= before {
			t.Fatalf("applied index stayed at %d: a refused command still advances it", after)
		}
	})

	t.Run("invalid in the log", func(t *testing.T) {
		// Entries that bypass Propose (another node's bug, an old version)
		// are refused by the state machine the same way.
		for _, data := range [][]byte{
			[]byte(`not json`),
			[]byte(`{"changes":[{"op":"user.put"}]}`),
		} {
			f := tn.node.raft.Apply(data, time.Second)
			if err := f.Error(); err != nil {
				t.Fatalf("Apply: %v", err)
			}
			if err, _ := f.Response().(error); !errors.Is(err, storage.ErrInvalid) {
				t.Fatalf("response to %q = %v, want ErrInvalid", data, err)
			}
		}
	})

	if n := tn.applied.len(); n != calls {
		t.Fatalf("onApply called for refused commands: %d -> %d", calls, n)
	}
	wantOrg(t, ctx, tn.store, "org-1", "Acme")
	propose(t, ctx, tn.node, putUser("org-1", "u-3", "bob@acme.example"))
	if n := tn.applied.len(); n != calls+1 {
		t.Fatalf("onApply called %d times, want %d", n, calls+1)
	}
}

func TestProposeWhenNotRunning(t *testing.T) {
	ctx := testContext(t)
	logger, _ := testLogger(t)
	store, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "org.db"), logger)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	n, err := New(Config{Dir: t.TempDir(), NodeID: "n1", BindAddr: "127.0.0.1:0", Logger: logger}, store, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Propose(ctx, putOrg("org-1", "Acme")); !errors.Is(err, storage.ErrFederationUnreachable) {
		t.Fatalf("Propose before Start = %v, want ErrFederationUnreachable", err)
	}
	if n.IsLeader() || n.Stats().State != "" || n.Addr() != "" {
		t.Fatal("a node that was not started looks started")
	}
	if err := n.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown before Start: %v", err)
	}

	tn := startNode(t, ctx, t.TempDir(), "n1", true)
	waitLeader(t, ctx, tn.node)
	propose(t, ctx, tn.node, putOrg("org-1", "Acme"))
	tn.stop(t)
	if err := tn.node.Shutdown(ctx); err != nil {
		t.Fatalf("second Shutdown: %v", err)
	}
	for name, err := range map[string]error{
		"Propose":    tn.node.Propose(ctx, putOrg("org-2", "Globex")),
		"Barrier":    tn.node.Barrier(ctx),
		"WaitLeader": tn.node.WaitLeader(ctx),
		"AddVoter":   tn.node.AddVoter(ctx, "n2", "127.0.0.1:1"),
	} {
		if !errors.Is(err, storage.ErrFederationUnreachable) {
			t.Errorf("%s after Shutdown = %v, want ErrFederationUnreachable", name, err)
		}
	}
	if tn.node.IsLeader() {
		t.Fatal("IsLeader after Shutdown")
	}
}

func TestNoLeaderIsUnreachable(t *testing.T) {
	ctx := testContext(t)
	// Not bootstrapped and never joined: there is no cluster to lead.
	tn := startNode(t, ctx, t.TempDir(), "lonely", false)
	err := tn.node.Propose(ctx, putOrg("org-1", "Acme"))
	if !errors.Is(err, storage.ErrFederationUnreachable) {
		t.Fatalf("Propose = %v, want ErrFederationUnreachable", err)
	}
	wctx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	if err := tn.node.WaitLeader(wctx); !errors.Is(err, storage.ErrFederationUnreachable) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("WaitLeader = %v, want ErrFederationUnreachable and DeadlineExceeded", err)
	}
}

// leaderForwarder forwards to the leader's Node in the same process, the
// way a network forwarder will.
type leaderForwarder struct {
	mu    sync.Mutex
	nodes map[string]*Node
	calls int
}

func (f *leaderForwarder) Forward(ctx context.Context, leaderID, leaderAddr string, cmd storage.Command) error {
	f.mu.Lock()
	n := f.nodes[leaderID]
	f.calls++
	f.mu.Unlock()
	if n == nil || n.Addr() != leaderAddr {
		return fmt.Errorf("forward to %s at %s: %w", leaderID, leaderAddr, storage.ErrFederationUnreachable)
	}
	return n.Propose(ctx, cmd)
}

func TestThreeNodeCluster(t *testing.T) {
	testutil.System(t)
	ctx := testContext(t)
	fwd := &leaderForwarder{nodes: map[string]*Node{}}
	withFwd := func(c *Config) { c.Forwarder = fwd }
	n1 := startNode(t, ctx, t.TempDir(), "n1", true)
	n2 := startNode(t, ctx, t.TempDir(), "n2", false)
	n3 := startNode(t, ctx, t.TempDir(), "n3", false, withFwd)
	nodes := []*testNode{n1, n2, n3}
	for _, tn := range nodes {
		fwd.nodes[tn.node.ID()] = tn.node
	}
	waitLeader(t, ctx, n1.node)
	if err := n1.node.AddVoter(ctx, "n2", n2.node.Addr()); err != nil {
		t.Fatalf("AddVoter n2: %v", err)
	}
	if err := n1.node.AddVoter(ctx, "n3", n3.node.Addr()); err != nil {
		t.Fatalf("AddVoter n3: %v", err)
	}
	for _, tn := range nodes[1:] {
		waitLeader(t, ctx, tn.node)
		if tn.node.IsLeader() {
			t.Fatalf("%s is leader", tn.node.ID())
		}
		if st := tn.node.Stats(); st.LeaderID != "n1" || st.State != "Follower" {
			t.Fatalf("%s Stats = %+v", tn.node.ID(), st)
		}
	}

	propose(t, ctx, n1.node, putOrg("org-1", "Acme"))
	propose(t, ctx, n1.node, putUser("org-1", "u-1", "ann@acme.example"))
	want := appliedIndex(t, ctx, n1.store)
	for _, tn := range nodes {
		eventually(t, tn.node.ID()+" applying index "+fmt.Sprint(want), func() bool {
			idx, err := tn.store.AppliedIndex(ctx)
			return err == nil && idx >= want
		})
		wantOrg(t, ctx, tn.store, "org-1", "Acme")
		if _, err := tn.store.User(ctx, "u-1"); err != nil {
			t.Fatalf("%s: User u-1: %v", tn.node.ID(), err)
		}
		// onApply runs once the store has applied the entry: it may come a
		// moment after the applied index shows it.
		eventually(t, tn.node.ID()+" calling onApply for both entries", func() bool { return tn.applied.len() >= 2 })
		if n := tn.applied.len(); n != 2 {
			t.Fatalf("%s: onApply called %d times, want 2", tn.node.ID(), n)
		}
	}

	// A follower without a Forwarder refuses; with one, the write reaches
	// the leader and every store.
	if err := n2.node.Propose(ctx, putOrg("org-2", "Globex")); !errors.Is(err, storage.ErrFederationUnreachable) {
		t.Fatalf("Propose on a follower = %v, want ErrFederationUnreachable", err)
	}
	if err := n3.node.Propose(ctx, putOrg("org-3", "Initech")); err != nil {
		t.Fatalf("Propose through the forwarder: %v", err)
	}
	if fwd.calls != 1 {
		t.Fatalf("forwarder called %d times, want 1", fwd.calls)
	}
	for _, tn := range nodes {
		eventually(t, tn.node.ID()+" holding org-3", func() bool {
			_, err := tn.store.Org(ctx, "org-3")
			return err == nil
		})
		if _, err := tn.store.Org(ctx, "org-2"); !errors.Is(err, storage.ErrNotFound) {
			t.Fatalf("%s: org-2 = %v, want ErrNotFound", tn.node.ID(), err)
		}
	}

	// Losing a follower keeps the quorum; losing two loses it.
	n3.stop(t)
	propose(t, ctx, n1.node, putOrg("org-4", "Umbrella"))
	eventually(t, "n2 holding org-4", func() bool {
		_, err := n2.store.Org(ctx, "org-4")
		return err == nil
	})
	n2.stop(t)
	pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := n1.node.Propose(pctx, putOrg("org-5", "Hooli")); !errors.Is(err, storage.ErrFederationUnreachable) {
		t.Fatalf("Propose without a quorum = %v, want ErrFederationUnreachable", err)
	}
}

func TestHCLogAdapter(t *testing.T) {
	var buf testutil.Log
	logger := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelInfo}))
	a := newHCLogAdapter(logger, "raft")
	if a.IsDebug() || !a.IsInfo() || !a.IsError() {
		t.Fatal("levels do not follow the slog handler")
	}
	sub := a.Named("transport").With("peer", "n2")
	sub.Debug("hidden")
	sub.Warn("dial failed", "err", "refused")
	sub.StandardLogger(nil).Print("[ERR] from the standard logger")
	out := buf.String()
	for _, want := range []string{
		`level=WARN msg="dial failed" peer=n2 logger=raft.transport err=refused`,
		`level=ERROR msg="from the standard logger" peer=n2 logger=raft.transport`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("log output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "hidden") {
		t.Errorf("a debug line passed an Info handler:\n%s", out)
	}
	if sub.Name() != "raft.transport" {
		t.Errorf("Name = %q", sub.Name())
	}
}

// The raft package must not print by itself: every line goes through the
// injected logger.
func TestRaftLogsThroughSlog(t *testing.T) {
	ctx := testContext(t)
	tn := startNode(t, ctx, t.TempDir(), "n1", true)
	waitLeader(t, ctx, tn.node)
	if !strings.Contains(tn.logs.String(), "entering leader state") {
		t.Fatalf("raft's own log lines did not reach slog:\n%s", tn.logs.String())
	}
}

// failingStore fails Apply with an I/O-like error while fail is set.
type failingStore struct {
	storage.OrgStore
	mu   sync.Mutex
	fail bool
}

func (s *failingStore) Apply(ctx context.Context, index uint64, cmd storage.Command) error {
	s.mu.Lock()
	fail := s.fail
	s.mu.Unlock()
	if fail {
		return fmt.Errorf("apply index %d: disk I/O error", index)
	}
	return s.OrgStore.Apply(ctx, index, cmd)
}

func TestStoreFailureHaltsWithoutLosingEntries(t *testing.T) {
	ctx := testContext(t)
	dir := t.TempDir()
	logger, _ := testLogger(t)
	store, err := sqlite.Open(ctx, filepath.Join(dir, "org.db"), logger)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	fs := &failingStore{OrgStore: store}
	applied := &applyLog{}
	n, err := New(Config{Dir: filepath.Join(dir, "raft"), NodeID: "n1", BindAddr: "127.0.0.1:0", Bootstrap: true, Logger: logger}, fs, applied.record)
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Start(ctx); err != nil {
		t.Fatal(err)
	}
	waitLeader(t, ctx, n)
	propose(t, ctx, n, putOrg("org-1", "Acme"))

	fs.mu.Lock()
	fs.fail = true
	fs.mu.Unlock()
	err = n.Propose(ctx, putOrg("org-2", "Globex"))
	if err == nil || !strings.Contains(err.Error(), "disk I/O error") {
		t.Fatalf("Propose on a failing store = %v", err)
	}
	eventually(t, "the node to stop", func() bool { return n.Stats().State == "Shutdown" })
	if st := n.Stats(); !strings.Contains(st.Halted, "disk I/O error") {
		t.Fatalf("Stats.Halted = %q", st.Halted)
	}
	if err := n.Propose(ctx, putOrg("org-3", "Initech")); !errors.Is(err, storage.ErrFederationUnreachable) {
		t.Fatalf("Propose on a halted node = %v, want ErrFederationUnreachable", err)
	}
	if err := n.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	if applied.len() != 1 {
		t.Fatalf("onApply called %d times, want 1", applied.len())
	}

	// The store is fixed: a restart applies the entry it missed.
	fs.mu.Lock()
	fs.fail = false
	fs.mu.Unlock()
	n, err = New(Config{Dir: filepath.Join(dir, "raft"), NodeID: "n1", BindAddr: "127.0.0.1:0", Logger: logger}, fs, applied.record)
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer n.Shutdown(context.Background())
	waitLeader(t, ctx, n)
	if err := n.Barrier(ctx); err != nil {
		t.Fatalf("Barrier: %v", err)
	}
	wantOrg(t, ctx, store, "org-2", "Globex")
	if applied.len() != 2 {
		t.Fatalf("onApply called %d times, want 2", applied.len())
	}
}
