package raft

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"testing"
	"time"

	hraft "github.com/hashicorp/raft"

	"siteline/internal/testutil"
	"siteline/storage"
)

// gatedStore holds every Apply while its gate is shut: the node's state
// machine falls behind the log it has accepted.
type gatedStore struct {
	storage.OrgStore
	mu   sync.Mutex
	open chan struct{} // closed while the gate is open
}

func newGatedStore(s storage.OrgStore) *gatedStore {
	g := &gatedStore{OrgStore: s, open: make(chan struct{})}
	close(g.open)
	return g
}

func (g *gatedStore) shut() {
	g.mu.Lock()
	defer g.mu.Unlock()
	select {
	case <-g.open:
		g.open = make(chan struct{})
	default:
	}
}

func (g *gatedStore) reopen() {
	g.mu.Lock()
	defer g.mu.Unlock()
	select {
	case <-g.open:
	default:
		close(g.open)
	}
}

func (g *gatedStore) Apply(ctx context.Context, index uint64, cmd storage.Command) error {
	g.mu.Lock()
	open := g.open
	g.mu.Unlock()
	<-open
	return g.OrgStore.Apply(ctx, index, cmd)
}

// withRPC gives a node the built-in forwarding RPC and a short retry, so a
// node cut off gives up quickly.
func withRPC(c *Config) {
	c.ForwardRPC = true
	c.ForwardRetry = 300 * time.Millisecond
}

// startCluster starts three voters with the forwarding RPC, n1 leading;
// gates[i], when not nil, stands between node i and its store.
func startCluster(t *testing.T, ctx context.Context, gates [3]*gatedStore, opts ...nodeOpt) [3]*testNode {
	t.Helper()
	var nodes [3]*testNode
	for i := range nodes {
		var wrap func(storage.OrgStore) storage.OrgStore
		if g := gates[i]; g != nil {
			wrap = func(s storage.OrgStore) storage.OrgStore { g.OrgStore = s; return g }
		}
		nodes[i] = startNodeOver(t, ctx, t.TempDir(), fmt.Sprintf("n%d", i+1), i == 0, wrap, append([]nodeOpt{withRPC}, opts...)...)
		// Open the gate before the node stops: Raft's shutdown waits for
		// its state machine.
		if g := gates[i]; g != nil {
			t.Cleanup(g.reopen)
		}
	}
	waitLeader(t, ctx, nodes[0].node)
	for _, tn := range nodes[1:] {
		if err := nodes[0].node.AddVoter(ctx, tn.node.ID(), tn.node.Addr()); err != nil {
			t.Fatalf("AddVoter %s: %v", tn.node.ID(), err)
		}
		waitLeader(t, ctx, tn.node)
	}
	return nodes
}

func gate() *gatedStore { return newGatedStore(nil) }

func TestReadBarrierSeesAcknowledgedWrites(t *testing.T) {
	testutil.System(t)
	ctx := testContext(t)
	lagging := gate()
	nodes := startCluster(t, ctx, [3]*gatedStore{nil, lagging, nil})
	leader, slow, follower := nodes[0], nodes[1], nodes[2]

	// At the leader and at a follower, a write acknowledged by the leader
	// is in the store as soon as the barrier returns: no polling.
	for i := range 20 {
		at := []*testNode{leader, follower}[i%2]
		id := fmt.Sprintf("org-%d", i)
		propose(t, ctx, leader.node, putOrg(id, "Acme"))
		if err := at.node.ReadBarrier(ctx); err != nil {
			t.Fatalf("ReadBarrier at %s: %v", at.node.ID(), err)
		}
		wantOrg(t, ctx, at.store, id, "Acme")
	}

	// A follower whose store lags cannot pass the barrier until it has
	// applied what the leader had.
	lagging.shut()
	propose(t, ctx, leader.node, putOrg("org-late", "Globex"))
	short, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancel()
	err := slow.node.ReadBarrier(short)
	if !errors.Is(err, storage.ErrFederationUnreachable) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("ReadBarrier at a lagging follower = %v, want ErrFederationUnreachable and DeadlineExceeded", err)
	}
	if errors.Is(err, storage.ErrOutcomeUnknown) {
		t.Fatalf("a read reports an unknown outcome: %v", err)
	}
	if _, err := slow.store.Org(ctx, "org-late"); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("the gate did not hold: org-late = %v", err)
	}
	lagging.reopen()
	if err := slow.node.ReadBarrier(ctx); err != nil {
		t.Fatalf("ReadBarrier after catching up: %v", err)
	}
	wantOrg(t, ctx, slow.store, "org-late", "Globex")
}

