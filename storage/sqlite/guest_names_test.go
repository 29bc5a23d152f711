package sqlite

import (
	"context"
	"maps"
	"testing"
)

func TestGuestNames(t *testing.T) {
	s, _ := openTestStore(t)
	ctx := context.Background()
	// The guests alone matter here, not their invitations.
	if _, err := s.write.Exec("PRAGMA foreign_keys = OFF"); err != nil {
		t.Fatal(err)
	}
	for _, g := range [][3]string{{"guest-a", "o1", "Carl"}, {"guest-b", "o1", ""}, {"guest-c", "o2", "Other org"}} {
		if _, err := s.write.Exec(`INSERT INTO guests (id, org_id, invitation_id, session_id, kind, name, created_at)
			VALUES (?, ?, 'inv', 'call', 'guest_desktop', ?, 1)`, g[0], g[1], g[2]); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.write.Exec("PRAGMA foreign_keys = ON"); err != nil {
		t.Fatal(err)
	}
	got, err := s.GuestNames(ctx, "o1", []string{"guest-a", "guest-b", "guest-c", "guest-gone"})
	if want := map[string]string{"guest-a": "Carl", "guest-b": ""}; err != nil || !maps.Equal(got, want) {
		t.Errorf("GuestNames = %v, %v; want %v", got, err, want)
	}
}
