// Package raft is the single write path for organisation data: every change
// is a storage.Command proposed to a hashicorp/raft cluster, and the state
// machine applies it to the local storage.OrgStore on every node, in log
// order. A standalone node is a cluster of one voter; federated nodes join
// it over the TCP transport.
//
// The store is durable and records the index of the last command applied,
// skipping entries at or below it, so the log is replayed harmlessly at
// start and snapshots are not restored then (NoSnapshotRestoreOnStart).
package raft

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"sync"
	"time"

	hraft "github.com/hashicorp/raft"
	raftboltdb "github.com/hashicorp/raft-boltdb/v2"
	"go.etcd.io/bbolt"

	"siteline/storage"
)

// logCacheSize is how many recent log entries are kept in memory in front
// of the bolt store.
const logCacheSize = 512

// Forwarder carries a command proposed on a node that is not the leader to
// the leader, which proposes it there; Forward returns the leader's answer.
// It is the seam for federated writes; with none configured a follower
// answers storage.ErrFederationUnreachable. (The built-in forwarding RPC,
// Config.ForwardRPC, also waits for the follower's own store.)
type Forwarder interface {
	Forward(ctx context.Context, leaderID, leaderAddr string, cmd storage.Command) error
}

// Node is one member of the Raft cluster that replicates organisation data.
// New builds it; Start opens its transport and stores and joins or forms
// the cluster; Shutdown stops it. Its methods are safe for concurrent use.
type Node struct {
	cfg   Config
	log   *slog.Logger
	hclog *hclogAdapter
	fsm   *fsm

	mu       sync.Mutex // guards the fields below
	raft     *hraft.Raft
	trans    *hraft.NetworkTransport
	stream   *streamLayer
	bolt     *raftboltdb.BoltStore
	snaps    hraft.SnapshotStore
	started  bool
	shutdown chan struct{} // closed when Shutdown has finished; nil before
	stopErr  error
}

// New checks cfg and builds a node over store. onApply, if not nil, is
// called on the state-machine goroutine after each command the store
// applied successfully, once per command; it must be quick and must not
// propose.
func New(cfg Config, store storage.OrgStore, onApply func(storage.Command)) (*Node, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if store == nil {
		return nil, errors.New("raft: store is required")
	}
	cfg = cfg.WithDefaults()
	log := cfg.Logger.With("component", "raft", "node_id", cfg.NodeID)
	n := &Node{
		cfg:   cfg,
		log:   log,
		hclog: newHCLogAdapter(log, "raft"),
	}
	n.fsm = &fsm{store: store, onApply: onApply, onRestore: cfg.OnRestore, onHalt: n.halt, log: log}
	return n, nil
}

// halt stops Raft after the store failed to apply an entry (see fsm.halted).
// Raft's Shutdown waits for the state-machine goroutine that calls this, so
// it runs apart; Shutdown still closes the stores.
func (n *Node) halt(error) {
	n.mu.Lock()
	r := n.raft
	n.mu.Unlock()
	if r != nil {
		go r.Shutdown()
	}
}

