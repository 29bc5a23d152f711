package sqlite

import (
	"context"
	"testing"
	"time"

	"siteline/storage"
)

// CountOwnedSessions counts what OwnedSessions lists: a user's calls of a
// kind that have not ended, in their organisation.
func TestCountOwnedSessions(t *testing.T) {
	s, _ := openTestStore(t)
	ctx := context.Background()
	mustApply(t, s, 1, seed())
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for i, ss := range []storage.Session{
		{ID: "open1", CreatedBy: "u1"},
		{ID: "open2", CreatedBy: "u1", Status: storage.SessionRinging},
		{ID: "ended", CreatedBy: "u1", Status: storage.SessionEnded},
		{ID: "request", CreatedBy: "u1", Kind: storage.SessionServiceRequest},
		{ID: "bobs", CreatedBy: "u2"},
		{ID: "handed", CreatedBy: "u2", OwnerID: "u1"},
	} {
		ss.OrgID, ss.SiteID, ss.StartedAt = "o1", "s1", at.Add(time.Duration(i)*time.Minute)
		if err := s.CreateSession(ctx, ss); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		org, owner, kind string
		want             int
	}{
		{"o1", "u1", storage.SessionConference, 3},
		{"o1", "u1", storage.SessionServiceRequest, 1},
		{"o1", "u2", storage.SessionConference, 1},
		{"o1", "u3", storage.SessionConference, 0},
		{"o2", "u1", storage.SessionConference, 0},
	} {
		n, err := s.CountOwnedSessions(ctx, tc.org, tc.owner, tc.kind)
		if err != nil {
			t.Fatal(err)
		}
		listed, err := s.OwnedSessions(ctx, tc.org, tc.owner, tc.kind)
		if err != nil {
			t.Fatal(err)
		}
		if n != tc.want || n != len(listed) {
			t.Errorf("%s %s %s: count %d, listed %d, want %d", tc.org, tc.owner, tc.kind, n, len(listed), tc.want)
		}
	}
}
