package federation

import (
	"context"
	"encoding/hex"
	"fmt"
	"sync"
	"time"

	"siteline/cluster/history"
	"siteline/cluster/raft"
	"siteline/web"
)

// Waits for what other nodes answer about themselves.
const (
	peerStatsWait     = 2 * time.Second
	historyStatusWait = 2 * time.Second
)

func (m *Membership) Status(ctx context.Context) (web.ClusterStatus, error) {
	servers, err := m.d.Raft.Servers(ctx)
	if err != nil {
		return web.ClusterStatus{}, err
	}
	local := m.d.Raft.Stats()
	st := web.ClusterStatus{NodeID: m.d.NodeID, LeaderID: local.LeaderID}
	if ca := m.d.CA; ca != nil {
		fp := ca.Fingerprint()
		st.CAFingerprint = hex.EncodeToString(fp[:])
		st.Self.CanMintTokens = ca.Key != nil && m.d.Raft.Suffrage() == "voter"
	}
	histories := m.askHistoryStatus(ctx, servers)
	stats := make([]raft.Stats, len(servers))
	errs := make([]error, len(servers))
	var wg sync.WaitGroup
	for i, s := range servers {
		if s.ID == m.d.NodeID {
			stats[i] = local
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, cancel := context.WithTimeout(ctx, peerStatsWait)
			defer cancel()
			stats[i], errs[i] = m.d.Raft.PeerStats(c, s.Address)
		}()
	}
	wg.Wait()
	hist := histories()
	leaderLast := local.LastIndex
	for i, s := range servers {
		if s.ID == local.LeaderID && errs[i] == nil {
			leaderLast = stats[i].LastIndex
		}
	}
	for i, s := range servers {
		cn := web.ClusterNode{ID: s.ID, Address: s.Address, Voter: s.Voter, Leader: s.ID == local.LeaderID, Link: "up"}
		switch {
		case cn.Leader:
			cn.Role = "leader"
		case s.Voter:
			cn.Role = "voter"
		default:
			cn.Role = "nonvoter"
		}
		if s.ID == m.d.NodeID {
			cn.Link = "self"
		}
		if errs[i] != nil {
			cn.Link, cn.Error = "down", errs[i].Error()
		} else {
			ps := stats[i]
			cn.Site, cn.State, cn.AppliedIndex = ps.Site, ps.State, ps.AppliedIndex
			if leaderLast > ps.AppliedIndex {
				cn.Lag = leaderLast - ps.AppliedIndex
			}
			if !ps.LastContact.IsZero() {
				lc := ps.LastContact.UTC()
				cn.LastContact = &lc
			}
			historyColumns(&cn, hist[i])
		}
		st.Nodes = append(st.Nodes, cn)
	}
	return st, nil
}

// askHistoryStatus asks every server what its history stands at, all at
// once; the function it returns waits for the answers (nil where a node
// did not answer).
func (m *Membership) askHistoryStatus(ctx context.Context, servers []raft.Server) func() []*history.Status {
	out := make([]*history.Status, len(servers))
	if m.d.History == nil {
		return func() []*history.Status { return out }
	}
	var wg sync.WaitGroup
	for i, s := range servers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, cancel := context.WithTimeout(ctx, historyStatusWait)
			defer cancel()
			if st, err := m.d.History.HistoryStatus(c, s.ID); err == nil {
				out[i] = &st
			}
		}()
	}
	return func() []*history.Status {
		wg.Wait()
		return out
	}
}

// historyColumns fills a node's history columns of the cluster status from
// the status it answered with.
func historyColumns(cn *web.ClusterNode, st *history.Status) {
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
