package node

import (
	"context"
	"fmt"

	"siteline/cluster/history"
	"siteline/storage/postgres"
)

// startHistory starts forwarding site history (every node) and applying
// the plants' (voters): cluster/history does the work. Without a bus
// (offline) records wait in the outbox for the next start.
func (n *Node) startHistory(ctx context.Context) error {
	if n.bus == nil {
		return nil
	}
	h, err := history.Start(ctx, history.Config{
		NodeID: n.nodeID,
		SiteID: n.siteID,
		Hub:    n.raft.Suffrage() == "voter",
		Bus:    n.bus,
		Store:  n.hist,
		// With a history database, the node's own records go there too.
		ApplyOwn: n.hist.db != nil,
		Members:  n.raftMembers,
		Logger:   n.log,
		Now:      n.now,
	})
	if err != nil {
		return fmt.Errorf("start history forwarding: %w", err)
	}
	n.history = h
	if n.hist.db != nil {
		n.hist.caughtUp, n.hist.ownApplied = h.WaitOwnApplied, h.OwnApplied
	}
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

// openHistoryStore opens the history database storage.history names, if
// any, and routes the history through it (history_store.go). An offline
// node (the administration commands) works on its SQLite store alone.
func (n *Node) openHistoryStore(ctx context.Context) error {
	n.hist = &historyStore{Store: n.store, log: n.log.With("component", "history-store"), now: n.now}
	h := n.cfg.Storage.History
	if h.Driver != historyDriverPostgres || n.opts.Offline {
		return nil
	}
	db, err := postgres.Open(ctx, string(h.DSN), postgres.Options{
		MaxConns:         int32(h.MaxConns),
		StatementTimeout: h.StatementTimeout,
		Logger:           n.log,
		Labels:           n.store,
		Users:            n.store,
	})
	if err != nil {
		return fmt.Errorf("storage.history: %w", err)
	}
	n.onStop("history database", func(context.Context) error { return db.Close() })
	n.hist.db = db
	// Records a write after the call added to the database's outbox
	// before a crash join the node's outbox now.
	if err := n.hist.moveOutbox(ctx); err != nil {
		return fmt.Errorf("storage.history: move the database's outbox records: %w", err)
	}
	n.log.Info("history store", "driver", historyDriverPostgres)
	return nil
}

// historyDatabase names the history database the node runs with, "" for
// none (a backup's manifest says what it does not hold).
func (n *Node) historyDatabase() string {
	if n.hist == nil || n.hist.db == nil {
		return ""
	}
	return historyDriverPostgres
}
