package raft

import (
	"fmt"

	hraft "github.com/hashicorp/raft"
)

// A node that is the only voter of its cluster (a standalone plant, or
// headquarters before its second voter joins) has nobody to wait for, yet
// Raft would have it wait one to two heartbeat timeouts after each start
// before it stands for election. So it starts Raft with its heartbeat
// timeout doubled and, once started, lowers it to the configured one: a
// follower whose heartbeat timeout shrinks checks it at once
// (hashicorp/raft's ReloadConfig) and, having heard from no leader since
// it started, stands for election, which its own vote wins. From then on
// it runs with the configured timings, whoever joins later.
//
// Short timeouts would elect it as fast, but its leader would then check
// its lease as often (twenty times a second at 50 ms) for as long as it
// runs, on an idle node too.

// soloStart returns rc with the heartbeat timeout the only voter starts
// with, which standNow lowers.
func soloStart(rc *hraft.Config) *hraft.Config {
	c := *rc
	c.HeartbeatTimeout = 2 * rc.HeartbeatTimeout
	c.ElectionTimeout = max(rc.ElectionTimeout, c.HeartbeatTimeout)
	return &c
}

// standNow brings r's heartbeat and election timeouts down to rc's, which
// makes a follower that has heard from no leader stand for election now.
func standNow(r *hraft.Raft, rc *hraft.Config) error {
	cur := r.ReloadableConfig()
	cur.HeartbeatTimeout, cur.ElectionTimeout = rc.HeartbeatTimeout, rc.ElectionTimeout
	if err := r.ReloadConfig(cur); err != nil {
		return fmt.Errorf("raft: stand for election: %w", err)
	}
	return nil
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

// openTransport is the transport Raft is given. Raft closes its transport
// when it shuts down, but the forwarding RPCs share its listener; the node
// closes it in Shutdown, after Raft.
type openTransport struct{ *hraft.NetworkTransport }

// Close leaves the transport open.
func (openTransport) Close() error { return nil }
