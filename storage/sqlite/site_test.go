package sqlite

import (
	"context"
	"errors"
	"testing"
	"time"

	"siteline/storage"
)

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