// A change proposed at a follower is in the follower's own store when
// Propose returns, not only in the leader's: its caller reads its own
// writes there.
func TestForwardedProposalIsReadableWhereMade(t *testing.T) {
	testutil.System(t)
	ctx := testContext(t)
	nodes := startCluster(t, ctx, [3]*gatedStore{})
	for i := range 20 {
		at := nodes[1+i%2]
		id := fmt.Sprintf("org-%d", i)
		propose(t, ctx, at.node, putOrg(id, "Acme"))
		wantOrg(t, ctx, at.store, id, "Acme")
	}
}

func TestReadBarrierWithoutLeaderFails(t *testing.T) {
	testutil.System(t)
	for _, tc := range []struct {
		name string
		stop []int // the nodes stopped; the first of the rest reads
	}{
		{"follower cut off", []int{0, 2}},
		{"leader cut off", []int{1, 2}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := testContext(t)
			nodes := startCluster(t, ctx, [3]*gatedStore{})
			propose(t, ctx, nodes[0].node, putOrg("org-1", "Acme"))
			for _, i := range tc.stop {
				nodes[i].stop(t)
			}
			var reader *testNode
			for i, tn := range nodes {
				if i != tc.stop[0] && i != tc.stop[1] {
					reader = tn
				}
			}
			start := time.Now()
			err := reader.node.ReadBarrier(ctx)
			if !errors.Is(err, storage.ErrFederationUnreachable) || errors.Is(err, storage.ErrOutcomeUnknown) {
				t.Fatalf("ReadBarrier at %s = %v, want ErrFederationUnreachable", reader.node.ID(), err)
			}
			t.Logf("%s refused the read after %s: %v", reader.node.ID(), time.Since(start), err)
		})
	}
}

// Each way a change can fail says whether it may still be applied.
func TestUnknownOutcomeIsToldApart(t *testing.T) {
	testutil.System(t)
	unknown := func(t *testing.T, err error) {
		t.Helper()
		if !errors.Is(err, storage.ErrOutcomeUnknown) || !errors.Is(err, storage.ErrFederationUnreachable) {
			t.Fatalf("err = %v, want ErrOutcomeUnknown (and so ErrFederationUnreachable)", err)
		}
	}
	notSent := func(t *testing.T, err error) {
		t.Helper()
		if !errors.Is(err, storage.ErrFederationUnreachable) || errors.Is(err, storage.ErrOutcomeUnknown) {
			t.Fatalf("err = %v, want ErrFederationUnreachable and not ErrOutcomeUnknown", err)
		}
	}

	t.Run("no leader: never sent", func(t *testing.T) {
		ctx := testContext(t)
		tn := startNode(t, ctx, t.TempDir(), "lonely", false, withRPC)
		notSent(t, tn.node.Propose(ctx, putOrg("org-1", "Acme")))
	})

	t.Run("leader cannot be dialled: never sent", func(t *testing.T) {
		ctx := testContext(t)
		// n3 accepts the leader's connections but cannot open its own.
		refuse := func(c *Config) {
			c.Dial = func(context.Context, string) (net.Conn, error) { return nil, errors.New("link cut") }
		}
		nodes := [3]*testNode{
			startNode(t, ctx, t.TempDir(), "n1", true, withRPC),
			startNode(t, ctx, t.TempDir(), "n2", false, withRPC),
			startNode(t, ctx, t.TempDir(), "n3", false, withRPC, refuse),
		}
		waitLeader(t, ctx, nodes[0].node)
		for _, tn := range nodes[1:] {
			if err := nodes[0].node.AddVoter(ctx, tn.node.ID(), tn.node.Addr()); err != nil {
				t.Fatalf("AddVoter %s: %v", tn.node.ID(), err)
			}
		}
		waitLeader(t, ctx, nodes[2].node)
		notSent(t, nodes[2].node.Propose(ctx, putOrg("org-1", "Acme")))
		if err := nodes[0].node.Barrier(ctx); err != nil {
			t.Fatal(err)
		}
		if _, err := nodes[0].store.Org(ctx, "org-1"); !errors.Is(err, storage.ErrNotFound) {
			t.Fatalf("a change never sent reached the leader: %v", err)
		}
	})

	t.Run("caller stopped waiting after handing it to raft", func(t *testing.T) {
		ctx := testContext(t)
		g := gate()
		tn := startNodeOver(t, ctx, t.TempDir(), "n1", true, func(s storage.OrgStore) storage.OrgStore { g.OrgStore = s; return g })
		t.Cleanup(g.reopen)
		waitLeader(t, ctx, tn.node)
		g.shut()
		short, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
		defer cancel()
		err := tn.node.Propose(short, putOrg("org-1", "Acme"))
		unknown(t, err)
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("err = %v, want DeadlineExceeded too", err)
		}
		g.reopen()
		if err := tn.node.Barrier(ctx); err != nil {
			t.Fatal(err)
		}
		wantOrg(t, ctx, tn.store, "org-1", "Acme") // it was applied after all
	})

	t.Run("forwarded and the leader did not answer", func(t *testing.T) {
		ctx := testContext(t)
		g := gate()
		nodes := startCluster(t, ctx, [3]*gatedStore{g, nil, nil})
		g.shut()
		short, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
		defer cancel()
		unknown(t, nodes[1].node.Propose(short, putOrg("org-1", "Acme")))
		// The leader committed it; the follower applies it meanwhile. A
		// read barrier waits for the leader's stuck store, and gives up.
		rctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
		defer cancel()
		if err := nodes[1].node.ReadBarrier(rctx); !errors.Is(err, storage.ErrFederationUnreachable) || errors.Is(err, storage.ErrOutcomeUnknown) {
			t.Fatalf("ReadBarrier while the leader's store is stuck = %v, want ErrFederationUnreachable", err)
		}
		eventually(t, "org-1 at n2", func() bool {
			_, err := nodes[1].store.Org(ctx, "org-1")
			return err == nil
		})
	})

	t.Run("leadership lost while committing", func(t *testing.T) {
		ctx := testContext(t)
		// A lease long enough that the leader still leads when the
		// proposal is made just after its followers stop.
		slowLease := func(c *Config) {
			c.HeartbeatTimeout, c.ElectionTimeout, c.LeaderLeaseTimeout = time.Second, time.Second, time.Second
		}
		nodes := startCluster(t, ctx, [3]*gatedStore{}, slowLease)
		nodes[1].stop(t)
		nodes[2].stop(t)
		err := nodes[0].node.Propose(ctx, putOrg("org-1", "Acme"))
		unknown(t, err)
		if !errors.Is(err, hraft.ErrLeadershipLost) {
			t.Fatalf("err = %v, want ErrLeadershipLost", err)
		}
	})
}