// Start opens the Raft transport on BindAddr, the log and stable store
// (Dir/raft.db) and the snapshot store (Dir/snapshots), and starts Raft.
// When Bootstrap is set and Dir holds no Raft state, it forms a cluster
// with this node as its only voter. Start does not wait for a leader (see
// WaitLeader).
func (n *Node) Start(ctx context.Context) (err error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.started {
		return errors.New("raft: start: already started")
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("raft: start: %w", err)
	}

	var closers []func() error
	defer func() {
		if err != nil {
			for i := len(closers) - 1; i >= 0; i-- {
				_ = closers[i]()
			}
		}
	}()

	if err := os.MkdirAll(n.cfg.Dir, 0o700); err != nil {
		return fmt.Errorf("raft: create %s: %w", n.cfg.Dir, err)
	}
	if err := n.fsm.loadApplied(); err != nil {
		return fmt.Errorf("raft: start: %w", err)
	}

	dbPath := filepath.Join(n.cfg.Dir, "raft.db")
	bolt, err := raftboltdb.New(raftboltdb.Options{
		Path:        dbPath,
		BoltOptions: &bbolt.Options{Timeout: time.Second}, // fail, not hang, when another process holds it
	})
	if err != nil {
		return fmt.Errorf("raft: open %s: %w", dbPath, err)
	}
	closers = append(closers, bolt.Close)
	logs, err := hraft.NewLogCache(logCacheSize, bolt)
	if err != nil {
		return fmt.Errorf("raft: log cache: %w", err)
	}

	snaps, err := hraft.NewFileSnapshotStoreWithLogger(n.cfg.Dir, n.cfg.SnapshotRetain, n.hclog.Named("snapshots"))
	if err != nil {
		return fmt.Errorf("raft: open snapshot store in %s: %w", n.cfg.Dir, err)
	}

	ln := n.cfg.Listener
	if ln == nil {
		if ln, err = net.Listen("tcp", n.cfg.BindAddr); err != nil {
			return fmt.Errorf("raft: listen on %s: %w", n.cfg.BindAddr, err)
		}
	}
	closers = append(closers, ln.Close)
	advertise := ln.Addr()
	if n.cfg.AdvertiseAddr != "" {
		if advertise, err = net.ResolveTCPAddr("tcp", n.cfg.AdvertiseAddr); err != nil {
			return fmt.Errorf("raft: resolve advertise address %s: %w", n.cfg.AdvertiseAddr, err)
		}
	} else if ta, ok := advertise.(*net.TCPAddr); ok && ta.IP.IsUnspecified() {
		return fmt.Errorf("raft: listener %s has no specific address: set AdvertiseAddr", advertise)
	}
	stream := newStreamLayer(ln, advertise, n.cfg.TLS, n.cfg.Dial, n.serveRPC)
	trans := hraft.NewNetworkTransportWithConfig(&hraft.NetworkTransportConfig{
		Stream:  stream,
		Logger:  n.hclog.Named("transport"),
		MaxPool: n.cfg.MaxPool,
		Timeout: n.cfg.TransportTimeout,
	})
	closers = append(closers, trans.Close)

	rc := n.raftConfig()
	if err := hraft.ValidateConfig(rc); err != nil {
		return fmt.Errorf("raft: config: %w", err)
	}
	existing, err := hraft.HasExistingState(logs, bolt, snaps)
	if err != nil {
		return fmt.Errorf("raft: read state in %s: %w", n.cfg.Dir, err)
	}
	solo, err := n.alone(rc, existing, logs, bolt, snaps, openTransport{trans})
	if err != nil {
		return fmt.Errorf("raft: read configuration in %s: %w", n.cfg.Dir, err)
	}
	start := rc
	if solo {
		start = soloStart(rc)
	}
	r, err := hraft.NewRaft(start, n.fsm, logs, bolt, snaps, openTransport{trans})
	if err != nil {
		return fmt.Errorf("raft: start: %w", err)
	}
	closers = append(closers, func() error { return r.Shutdown().Error() })

	if n.cfg.Bootstrap && !existing {
		conf := hraft.Configuration{Servers: []hraft.Server{{
			Suffrage: hraft.Voter,
			ID:       hraft.ServerID(n.cfg.NodeID),
			Address:  trans.LocalAddr(),
		}}}
		if err := r.BootstrapCluster(conf).Error(); err != nil {
			return fmt.Errorf("raft: bootstrap cluster at %s: %w", trans.LocalAddr(), err)
		}
		n.log.Info("raft: bootstrapped a new cluster", "addr", trans.LocalAddr())
	}
	if solo {
		if err := standNow(r, rc); err != nil {
			return err
		}
	}

	n.raft, n.trans, n.stream, n.bolt, n.started = r, trans, stream, bolt, true
	n.snaps = snaps
	if n.fsm.halted.Load() != nil { // halted before n.raft was set
		go r.Shutdown()
	}
	n.log.Info("raft: started", "addr", trans.LocalAddr(), "existing_state", existing)
	return nil
}

