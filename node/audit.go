package node

import (
	"context"

	"siteline/node/internal/usecase"
)

// auditor appends events to the node's audit log, stamped with its
// organisation and site; an event is on disk before Audit returns.
func (n *Node) auditor() usecase.Auditor {
	return usecase.Auditor{Store: n.store, OrgID: n.orgID, SiteID: n.siteID, Now: n.now}
}

// audit appends an event to the local audit log; it is on disk before the
// request is answered.
func (n *Node) audit(ctx context.Context, actor, action, target string, detail any) error {
	return n.auditor().Audit(ctx, actor, action, target, detail)
}
