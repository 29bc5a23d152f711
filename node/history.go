package node

import (
	"context"
	"fmt"

	"siteline/cluster/history"
)

// startHistory starts forwarding site history (every node) and applying
// the plants' (voters): cluster/history does the work. Without a bus
// (offline) records wait in the outbox for the next start.
func (n *Node) startHistory(ctx context.Context) error {
	if n.bus == nil {
		return nil
	}
	h, err := history.Start(ctx, history.Config{
		NodeID:  n.nodeID,
		SiteID:  n.siteID,
		Hub:     n.raft.Suffrage() == "voter",
		Bus:     n.bus,
		Store:   n.store,
		Members: n.raftMembers,
		Logger:  n.log,
		Now:     n.now,
	})
	if err != nil {
		return fmt.Errorf("start history forwarding: %w", err)
	}
	n.history = h
	n.onStop("history", func(context.Context) error {
		h.Stop()
		return nil
	})
	return nil
}

// raftMembers lists the nodes of the Raft configuration for the history
// hub.
func (n *Node) raftMembers(ctx context.Context) ([]history.Member, error) {
	servers, err := n.raft.Servers(ctx)
	if err != nil {
		return nil, err
	}
	members := make([]history.Member, len(servers))
	for i, s := range servers {
		members[i] = history.Member{ID: s.ID, Voter: s.Voter}
	}
	return members, nil
}