// Shutdown stops Raft, then closes the transport and the log store. It waits
// for Raft to stop or ctx to end; in the latter case the stores are closed
// when Raft has stopped. It may be called more than once.
func (n *Node) Shutdown(ctx context.Context) error {
	n.mu.Lock()
	if !n.started {
		n.mu.Unlock()
		return nil
	}
	if n.shutdown == nil {
		n.shutdown = make(chan struct{})
		r, trans, bolt := n.raft, n.trans, n.bolt
		go func() {
			var errs []error
			if err := r.Shutdown().Error(); err != nil {
				errs = append(errs, fmt.Errorf("raft: shutdown: %w", err))
			}
			if err := trans.Close(); err != nil {
				errs = append(errs, fmt.Errorf("raft: close transport: %w", err))
			}
			if err := bolt.Close(); err != nil {
				errs = append(errs, fmt.Errorf("raft: close log store: %w", err))
			}
			n.mu.Lock()
			n.stopErr = errors.Join(errs...)
			n.mu.Unlock()
			n.log.Info("raft: stopped")
			close(n.shutdown)
		}()
	}
	done := n.shutdown
	n.mu.Unlock()

	select {
	case <-done:
		n.mu.Lock()
		defer n.mu.Unlock()
		return n.stopErr
	case <-ctx.Done():
		return fmt.Errorf("raft: shutdown: %w", ctx.Err())
	}
}

// running returns Raft, or an error wrapping ErrFederationUnreachable when
// the node is not started or has been shut down.
func (n *Node) running(op string) (*hraft.Raft, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	switch {
	case !n.started:
		return nil, fmt.Errorf("%s: %w: raft not started", op, storage.ErrFederationUnreachable)
	case n.shutdown != nil:
		return nil, fmt.Errorf("%s: %w: %w", op, storage.ErrFederationUnreachable, hraft.ErrRaftShutdown)
	}
	return n.raft, nil
}

// Propose validates cmd, replicates it and waits until this node's store
// has applied it. The store's error (a refusal such as storage.ErrConflict)
// is returned as is. When the command was never taken up (there is no
// leader, this node is not the leader and no Forwarder is set, the leader
// cannot be dialled, the node is shut down), the error wraps
// storage.ErrFederationUnreachable. When it was handed to the leader but no
// answer came (ctx ended, leadership was lost while committing, the leader
// did not answer), it may still be applied and the error wraps
// storage.ErrOutcomeUnknown (and so ErrFederationUnreachable too).
func (n *Node) Propose(ctx context.Context, cmd storage.Command) error {
	if err := cmd.Validate(); err != nil {
		return err
	}
	r, err := n.running("propose command")
	if err != nil {
		return err
	}
	if r.State() != hraft.Leader {
		return n.forward(ctx, r, cmd)
	}
	if _, err := n.apply(ctx, r, cmd); !errors.Is(err, hraft.ErrNotLeader) {
		return err
	}
	return n.forward(ctx, r, cmd) // lost leadership before enqueueing
}

// proposeHere commits cmd if this node leads, and never forwards: it serves
// commands forwarded by other nodes. It returns the command's log index.
func (n *Node) proposeHere(ctx context.Context, cmd storage.Command) (uint64, error) {
	if err := cmd.Validate(); err != nil {
		return 0, err
	}
	r, err := n.running("propose command")
	if err != nil {
		return 0, err
	}
	if r.State() != hraft.Leader {
		return 0, errNotLeaderHere
	}
	return n.apply(ctx, r, cmd)
}

// apply appends cmd to the log as leader, waits for this node's store and
// returns the command's log index.
func (n *Node) apply(ctx context.Context, r *hraft.Raft, cmd storage.Command) (uint64, error) {
	data, err := json.Marshal(cmd)
	if err != nil {
		return 0, fmt.Errorf("propose command: encode: %w", err)
	}
	if r.State() == hraft.Shutdown {
		// Raft answers ErrRaftShutdown both to a command it never took
		// and to one it took and was stopped before applying: tell the
		// first apart here.
		return 0, fmt.Errorf("propose command: %w: %w", storage.ErrFederationUnreachable, hraft.ErrRaftShutdown)
	}
	f := r.Apply(data, n.timeout(ctx))
	if err := n.waitChange(ctx, "propose command", f); err != nil {
		return 0, err
	}
	if err, ok := f.Response().(error); ok {
		return 0, err
	}
	return f.Index(), nil
}

// awaitLocal waits, for up to ApplyTimeout, until this node's store has
// applied the log up to index: a change committed at the leader on this
// node's behalf is then visible here, as Propose promises. Should this
// node fall behind meanwhile, the change stands all the same: the wait
// ends without an error.
func (n *Node) awaitLocal(ctx context.Context, index uint64) {
	ctx, cancel := context.WithTimeout(ctx, n.cfg.ApplyTimeout)
	defer cancel()
	if err := n.fsm.waitApplied(ctx, index); err != nil {
		n.log.Debug("raft: committed at the leader, not yet applied here", "index", index, "applied", n.fsm.applied.Load(), "err", err)
	}
}

