package node

import (
	"context"

	"siteline/node/calls"
	"siteline/node/queue"
	"siteline/node/supervision"
	"siteline/web"
)

// startSupervision builds the live team dashboard over the node's
// presence (federated over the bus), store and policy, and follows the
// node's organisation for the node's lifetime. The team queues' auto-assign
// switch and queue plug in through supervision.Deps (AutoAssign, Queue);
// without them every switch is on and every queue empty.
func (n *Node) startSupervision(ctx context.Context) {
	p := n.ring.Presence()
	var qv *queueView
	if q := n.queue.Load(); q != nil {
		qv = &queueView{q}
	}
	n.supervision = supervision.New(supervision.Deps{
		Presence:   presenceView{p},
		Org:        n.store.Scoped(),
		Stats:      n.store,
		Authz:      n.authz,
		Audit:      n.auditor(), // audit.go
		IdleAfter:  n.cfg.Supervision.IdleAfter,
		AutoAssign: qv.autoAssign(),
		Queue:      qv.queue(),
		Samples:    n.store,
		Now:        n.now,
		Log:        n.log.With("component", "supervision"),
	})
	p.OnChange(n.supervision.Changed)
	n.supervision.Follow(ctx, n.orgID)
	n.background(n.supervision.Run)
	n.presenceFeed = calls.NewPresenceFeed(p)
	n.background(n.presenceFeed.Run)
}

// presenceView is the node's presence as the dashboard reads it.
type presenceView struct{ p *calls.Presence }

func (v presenceView) Snapshot(orgID string) map[string]supervision.Seen {
	all := v.p.Snapshot(orgID)
	out := make(map[string]supervision.Seen, len(all))
	for u, s := range all {
		out[u] = supervision.Seen{Page: s.Page, InCall: s.InCall, CallID: s.CallID, Since: s.Since, Site: s.Site, URL: s.URL, Active: s.Active}
	}
	return out
}

func (v presenceView) Active(orgID, userID string) { v.p.Active(orgID, userID) }

// queueView is the team queues as the dashboard reads them.
type queueView struct{ q *queue.Service }

func (v queueView) AutoAssignOff(orgID, userID string) bool {
	off, err := v.q.AutoAssignOff(context.Background(), orgID, userID)
	return err == nil && off
}

func (v queueView) OnAutoAssignChange(f func(orgID, userID string)) {
	v.q.Observe(func(c queue.Change) {
		if c.UserID != "" {
			f(c.OrgID, c.UserID)
		}
	})
}

func (v queueView) Queued(ctx context.Context, orgID, teamID string) ([]web.QueueItem, error) {
	reqs, err := v.q.TeamQueue(ctx, orgID, teamID)
	if err != nil {
		return nil, err
	}
	out := make([]web.QueueItem, len(reqs))
	for i, r := range reqs {
		out[i] = web.QueueItem{ID: r.Entry.SessionID, SessionID: r.Entry.SessionID, Subject: r.Subject,
			Caller: r.CallerName, Since: r.Entry.EnqueuedAt, OfferedTo: r.Entry.OfferedTo}
	}
	return out, nil
}

func (v queueView) OnQueueChange(f func(orgID, teamID string)) {
	v.q.Observe(func(c queue.Change) {
		if c.TeamID != "" {
			f(c.OrgID, c.TeamID)
		}
	})
}

// autoAssign and queue are v as the dashboard's seams, nil (every switch
// on, no queue) when the node has no team queues.
func (v *queueView) autoAssign() supervision.AutoAssign {
	if v == nil {
		return nil
	}
	return *v
}

func (v *queueView) queue() supervision.Queue {
	if v == nil {
		return nil
	}
	return *v
}
