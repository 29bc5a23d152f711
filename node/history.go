package node

import (
	"context"
	"fmt"
	"sync"
	"time"

	"siteline/cluster/history"
	"siteline/cluster/raft"
	"siteline/web"
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

// historyStatusWait bounds the wait for a node's history status.
const historyStatusWait = 2 * time.Second

// askHistoryStatus asks every server what its history stands at, over the
// bus, all at once; the function it returns waits for the answers (nil
// where a node did not answer).
func (n *Node) askHistoryStatus(ctx context.Context, servers []raft.Server) func() []*history.Status {
	out := make([]*history.Status, len(servers))
	if n.bus == nil {
		return func() []*history.Status { return out }
	}
	var wg sync.WaitGroup
	for i, s := range servers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, cancel := context.WithTimeout(ctx, historyStatusWait)
			defer cancel()
			if st, err := history.AskStatus(c, n.bus, s.ID); err == nil {
				out[i] = &st
			}
		}()
	}
	return func() []*history.Status {
		wg.Wait()
		return out
	}
}

// historyStatus fills a node's history columns of the cluster status from
// the status it answered with.
func historyStatus(cn *web.ClusterNode, st *history.Status) {
	if st == nil {
		return
	}
	backlog := st.Backlog
	cn.HistoryBacklog = &backlog
	switch {
	case st.Role == "hub":
		cn.HistoryLink = fmt.Sprintf("hub, %d %s", st.Links, plural(st.Links, "link", "links"))
	case st.Links > 0:
		cn.HistoryLink = "up"
	default:
		cn.HistoryLink = "down"
	}
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