// forward hands cmd to the Forwarder, if any, for the current leader (or
// applies it, should this node have become the leader meanwhile).
func (n *Node) forward(ctx context.Context, r *hraft.Raft, cmd storage.Command) error {
	fwd := n.cfg.Forwarder
	if fwd == nil && n.cfg.ForwardRPC {
		fwd = rpcForwarder{n}
	}
	var there func(id, addr string) error
	if fwd != nil {
		there = func(id, addr string) error { return fwd.Forward(ctx, id, addr, cmd) }
	}
	here := func() error {
		_, err := n.apply(ctx, r, cmd)
		return err
	}
	return n.viaLeader(ctx, r, "propose command", here, there)
}

// viaLeader runs here when this node leads, else there for the leader it
// knows of; a nil there means this node has no way to the leader. While
// there is no leader, or the leader could not be sent the request or
// answered that it no longer leads (nothing was done either way), it tries
// again for up to ForwardRetry: long enough to ride out an election.
func (n *Node) viaLeader(ctx context.Context, r *hraft.Raft, op string, here func() error, there func(id, addr string) error) error {
	giveUp := time.Now().Add(n.cfg.ForwardRetry)
	for {
		addr, id := r.LeaderWithID()
		var err error
		switch {
		case id == "":
			err = fmt.Errorf("%s: %w: no raft leader", op, storage.ErrFederationUnreachable)
		case id == hraft.ServerID(n.cfg.NodeID) && r.State() == hraft.Leader:
			err = here()
		case there == nil:
			return fmt.Errorf("%s: %w: this node is not the leader (leader %s at %s)",
				op, storage.ErrFederationUnreachable, id, addr)
		default:
			err = there(string(id), string(addr))
		}
		if err == nil || !(id == "" || nothingDone(err)) {
			return err
		}
		if r.State() == hraft.Shutdown || time.Now().After(giveUp) || ctx.Err() != nil {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(25 * time.Millisecond):
		}
	}
}

// nothingDone tells an error after which the request is known not to have
// been carried out, so trying again is safe.
func nothingDone(err error) bool {
	if errors.Is(err, storage.ErrOutcomeUnknown) {
		return false
	}
	return errors.Is(err, errNotSent) || errors.Is(err, hraft.ErrNotLeader)
}

// timeout is ApplyTimeout, or less when ctx ends sooner.
func (n *Node) timeout(ctx context.Context) time.Duration {
	t := n.cfg.ApplyTimeout
	if dl, ok := ctx.Deadline(); ok {
		if left := time.Until(dl); left < t {
			t = max(left, time.Millisecond)
		}
	}
	return t
}

// wait waits for f, which changes nothing (a barrier, the configuration),
// or ctx. Raft's errors that mean it cannot answer now, and the end of ctx,
// wrap storage.ErrFederationUnreachable.
func (n *Node) wait(ctx context.Context, op string, f hraft.Future) error {
	return n.await(ctx, op, f, storage.ErrFederationUnreachable)
}

// waitChange waits for f, a change handed to Raft (a command, a membership
// change), or ctx. Raft's errors that mean it never took the change up wrap
// storage.ErrFederationUnreachable; when it took it up and no answer came
// (ctx ended, leadership was lost while committing, Raft shut down), the
// change may still be committed and the error wraps
// storage.ErrOutcomeUnknown.
func (n *Node) waitChange(ctx context.Context, op string, f hraft.Future) error {
	return n.await(ctx, op, f, storage.ErrOutcomeUnknown)
}

// await waits for f or ctx; unanswered is what an answer that never came
// amounts to.
func (n *Node) await(ctx context.Context, op string, f hraft.Future, unanswered error) error {
	done := make(chan error, 1)
	go func() { done <- f.Error() }()
	select {
	case err := <-done:
		return raftError(op, err, unanswered)
	case <-ctx.Done():
		return fmt.Errorf("%s: %w: %w", op, unanswered, ctx.Err())
	}
}

