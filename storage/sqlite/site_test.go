package sqlite

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"siteline/storage"
)

func TestAudit(t *testing.T) {
	s, _ := openTestStore(t)
	ctx := context.Background()
	events := []storage.AuditEvent{
		{ID: "a1", OrgID: "o1", SiteID: "s1", At: t0, ActorID: "u1", Action: "user.create", Target: "u2", Detail: `{"name":"Bob"}`},
		{ID: "a2", OrgID: "o1", SiteID: "s1", At: t0.Add(time.Minute), ActorID: "u1", Action: "policy.grant", Target: "regular"},
		{ID: "a3", OrgID: "o2", SiteID: "s9", At: t0.Add(2 * time.Minute), ActorID: "cli", Action: "user.delete", Target: "u9"},
		{ID: "a4", OrgID: "o1", SiteID: "s1", At: t0.Add(3 * time.Minute), ActorID: "system", Action: "userXdelete"},
	}
	for _, e := range events {
		if err := s.AppendAudit(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	// Appending an event again (a forwarded replay) is a no-op.
	if err := s.AppendAudit(ctx, events[0]); err != nil {
		t.Errorf("replayed AppendAudit: %v", err)
	}

	tests := []struct {
		name   string
		filter storage.AuditFilter
		want   string
	}{
		{"all, newest first", storage.AuditFilter{}, "a4,a3,a2,a1"},
		{"one org", storage.AuditFilter{OrgID: "o1"}, "a4,a2,a1"},
		{"action prefix is literal", storage.AuditFilter{Action: "user."}, "a3,a1"},
		{"prefix is case-sensitive", storage.AuditFilter{Action: "USER."}, ""},
		{"before", storage.AuditFilter{Before: t0.Add(2 * time.Minute)}, "a2,a1"},
		{"limit", storage.AuditFilter{OrgID: "o1", Limit: 2}, "a4,a2"},
		{"page", storage.AuditFilter{OrgID: "o1", Limit: 2, Before: t0.Add(time.Minute)}, "a1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := s.Audit(ctx, tt.filter)
			if err != nil {
				t.Fatal(err)
			}
			var ids []string
			for _, e := range got {
				ids = append(ids, e.ID)
			}
			if strings.Join(ids, ",") != tt.want {
				t.Errorf("Audit(%+v) = %v, want %s", tt.filter, ids, tt.want)
			}
		})
	}
	got, _ := s.Audit(ctx, storage.AuditFilter{OrgID: "o1", Action: "user.create"})
	if len(got) != 1 || got[0] != events[0] {
		t.Errorf("event read back %+v, want %+v", got, events[0])
	}
	if err := s.AppendAudit(ctx, storage.AuditEvent{ID: "a9", OrgID: "o1", ActorID: "u1", Action: "x"}); !errors.Is(err, storage.ErrInvalid) {
		t.Errorf("audit event without a time: %v, want ErrInvalid", err)
	}
}

func TestWebSessions(t *testing.T) {
	s, _ := openTestStore(t)
	ctx := context.Background()
	ws := storage.WebSession{ID: "h1", UserID: "u1", OrgID: "o1", CSRFToken: "csrf", CreatedAt: t0, SeenAt: t0,
		ExpiresAt: t0.Add(time.Hour), UserAgent: "Firefox", Address: "10.0.0.1"}
	if err := s.CreateWebSession(ctx, ws); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateWebSession(ctx, ws); !errors.Is(err, storage.ErrConflict) {
		t.Errorf("duplicate web session id: %v, want ErrConflict", err)
	}
	got, err := s.WebSession(ctx, "h1")
	if err != nil || got != ws {
		t.Errorf("WebSession = %+v, %v; want %+v", got, err, ws)
	}

	seen, expires := t0.Add(10*time.Minute), t0.Add(2*time.Hour)
	if err := s.TouchWebSession(ctx, "h1", seen, expires); err != nil {
		t.Fatal(err)
	}
	got, _ = s.WebSession(ctx, "h1")
	if !got.SeenAt.Equal(seen) || !got.ExpiresAt.Equal(expires) {
		t.Errorf("touched session %+v", got)
	}
	if err := s.TouchWebSession(ctx, "nope", seen, expires); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("touch of an absent session: %v, want ErrNotFound", err)
	}

	for _, w := range []storage.WebSession{
		{ID: "h2", UserID: "u1", OrgID: "o1", ExpiresAt: t0.Add(time.Minute)},
		{ID: "h3", UserID: "u2", OrgID: "o1", ExpiresAt: t0.Add(time.Minute)},
		{ID: "h4", UserID: "u2", OrgID: "o1", ExpiresAt: t0.Add(5 * time.Hour)},
	} {
		if err := s.CreateWebSession(ctx, w); err != nil {
			t.Fatal(err)
		}
	}
	n, err := s.DeleteExpiredWebSessions(ctx, t0.Add(time.Minute))
	if err != nil || n != 2 {
		t.Errorf("DeleteExpiredWebSessions = %d, %v; want 2", n, err)
	}
	if err := s.DeleteUserWebSessions(ctx, "u2"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.WebSession(ctx, "h4"); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("session of a user whose sessions were deleted: %v", err)
	}
	if err := s.DeleteWebSession(ctx, "h1"); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteWebSession(ctx, "h1"); err != nil {
		t.Errorf("deleting an absent session: %v", err)
	}
	if _, err := s.WebSession(ctx, "h1"); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("deleted session: %v", err)
	}
}

func TestMeta(t *testing.T) {
	s, _ := openTestStore(t)
	ctx := context.Background()
	if _, err := s.Meta(ctx, "node.id"); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("absent meta key: %v, want ErrNotFound", err)
	}
	for _, v := range []string{"n1", "n2"} {
		if err := s.SetMeta(ctx, "node.id", v); err != nil {
			t.Fatal(err)
		}
		if got, err := s.Meta(ctx, "node.id"); err != nil || got != v {
			t.Errorf("Meta = %q, %v; want %q", got, err, v)
		}
	}
	if err := s.SetMeta(ctx, appliedIndexKey, "999"); !errors.Is(err, storage.ErrInvalid) {
		t.Errorf("SetMeta of the applied index key: %v, want ErrInvalid", err)
	}
	if got, _ := s.AppliedIndex(ctx); got != 0 {
		t.Errorf("applied index moved to %d", got)
	}
}
