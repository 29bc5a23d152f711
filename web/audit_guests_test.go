package web

import (
	"context"
	"html"
	"net/http"
	"strings"
	"testing"
	"time"

	"siteline/policy"
	"siteline/storage"
)

// auditSessions is fakeSessions with an audit log and guests.
type auditSessions struct {
	fakeSessions
	events []storage.AuditEvent
	guests map[string]string
}

func (s auditSessions) Audit(context.Context, storage.AuditFilter) ([]storage.AuditEvent, error) {
	return s.events, nil
}

func (s auditSessions) GuestNames(_ context.Context, _ string, ids []string) (map[string]string, error) {
	out := map[string]string{}
	for _, id := range ids {
		if name, ok := s.guests[id]; ok {
			out[id] = name
		}
	}
	return out, nil
}

// The audit log names guests by the names they gave, not by their ids.
func TestAuditLogNamesGuests(t *testing.T) {
	at := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	s, d := newTestServer(t, func(deps *Deps) {
		deps.Sessions = auditSessions{fakeSessions: deps.Sessions.(fakeSessions),
			events: []storage.AuditEvent{
				{ID: "e1", At: at, ActorID: "guest-i5b7carl", Action: "terms.accept", Target: "inv1"},
				{ID: "e2", At: at, ActorID: "guest-anon9", Action: "call.join", Target: "call1"},
				{ID: "e3", At: at, ActorID: "u1", Action: "call.kick", Target: "guest-i5b7carl"},
			},
			guests: map[string]string{"guest-i5b7carl": "Carl Customer", "guest-anon9": ""},
		}
	})
	d.addUser("u1", adminEmail, testPass, policy.AdminAuditLog)
	b := &browser{t: t, s: s}
	b.login(adminEmail, testPass)
	got := b.page("/audit")
	body := html.UnescapeString(got.body)
	if got.status != http.StatusOK {
		t.Fatalf("audit page = %d", got.status)
	}
	if n := strings.Count(body, "Carl Customer (guest)"); n != 2 {
		t.Errorf("the audit log names Carl %d times, want 2 (actor and target):\n%s", n, body)
	}
	if !strings.Contains(body, "<td>a guest</td>") {
		t.Errorf("a guest without a name is not shown as such:\n%s", body)
	}
	if strings.Contains(body, "<td>guest-") {
		t.Errorf("the audit log shows a guest's id as its actor:\n%s", body)
	}
}