// raftError maps the error of a Raft future.
func raftError(op string, err, unanswered error) error {
	if err == nil {
		return nil
	}
	// Taken up, then dropped: a lost leader's entry may still be committed
	// by the next one, and Raft shutting down answers this too to an entry
	// it committed but had not applied yet.
	for _, target := range []error{hraft.ErrLeadershipLost, hraft.ErrRaftShutdown} {
		if errors.Is(err, target) {
			return fmt.Errorf("%s: %w: %w", op, unanswered, err)
		}
	}
	// Never taken up.
	for _, target := range []error{
		hraft.ErrNotLeader, hraft.ErrNotVoter, hraft.ErrAbortedByRestore,
		hraft.ErrEnqueueTimeout, hraft.ErrLeadershipTransferInProgress,
	} {
		if errors.Is(err, target) {
			return fmt.Errorf("%s: %w: %w", op, storage.ErrFederationUnreachable, err)
		}
	}
	return fmt.Errorf("%s: %w", op, err)
}

// WaitLeader waits until the cluster has a leader (this node or another)
// or ctx ends.
func (n *Node) WaitLeader(ctx context.Context) error {
	r, err := n.running("wait for raft leader")
	if err != nil {
		return err
	}
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		if _, id := r.LeaderWithID(); id != "" {
			return nil
		}
		if r.State() == hraft.Shutdown {
			return fmt.Errorf("wait for raft leader: %w: %w", storage.ErrFederationUnreachable, hraft.ErrRaftShutdown)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("wait for raft leader: %w: %w", storage.ErrFederationUnreachable, ctx.Err())
		case <-tick.C:
		}
	}
}

// IsLeader reports whether this node is the leader now.
func (n *Node) IsLeader() bool {
	r, err := n.running("")
	return err == nil && r.State() == hraft.Leader
}

// Barrier waits until every entry committed before it has been applied to
// this node's store. It works on the leader only; see ReadBarrier.
func (n *Node) Barrier(ctx context.Context) error {
	r, err := n.running("raft barrier")
	if err != nil {
		return err
	}
	return n.wait(ctx, "raft barrier", r.Barrier(n.timeout(ctx)))
}

// ReadBarrier waits until this node's store holds every change committed
// before the call, so that reading the store next is linearizable: the read
// sees every change acknowledged before the call began, wherever it was
// made. On the leader it is a Barrier, whose commit also proves that this
// node still leads. On another node the leader runs one over the RPC and
// answers its store's applied index (leaderIndex), and this node waits
// until its own store has applied that much. It gives up after
// ApplyTimeout, or when ctx ends; then, and when there is no leader or none
// this node can reach, the error wraps storage.ErrFederationUnreachable.
func (n *Node) ReadBarrier(ctx context.Context) error {
	const op = "read barrier"
	r, err := n.running(op)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, n.cfg.ApplyTimeout)
	defer cancel()
	here := func() error {
		_, err := n.leaderIndex(ctx)
		return err
	}
	var there func(id, addr string) error
	if n.cfg.ForwardRPC {
		there = func(id, addr string) error { return n.catchUp(ctx, op, id, addr) }
	}
	return n.viaLeader(ctx, r, op, here, there)
}

// leaderIndex runs a barrier if this node leads and returns its store's
// applied index after it: every change committed before the barrier is at
// or below that index.
func (n *Node) leaderIndex(ctx context.Context) (uint64, error) {
	const op = "read barrier"
	r, err := n.running(op)
	if err != nil {
		return 0, err
	}
	if r.State() != hraft.Leader {
		return 0, errNotLeaderHere
	}
	if err := n.wait(ctx, op, r.Barrier(n.timeout(ctx))); err != nil {
		return 0, err
	}
	// A halted state machine let entries before the barrier by without
	// applying them: its index does not cover them.
	if h := n.fsm.halted.Load(); h != nil {
		return 0, fmt.Errorf("%s: %w: state machine halted: %w", op, storage.ErrFederationUnreachable, *h)
	}
	return n.fsm.applied.Load(), nil
}

// catchUp asks the leader for its index after a barrier and waits until
// this node's store has applied as much.
func (n *Node) catchUp(ctx context.Context, op, leaderID, leaderAddr string) error {
	resp, err := n.call(ctx, leaderAddr, rpcRequest{Kind: rpcReadIndex})
	if err != nil {
		return fmt.Errorf("%s at leader %s: %w", op, leaderID, err)
	}
	if err := n.fsm.waitApplied(ctx, resp.Index); err != nil {
		return fmt.Errorf("%s: %w: this node's store has applied index %d of the leader's %d: %w",
			op, storage.ErrFederationUnreachable, n.fsm.applied.Load(), resp.Index, err)
	}
	return nil
}

