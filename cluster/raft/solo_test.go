package raft

import (
	"context"
	"fmt"
	"testing"
	"time"
)

// heartbeat is the heartbeat timeout the node's Raft runs with now.
func heartbeat(t *testing.T, n *Node) time.Duration {
	t.Helper()
	r, err := n.running("test")
	if err != nil {
		t.Fatal(err)
	}
	return r.ReloadableConfig().HeartbeatTimeout
}

// The only voter stands for election as soon as it starts, at its first
// start and after a restart with a non-voter, and then runs with the
// configured timings. Its heartbeat timeout here is longer than the wait
// for a leader allows, so a node that waited one out would fail.
func TestOnlyVoterStandsAtOnce(t *testing.T) {
	ctx := testContext(t)
	const hb = 30 * time.Second
	slow := func(c *Config) { c.HeartbeatTimeout, c.ElectionTimeout = hb, hb }
	leads := func(n *Node, when string) {
		t.Helper()
		wctx, cancel := context.WithTimeout(ctx, hb/2)
		defer cancel()
		if err := n.WaitLeader(wctx); err != nil {
			t.Fatalf("%s: no leader within half the heartbeat timeout: %v", when, err)
		}
		if got := heartbeat(t, n); got != hb {
			t.Fatalf("%s: heartbeat timeout = %s, want the configured %s", when, got, hb)
		}
	}

	dir := t.TempDir()
	hq := startNode(t, ctx, dir, "hq", true, withRPC, slow)
	leads(hq.node, "first start")
	propose(t, ctx, hq.node, putOrg("org-1", "Acme"))

	plant := startNode(t, ctx, t.TempDir(), "plant", false, withRPC, slow)
	if err := hq.node.AddNonvoter(ctx, "plant", plant.node.Addr()); err != nil {
		t.Fatalf("AddNonvoter: %v", err)
	}
	hq.stop(t)
	hq = startNode(t, ctx, dir, "hq", true, withRPC, slow)
	leads(hq.node, "restart with a non-voter")
	propose(t, ctx, hq.node, putUser("org-1", "u1", "u1@acme.example"))
	eventually(t, "the non-voter has the user written after the restart", func() bool {
		users, err := plant.store.Users(ctx, "org-1")
		return err == nil && len(users) == 1
	})
}

// A second voter joins a node that ran alone without a restart of its
// Raft: both run with the configured timings, writes go through either,
// and a voter of two restarts with them too.
func TestSecondVoterJoinsTheOnlyVoter(t *testing.T) {
	ctx := testContext(t)
	dir := t.TempDir()
	hq := startNode(t, ctx, dir, "hq", true, withRPC)
	waitLeader(t, ctx, hq.node)
	propose(t, ctx, hq.node, putOrg("org-1", "Acme"))
	plant := startNode(t, ctx, t.TempDir(), "plant", false, withRPC)
	if err := hq.node.AddNonvoter(ctx, "plant", plant.node.Addr()); err != nil {
		t.Fatalf("AddNonvoter: %v", err)
	}

	v2 := startNode(t, ctx, t.TempDir(), "v2", false, withRPC)
	if err := hq.node.AddVoter(ctx, "v2", v2.node.Addr()); err != nil {
		t.Fatalf("AddVoter: %v", err)
	}
	for _, n := range []*Node{hq.node, v2.node} {
		if got := heartbeat(t, n); got != DefaultHeartbeatTimeout {
			t.Errorf("%s's heartbeat timeout with two voters = %s, want %s", n.ID(), got, DefaultHeartbeatTimeout)
		}
	}
	for i, n := range []*Node{hq.node, v2.node} {
		propose(t, ctx, n, putUser("org-1", fmt.Sprintf("u%d", i), fmt.Sprintf("u%d@acme.example", i)))
	}
	if got := suffrages(t, ctx, hq.node); !got["hq"] || !got["v2"] {
		t.Fatalf("membership = %v, want hq and v2 voters", got)
	}
	eventually(t, "the plant has the users written by both voters", func() bool {
		users, err := plant.store.Users(ctx, "org-1")
		return err == nil && len(users) == 2
	})

	hq.stop(t)
	hq = startNode(t, ctx, dir, "hq", true, withRPC)
	if got := heartbeat(t, hq.node); got != DefaultHeartbeatTimeout {
		t.Errorf("a voter of two restarts with heartbeat timeout %s, want %s", got, DefaultHeartbeatTimeout)
	}
	waitLeader(t, ctx, hq.node)
	propose(t, ctx, hq.node, putUser("org-1", "u3", "u3@acme.example"))
}
