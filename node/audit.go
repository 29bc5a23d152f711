package node

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"siteline/storage"
	"siteline/web"
)

// auditLog appends events to the node's audit log, stamped with its
// organisation and site; an event is on disk before Audit returns.
type auditLog struct {
	store interface {
		AppendAudit(context.Context, storage.AuditEvent) error
	}
	orgID, siteID string
	now           func() time.Time
}

// Audit appends one event; detail is stored as JSON.
func (l auditLog) Audit(ctx context.Context, actor, action, target string, detail any) error {
	var b []byte
	if detail != nil {
		var err error
		if b, err = json.Marshal(detail); err != nil {
			return fmt.Errorf("audit %s: %w", action, err)
		}
	}
	e := storage.AuditEvent{
		ID: newID(), OrgID: l.orgID, SiteID: l.siteID, At: l.now().UTC(),
		ActorID: actor, Action: action, Target: target, Detail: string(b),
	}
	if err := l.store.AppendAudit(ctx, e); err != nil {
		return fmt.Errorf("audit %s: %w", action, err)
	}
	return nil
}

// audit appends an event to the local audit log; it is on disk before the
// request is answered.
func (n *Node) audit(ctx context.Context, actor, action, target string, detail any) error {
	return auditLog{store: n.store, orgID: n.orgID, siteID: n.siteID, now: n.now}.Audit(ctx, actor, action, target, detail)
}

func actorID(a web.Actor) string {
	if a.Local {
		return "cli"
	}
	return a.UserID
}