// Snapshot takes a snapshot now and compacts the log behind it.
func (n *Node) Snapshot() error {
	r, err := n.running("raft snapshot")
	if err != nil {
		return err
	}
	return raftError("raft snapshot", r.Snapshot().Error(), storage.ErrFederationUnreachable)
}

// AddVoter adds (or promotes) server id at addr as a voter once it answers
// there (probe). Only the leader changes the membership: others ask it.
func (n *Node) AddVoter(ctx context.Context, id, addr string) error {
	return n.onLeader(ctx, "add voter "+id, rpcRequest{Kind: rpcAddVoter, ID: id, Addr: addr}, func(r *hraft.Raft) hraft.Future {
		return n.addVoter(ctx, r, id, addr, n.timeout(ctx))
	})
}

// AddNonvoter adds server id at addr as a non-voter: it receives the log
// and serves local reads but takes no part in elections or commits.
func (n *Node) AddNonvoter(ctx context.Context, id, addr string) error {
	return n.onLeader(ctx, "add non-voter "+id, rpcRequest{Kind: rpcAddNonvoter, ID: id, Addr: addr}, func(r *hraft.Raft) hraft.Future {
		return r.AddNonvoter(hraft.ServerID(id), hraft.ServerAddress(addr), 0, n.timeout(ctx))
	})
}

// RemoveServer removes server id from the cluster.
func (n *Node) RemoveServer(ctx context.Context, id string) error {
	return n.onLeader(ctx, "remove server "+id, rpcRequest{Kind: rpcRemove, ID: id}, func(r *hraft.Raft) hraft.Future {
		return r.RemoveServer(hraft.ServerID(id), 0, n.timeout(ctx))
	})
}

// ID is this node's server id.
func (n *Node) ID() string { return n.cfg.NodeID }

// Addr is the address other nodes reach this node's transport at; "" before
// Start.
func (n *Node) Addr() string {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.trans == nil {
		return ""
	}
	return string(n.trans.LocalAddr())
}

// Suffrage of this node in the configuration it knows: "voter",
// "nonvoter", or "" when it is not (yet) in it.
func (n *Node) Suffrage() string {
	r, err := n.running("")
	if err != nil {
		return ""
	}
	f := r.GetConfiguration()
	if f.Error() != nil {
		return ""
	}
	for _, s := range f.Configuration().Servers {
		if s.ID == hraft.ServerID(n.cfg.NodeID) {
			if s.Suffrage == hraft.Voter {
				return "voter"
			}
			return "nonvoter"
		}
	}
	return ""
}

// Stats describes the node's view of the cluster.
type Stats struct {
	NodeID       string    `json:"node_id"`
	Site         string    `json:"site"`
	State        string    `json:"state"` // Leader, Follower, Candidate, Shutdown; "" before Start
	Term         uint64    `json:"term"`
	LeaderID     string    `json:"leader_id"`
	LeaderAddr   string    `json:"leader_addr"`
	LastIndex    uint64    `json:"last_index"`    // last entry in the log
	AppliedIndex uint64    `json:"applied_index"` // last entry handed to the state machine
	StoreIndex   uint64    `json:"store_index"`   // last command the store applied
	LastContact  time.Time `json:"last_contact"`  // last contact with the leader (followers)
	// SnapshotRestores counts the snapshots restored into the store since
	// start: a follower too far behind the leader's log is sent one.
	SnapshotRestores uint64 `json:"snapshot_restores"`
	// Halted is the store failure that stopped the node, if any: it needs
	// a restart once the store is fixed.
	Halted string `json:"halted,omitempty"`
}

// Stats returns the node's view of the cluster now.
func (n *Node) Stats() Stats {
	st := Stats{NodeID: n.cfg.NodeID, Site: n.cfg.Site, StoreIndex: n.fsm.applied.Load(), SnapshotRestores: n.fsm.restores.Load()}
	if h := n.fsm.halted.Load(); h != nil {
		st.Halted = (*h).Error()
	}
	n.mu.Lock()
	r := n.raft
	n.mu.Unlock()
	if r == nil {
		return st
	}
	addr, id := r.LeaderWithID()
	st.State = r.State().String()
	st.LeaderID, st.LeaderAddr = string(id), string(addr)
	st.LastIndex = r.LastIndex()
	st.AppliedIndex = r.AppliedIndex()
	st.LastContact = r.LastContact()
	st.Term = r.CurrentTerm()
	return st
}
