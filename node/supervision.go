package node

import (
	"context"

	"siteline/node/calls"
	"siteline/node/supervision"
)

// startSupervision builds the live team dashboard over the node's
// presence (federated over the bus), store and policy, and follows the
// node's organisation for the node's lifetime. The team queues' auto-assign
// switch and queue plug in through supervision.Deps (AutoAssign, Queue);
// without them every switch is on and every queue empty.
func (n *Node) startSupervision(ctx context.Context) {
	p := n.ring.Presence()
	n.supervision = supervision.New(supervision.Deps{
		Presence:  presenceView{p},
		Org:       n.store.Scoped(),
		Stats:     n.store,
		Authz:     n.authz,
		Audit:     n.auditor(), // audit.go
		IdleAfter: n.cfg.Supervision.IdleAfter,
		Now:       n.now,
		Log:       n.log.With("component", "supervision"),
	})
	p.OnChange(n.supervision.Changed)
	n.supervision.Follow(ctx, n.orgID)
	n.background(n.supervision.Run)
}

// presenceView is the node's presence as the dashboard reads it.
type presenceView struct{ p *calls.Presence }

func (v presenceView) Snapshot(orgID string) map[string]supervision.Seen {
	all := v.p.Snapshot(orgID)
	out := make(map[string]supervision.Seen, len(all))
	for u, s := range all {
		out[u] = supervision.Seen{Page: s.Page, InCall: s.InCall, CallID: s.CallID, Since: s.Since, Site: s.Site, Active: s.Active}
	}
	return out
}

func (v presenceView) Active(orgID, userID string) { v.p.Active(orgID, userID) }
