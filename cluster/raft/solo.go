package raft

import (
	"context"
	"fmt"
	"time"

	hraft "github.com/hashicorp/raft"
)

// A node that is the only voter of its cluster (a standalone plant, or
// headquarters before its second voter joins) has nobody to wait for: it
// starts Raft with every timeout at SoloTimeout, so it elects itself within
// one or two of them instead of a whole heartbeat timeout after each start.
//
// The leader lease cannot change while Raft runs, and a lease that short
// would make the leader of several voters step down between two
// heartbeats. So before a second voter is added the node restarts Raft with
// the configured timings (leaveSolo); non-voters do not count towards the
// lease and leave the node solo.

// soloTiming returns rc with the solo timeouts.
func soloTiming(rc *hraft.Config, d time.Duration) *hraft.Config {
	c := *rc
	d = min(d, c.HeartbeatTimeout)
	c.HeartbeatTimeout, c.ElectionTimeout, c.LeaderLeaseTimeout = d, d, d
	return &c
}

// alone tells whether this node is the only voter of the configuration in
// its stores, or will be once it bootstraps a new cluster.
func (n *Node) alone(rc *hraft.Config, existing bool, logs hraft.LogStore, stable hraft.StableStore, snaps hraft.SnapshotStore, trans hraft.Transport) (bool, error) {
	if !existing {
		return n.cfg.Bootstrap, nil
	}
	peek := *rc
	conf, err := hraft.GetConfiguration(&peek, n.fsm, logs, stable, snaps, trans)
	if err != nil {
		return false, err
	}
	voters := 0
	self := false
	for _, s := range conf.Servers {
		if s.Suffrage == hraft.Voter {
			voters++
			self = self || s.ID == hraft.ServerID(n.cfg.NodeID)
		}
	}
	return voters == 1 && self, nil
}

// leaveSolo restarts Raft with the configured timings if it runs with the
// solo ones, and returns the Raft that runs afterwards (leader again once
// it has elected itself, which it waits for).
func (n *Node) leaveSolo(ctx context.Context, r *hraft.Raft) (*hraft.Raft, error) {
	n.soloMu.Lock()
	n.mu.Lock()
	if !n.solo || n.shutdown != nil || n.raft != r {
		cur := n.raft
		n.mu.Unlock()
		n.soloMu.Unlock()
		return cur, nil
	}
	n.mu.Unlock()
	restarted, err := n.restartRaft(r)
	n.soloMu.Unlock()
	if err != nil {
		return nil, err
	}
	n.log.Info("raft: a second voter joins; restarted with the configured timings")
	if err := n.WaitLeader(ctx); err != nil {
		return nil, err
	}
	return restarted, nil
}

// restartRaft stops r and starts Raft again over the same stores and
// transport with the configured timings. The caller holds soloMu, which
// Shutdown takes too, so the stores stay open meanwhile.
func (n *Node) restartRaft(r *hraft.Raft) (*hraft.Raft, error) {
	if err := r.Shutdown().Error(); err != nil {
		return nil, fmt.Errorf("raft: restart: %w", err)
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	restarted, err := hraft.NewRaft(n.raftConfig(), n.fsm, n.logs, n.bolt, n.snaps, openTransport{n.trans})
	if err != nil { // n.raft stays the stopped one, which answers ErrRaftShutdown
		return nil, fmt.Errorf("raft: restart: %w", err)
	}
	n.raft, n.solo = restarted, false
	if n.fsm.halted.Load() != nil {
		go restarted.Shutdown()
	}
	return restarted, nil
}

// openTransport is the transport Raft is given. Raft closes its transport
// when it shuts down, but a node restarts Raft over the same one (and the
// forwarding RPCs share its listener); the node closes it in Shutdown.
type openTransport struct{ *hraft.NetworkTransport }

// Close leaves the transport open.
func (openTransport) Close() error { return nil }
