package sqlite

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"siteline/storage"
)

// An import is one command: a bad record anywhere in it leaves every
// record of it out.
func TestImportAppliesAllOrNothing(t *testing.T) {
	ctx := context.Background()
	s, _ := openTestStore(t)
	mustApply(t, s, 1, seed())
	contact := func(id, orgID string) storage.Change {
		return storage.Change{Op: storage.OpPutContact, Contact: &storage.Contact{ID: id, OrgID: orgID, Name: "Contact " + id, CreatedAt: t0}}
	}
	var changes []storage.Change
	for i := range 20 {
		changes = append(changes, contact(fmt.Sprintf("imp%d", i), "o1"))
	}
	bad := slices.Clone(changes)
	bad[17] = contact("imp17", "nope") // an organisation that does not exist
	if err := s.Apply(ctx, 2, viaJSON(t, cmd(bad...))); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("import with a bad record = %v, want ErrNotFound", err)
	}
	if list, _ := s.Contacts(ctx, "o1"); len(list) != 2 {
		t.Fatalf("after the refused import the phonebook has %d contacts, want the 2 seeded", len(list))
	}
	mustApply(t, s, 3, cmd(changes...))
	if list, _ := s.Contacts(ctx, "o1"); len(list) != 22 {
		t.Fatalf("after the import the phonebook has %d contacts, want 22", len(list))
	}

	// Invitations likewise, with the labels they will apply.
	inv := func(id, email string, labels ...string) storage.Change {
		ch := putInvite(id, email, "secret-"+id)
		ch.MemberInvitation.LabelIDs = labels
		return ch
	}
	stray := inv("m3", "c@acme.test")
	stray.MemberInvitation.OrgID = "nope"
	err := s.Apply(ctx, 4, viaJSON(t, cmd(inv("m1", "a@acme.test", "l1"), inv("m2", "b@acme.test"), stray)))
	if !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("an import with an invitation to an unknown organisation = %v, want ErrNotFound", err)
	}
	if list, _ := s.MemberInvitations(ctx, "o1"); len(list) != 0 {
		t.Fatalf("after the refused import: %d invitations", len(list))
	}
	mustApply(t, s, 5, cmd(inv("m1", "a@acme.test", "l1", "l2"), inv("m2", "b@acme.test")))
	got, err := s.MemberInvitation(ctx, "m1")
	if err != nil || !slices.Equal(got.LabelIDs, []string{"l1", "l2"}) {
		t.Fatalf("invitation m1 = %+v, %v; want labels l1, l2", got, err)
	}
}

func TestUserLabelsLoginsAndCalls(t *testing.T) {
	ctx := context.Background()
	s, _ := openTestStore(t)
	mustApply(t, s, 1, seed())
	set := func(user string, labels ...string) storage.Command {
		return cmd(storage.Change{Op: storage.OpSetUserLabels, ID: user, LabelIDs: labels})
	}
	mustApply(t, s, 2, set("u1", "l1", "l2"))
	mustApply(t, s, 3, set("u2", "l2"))
	mustApply(t, s, 4, set("u1", "l2")) // replaces
	labels, err := s.UserLabels(ctx, "o1")
	if err != nil || !slices.Equal(labels["u1"], []string{"l2"}) || !slices.Equal(labels["u2"], []string{"l2"}) {
		t.Fatalf("UserLabels = %v, %v", labels, err)
	}
	// A label of another organisation, or an unknown user, is refused.
	mustApply(t, s, 5, cmd(storage.Change{Op: storage.OpPutLabelGroup, LabelGroup: &storage.LabelGroup{ID: "g9", OrgID: "o2", Name: "X", Color: "#000000"}},
		storage.Change{Op: storage.OpPutLabel, Label: &storage.Label{ID: "l9", OrgID: "o2", GroupID: "g9", Name: "Other"}}))
	if err := s.Apply(ctx, 6, set("u1", "l1", "l9")); !errors.Is(err, storage.ErrInvalid) {
		t.Errorf("label of another org = %v, want ErrInvalid", err)
	}
	if err := s.Apply(ctx, 7, set("nobody", "l1")); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("unknown user = %v, want ErrNotFound", err)
	}
	if labels, _ := s.UserLabels(ctx, "o1"); !slices.Equal(labels["u1"], []string{"l2"}) {
		t.Errorf("after refused changes u1 has %v", labels["u1"])
	}

	// Logins: the latest is kept, per node, and only the org's users show.
	for _, l := range []struct {
		user string
		at   time.Time
	}{{"u1", t0.Add(time.Hour)}, {"u1", t0.Add(3 * time.Hour)}, {"u1", t0.Add(2 * time.Hour)}, {"u9", t0}} {
		if err := s.RecordLogin(ctx, l.user, l.at); err != nil {
			t.Fatal(err)
		}
	}
	logins, err := s.LastLogins(ctx, "o1")
	if err != nil || len(logins) != 1 || !logins["u1"].Equal(t0.Add(3*time.Hour)) {
		t.Fatalf("LastLogins = %v, %v", logins, err)
	}

	// Calls: the latest session each user joined.
	for i, id := range []string{"c1", "c2"} {
		if err := s.CreateSession(ctx, storage.Session{ID: id, OrgID: "o1", SiteID: "s1", CreatedBy: "u1", StartedAt: t0}); err != nil {
			t.Fatal(err)
		}
		at := t0.Add(time.Duration(i+1) * time.Hour)
		pid := "p" + id
		if err := s.RecordJoin(ctx, storage.SessionParticipant{ID: pid, SessionID: id, UserID: "u2", JoinedAt: at},
			storage.SessionEvent{ID: "e-" + pid, SessionID: id, At: at, Kind: storage.EventJoined, ActorID: "u2",
				Payload: []byte(`{"participant":"` + pid + `"}`)}); err != nil {
			t.Fatal(err)
		}
	}
	calls, err := s.LastCalls(ctx, "o1")
	if err != nil || len(calls) != 1 || !calls["u2"].Equal(t0.Add(2*time.Hour)) {
		t.Fatalf("LastCalls = %v, %v", calls, err)
	}
}
