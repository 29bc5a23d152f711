// Package usecase holds the small rules every use case of the node shares:
// who an actor is in the records, and the audit log. Identifiers are
// node/internal/ids', name and field checks node/internal/check's.
package usecase

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"siteline/node/internal/ids"
	"siteline/storage"
	"siteline/web"
)

// ActorID is who the records name for an actor: "cli" for the local
// operator.
func ActorID(a web.Actor) string {
	if a.Local {
		if a.Service != "" {
			return a.Service
		}
		return "cli"
	}
	return a.UserID
}

// IsGuest tells a guest, whose access ends at their own call: anything
// else is outside the call, whether it exists or not.
func IsGuest(a web.Actor) bool {
	return a.CallID != "" || strings.HasPrefix(a.UserID, web.GuestIDPrefix)
}

// AuditAppender is the store method the audit log is written with.
type AuditAppender interface {
	AppendAudit(ctx context.Context, e storage.AuditEvent) error
}

// Auditor appends events to the node's local audit log, on disk before
// the request is answered.
type Auditor struct {
	Store         AuditAppender
	OrgID, SiteID string
	Now           func() time.Time
}

// Audit appends one event; detail, when not nil, is kept as JSON.
func (au Auditor) Audit(ctx context.Context, actor, action, target string, detail any) error {
	var b []byte
	if detail != nil {
		var err error
		if b, err = json.Marshal(detail); err != nil {
			return fmt.Errorf("audit %s: %w", action, err)
		}
	}
	e := storage.AuditEvent{
		ID: ids.New(), OrgID: au.OrgID, SiteID: au.SiteID, At: au.Now().UTC(),
		ActorID: actor, Action: action, Target: target, Detail: string(b),
	}
	if err := au.Store.AppendAudit(ctx, e); err != nil {
		return fmt.Errorf("audit %s: %w", action, err)
	}
	return nil
}

// Payload is the JSON of an event's details.
func Payload(v any) json.RawMessage {
	b, _ := json.Marshal(v)
	return b
}
