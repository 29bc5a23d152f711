package node

import (
	"siteline/node/queue"
	"siteline/storage"
)

// startQueue builds the team queues over the ring, the store and the
// replicated log, and runs the dispatcher until the node's lifetime ends.
func (n *Node) startQueue() error {
	q, err := queue.New(queue.Config{Strategy: n.cfg.Queue.Strategy, OfferTimeout: n.cfg.Queue.OfferTimeout}, queue.Deps{
		Store:       n.store,
		Proposer:    n.raft,
		Enforcer:    n.authz,
		Supervision: n.admin,
		Audit:       n.auditor(),
		Presence:    n.ring,
		Pages:       n.ring,
		Now:         n.now,
		Log:         n.log.With("component", "queue"),
		NewID:       newID,
	})
	if err != nil {
		return err
	}
	n.ring.UseQueue(q)
	n.calls.SetQueues(q) // a transfer to a team enqueues the session
	n.queue.Store(q)
	n.background(q.Run)
	return nil
}

// Queue is the node's team queues (nil before Start): TeamQueue,
// AutoAssignOff, Observe and Enqueue serve the dashboard and transfers.
func (n *Node) Queue() *queue.Service { return n.queue.Load() }

// queueApplied tells the team queues of a change the log applied.
func (n *Node) queueApplied(cmd storage.Command) {
	if q := n.queue.Load(); q != nil {
		q.Applied(cmd)
	}
}
