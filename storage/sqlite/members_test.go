package sqlite

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"siteline/storage"
)

func putInvite(id, email, secret string) storage.Change {
	return storage.Change{Op: storage.OpPutMemberInvite, TokenHash: hashOf(secret), MemberInvitation: &storage.MemberInvitation{
		ID: id, OrgID: "o1", Email: email, Roles: []string{"regular"}, TeamIDs: []string{"t1"}, CreatedBy: "u1",
		CreatedAt: t0, SentAt: t0, Sends: 1, ExpiresAt: t0.Add(7 * 24 * time.Hour)}}
}

func accept(id, userID, secret string, at time.Time) storage.Change {
	return storage.Change{Op: storage.OpAcceptMemberInvite, TokenHash: hashOf(secret),
		MemberInvitation: &storage.MemberInvitation{ID: id, UsedAt: &at, UserID: userID}}
}

func newUser(id, email string) storage.Change {
	return storage.Change{Op: storage.OpPutUser, User: &storage.User{ID: id, OrgID: "o1", Email: email, Name: id,
		Kind: storage.UserRegular, Active: true, CreatedAt: t0, UpdatedAt: t0}}
}

func TestMemberInvitationApplies(t *testing.T) {
	ctx := context.Background()
	s, _ := openTestStore(t)
	mustApply(t, s, 1, seed())
	mustApply(t, s, 2, cmd(putInvite("m1", "Nina@acme.test", "s1"), putInvite("m2", "omar@acme.test", "s2")))

	got, err := s.MemberInvitationByHash(ctx, hashOf("s1"))
	if err != nil || got.ID != "m1" || got.Email != "nina@acme.test" || !slices.Equal(got.TeamIDs, []string{"t1"}) ||
		got.State(t0) != storage.MemberInvitePending {
		t.Fatalf("by hash = %+v, %v", got, err)
	}
	list, err := s.MemberInvitations(ctx, "o1")
	if err != nil || len(list) != 2 {
		t.Fatalf("list = %+v, %v", list, err)
	}

	// Accepted with the user it creates, in one command.
	at := t0.Add(time.Hour)
	mustApply(t, s, 3, cmd(accept("m1", "u7", "s1", at), newUser("u7", "nina@acme.test")))
	// The second accept of the same link is refused whole: no user.
	err = s.Apply(ctx, 4, viaJSON(t, cmd(accept("m1", "u8", "s1", at), newUser("u8", "nina2@acme.test"))))
	if !errors.Is(err, storage.ErrConflict) {
		t.Fatalf("second accept: %v, want ErrConflict", err)
	}
	if _, err := s.User(ctx, "u8"); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("the refused accept created its user: %v", err)
	}
	if got, _ := s.MemberInvitation(ctx, "m1"); got.State(at) != storage.MemberInviteUsed || got.UserID != "u7" {
		t.Errorf("after use: %+v", got)
	}

	// A renewed link (resend) replaces the hash; the old one is refused.
	renewed := putInvite("m2", "omar@acme.test", "s2-new")
	renewed.MemberInvitation.Sends = 2
	mustApply(t, s, 5, cmd(renewed))
	for i, c := range []struct {
		what string
		ch   storage.Change
	}{
		{"the replaced link", accept("m2", "u9", "s2", at)},
		{"after expiry", accept("m2", "u9", "s2-new", t0.Add(7*24*time.Hour))},
	} {
		if err := s.Apply(ctx, uint64(6+i), viaJSON(t, cmd(c.ch))); !errors.Is(err, storage.ErrConflict) {
			t.Errorf("accept %s: %v, want ErrConflict", c.what, err)
		}
	}
	rev := at
	mustApply(t, s, 8, cmd(storage.Change{Op: storage.OpRevokeMemberInvite, MemberInvitation: &storage.MemberInvitation{ID: "m2", RevokedAt: &rev}}))
	for i, ch := range []storage.Change{accept("m2", "u9", "s2-new", at), renewed,
		{Op: storage.OpRevokeMemberInvite, MemberInvitation: &storage.MemberInvitation{ID: "m2", RevokedAt: &rev}}} {
		if err := s.Apply(ctx, uint64(9+i), viaJSON(t, cmd(ch))); !errors.Is(err, storage.ErrConflict) {
			t.Errorf("%s on a revoked invitation: %v, want ErrConflict", ch.Op, err)
		}
	}

	// Snapshots carry invitations, hashes and states.
	var buf bytes.Buffer
	if err := s.Snapshot(ctx, &buf); err != nil {
		t.Fatal(err)
	}
	dst, _ := openTestStore(t)
	if err := dst.Restore(ctx, &buf); err != nil {
		t.Fatal(err)
	}
	a, _ := s.MemberInvitations(ctx, "o1")
	b, err := dst.MemberInvitations(ctx, "o1")
	if err != nil || len(b) != 2 {
		t.Fatalf("restored = %+v, %v", b, err)
	}
	for i := range a {
		if a[i].ID != b[i].ID || !bytes.Equal(a[i].TokenHash, b[i].TokenHash) || a[i].State(at) != b[i].State(at) || a[i].Sends != b[i].Sends {
			t.Errorf("restored %+v, want %+v", b[i], a[i])
		}
	}
}

func TestDeactivationEndsWebSessionsInTheApply(t *testing.T) {
	ctx := context.Background()
	s, _ := openTestStore(t)
	mustApply(t, s, 1, seed())
	for _, id := range []string{"w1", "w2"} {
		user := map[string]string{"w1": "u1", "w2": "u2"}[id]
		if err := s.CreateWebSession(ctx, storage.WebSession{ID: id, UserID: user, OrgID: "o1", CSRFToken: "c",
			CreatedAt: t0, SeenAt: t0, ExpiresAt: t0.Add(time.Hour)}); err != nil {
			t.Fatal(err)
		}
	}
	off := storage.User{ID: "u2", OrgID: "o1", Email: "bob@acme.test", Name: "Bob", Kind: storage.UserRegular, CreatedAt: t0, UpdatedAt: t0}
	mustApply(t, s, 2, cmd(storage.Change{Op: storage.OpPutUser, User: &off, Existing: true}))
	if _, err := s.WebSession(ctx, "w2"); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("the deactivated user's session: %v, want it gone", err)
	}
	if _, err := s.WebSession(ctx, "w1"); err != nil {
		t.Errorf("another user's session: %v", err)
	}
}
