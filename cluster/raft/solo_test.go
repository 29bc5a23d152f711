package raft

import (
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

// The only voter runs with the solo timings, from its first start and
// after restarts, non-voters or not; a second voter makes it restart
// Raft with the configured ones, writes keep going through it, and so do
// restarts of a cluster of several voters.
func TestOnlyVoterRunsWithSoloTimings(t *testing.T) {
	ctx := testContext(t)
	dir := t.TempDir()
	hq := startNode(t, ctx, dir, "hq", true, withRPC)
	waitLeader(t, ctx, hq.node)
	if got := heartbeat(t, hq.node); got != DefaultSoloTimeout {
		t.Fatalf("a bootstrapped node's heartbeat timeout = %s, want the solo %s", got, DefaultSoloTimeout)
	}
	propose(t, ctx, hq.node, putOrg("org-1", "Acme"))

	plant := startNode(t, ctx, t.TempDir(), "plant", false, withRPC)
	if err := hq.node.AddNonvoter(ctx, "plant", plant.node.Addr()); err != nil {
		t.Fatalf("AddNonvoter: %v", err)
	}
	if got := heartbeat(t, hq.node); got != DefaultSoloTimeout {
		t.Fatalf("with a non-voter the heartbeat timeout = %s, want the solo %s", got, DefaultSoloTimeout)
	}
	hq.stop(t)
	hq = startNode(t, ctx, dir, "hq", true, withRPC)
	waitLeader(t, ctx, hq.node)
	if got := heartbeat(t, hq.node); got != DefaultSoloTimeout {
		t.Fatalf("after a restart the only voter's heartbeat timeout = %s, want the solo %s", got, DefaultSoloTimeout)
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
	eventually(t, "the plant has the users written after the restart", func() bool {
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