// The forwarding RPC carries each kind of error so that errors.Is works on
// the caller's side, and an unknown outcome never turns into "not sent".
func TestRPCErrorsKeepTheirKind(t *testing.T) {
	for _, tc := range []struct {
		name            string
		err             error
		want            []error
		not             []error
		retryableAtPeer bool
	}{
		{"unknown outcome", fmt.Errorf("propose: %w: %w", storage.ErrOutcomeUnknown, hraft.ErrLeadershipLost),
			[]error{storage.ErrOutcomeUnknown, storage.ErrFederationUnreachable}, []error{hraft.ErrNotLeader}, false},
		{"not leader", errNotLeaderHere,
			[]error{storage.ErrFederationUnreachable, hraft.ErrNotLeader}, []error{storage.ErrOutcomeUnknown}, true},
		{"unreachable", fmt.Errorf("propose: %w: %w", storage.ErrFederationUnreachable, hraft.ErrEnqueueTimeout),
			[]error{storage.ErrFederationUnreachable}, []error{storage.ErrOutcomeUnknown}, false},
		{"conflict", fmt.Errorf("put user: %w", storage.ErrConflict),
			[]error{storage.ErrConflict}, []error{storage.ErrFederationUnreachable}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := encodeError(tc.err).err("127.0.0.1:7000")
			for _, w := range tc.want {
				if !errors.Is(got, w) {
					t.Errorf("%v is not %v", got, w)
				}
			}
			for _, w := range tc.not {
				if errors.Is(got, w) {
					t.Errorf("%v is %v", got, w)
				}
			}
			if nothingDone(got) != tc.retryableAtPeer {
				t.Errorf("nothingDone(%v) = %v", got, !tc.retryableAtPeer)
			}
		})
	}
	// What each Raft future error means for a change and for a question.
	for _, tc := range []struct {
		err     error
		unknown bool
	}{
		{hraft.ErrLeadershipLost, true},
		{hraft.ErrRaftShutdown, true},
		{hraft.ErrNotLeader, false},
		{hraft.ErrEnqueueTimeout, false},
		{hraft.ErrLeadershipTransferInProgress, false},
	} {
		change := raftError("op", tc.err, storage.ErrOutcomeUnknown)
		question := raftError("op", tc.err, storage.ErrFederationUnreachable)
		if errors.Is(change, storage.ErrOutcomeUnknown) != tc.unknown || !errors.Is(change, storage.ErrFederationUnreachable) {
			t.Errorf("change failing with %v = %v", tc.err, change)
		}
		if errors.Is(question, storage.ErrOutcomeUnknown) || !errors.Is(question, storage.ErrFederationUnreachable) {
			t.Errorf("question failing with %v = %v", tc.err, question)
		}
	}
}
