package raft

import (
	"encoding/json"
	"testing"
)

// TestStatsCarryExtra: what StatsExtra returns travels with the node's
// stats, locally and to a node that asks over the RPC.
func TestStatsCarryExtra(t *testing.T) {
	ctx := testContext(t)
	extra := json.RawMessage(`{"backlog":3}`)
	tn := startNode(t, ctx, t.TempDir(), "n1", true, func(c *Config) {
		c.StatsExtra = func() json.RawMessage { return extra }
	})
	waitLeader(t, ctx, tn.node)
	if got := tn.node.Stats().Extra; string(got) != string(extra) {
		t.Errorf("Stats().Extra = %s, want %s", got, extra)
	}
	st, err := tn.node.PeerStats(ctx, tn.node.Addr())
	if err != nil {
		t.Fatal(err)
	}
	if string(st.Extra) != string(extra) {
		t.Errorf("PeerStats Extra = %s, want %s", st.Extra, extra)
	}
}
