package storagetest

import (
	"context"
	"reflect"
	"testing"
	"time"

	"siteline/storage"
)

// Users are the users of the organisation data the stores of LastCalls
// must know (through whatever holds their organisation data): three of
// organisation o1, one a guest, and one of o2.
var Users = []storage.User{
	{ID: "u1", OrgID: "o1", Email: "alice@acme.test", Name: "Alice", Kind: storage.UserRegular, Active: true, CreatedAt: t0, UpdatedAt: t0},
	{ID: "u2", OrgID: "o1", Email: "bob@acme.test", Name: "Bob", Kind: storage.UserRegular, Active: true, CreatedAt: t0, UpdatedAt: t0},
	{ID: "u3", OrgID: "o1", Email: "guest@acme.test", Name: "Guest", Kind: storage.UserGuestMobile, CreatedAt: t0, UpdatedAt: t0},
	{ID: "u9", OrgID: "o2", Email: "alice@bolt.test", Name: "Alice at Bolt", Kind: storage.UserRegular, Active: true, CreatedAt: t0, UpdatedAt: t0},
}

// PeopleBackend is what LastCalls drives: the session store whose joins
// it reads.
type PeopleBackend interface {
	storage.SessionStore
	LastCalls(ctx context.Context, orgID string) (map[string]time.Time, error)
}

// LastCalls tests storage.PeopleReader's LastCalls: each user of the
// organisation (as its organisation data lists them, Users) who joined a
// session known here maps to their latest join, whichever organisation
// the session belongs to; users of other organisations and ids no user
// has are left out. open returns a new store, empty but for the
// organisation data that holds Users.
func LastCalls(t *testing.T, open func(t *testing.T) PeopleBackend) {
	ctx := context.Background()
	s := open(t)
	if calls, err := s.LastCalls(ctx, "o1"); err != nil || len(calls) != 0 {
		t.Fatalf("LastCalls with no session = %v, %v", calls, err)
	}
	for _, ss := range []storage.Session{
		{ID: "c1", OrgID: "o1", SiteID: "s1", CreatedBy: "u1", StartedAt: t0},
		{ID: "c2", OrgID: "o1", SiteID: "s1", CreatedBy: "u1", StartedAt: t0},
		{ID: "c3", OrgID: "o2", SiteID: "s9", CreatedBy: "u9", StartedAt: t0},
	} {
		if err := s.CreateSession(ctx, ss); err != nil {
			t.Fatal(err)
		}
	}
	for i, j := range []struct {
		session, user string
		after         time.Duration
	}{
		{"c1", "u2", 2 * time.Hour},
		{"c2", "u2", time.Hour}, // earlier, though in a later session
		{"c1", "u3", 30 * time.Minute},
		{"c3", "u1", 3 * time.Hour}, // another organisation's session
		{"c1", "u9", 4 * time.Hour},
		{"c1", "nobody", 5 * time.Hour},
		{"c2", "u2", 90 * time.Minute},
	} {
		pid := "p" + itoa(int64(i))
		at := t0.Add(j.after)
		if err := s.RecordJoin(ctx, storage.SessionParticipant{ID: pid, SessionID: j.session, UserID: j.user, JoinedAt: at},
			storage.SessionEvent{ID: "e-" + pid, SessionID: j.session, At: at, Kind: storage.EventJoined, ActorID: j.user}); err != nil {
			t.Fatal(err)
		}
	}
	for org, want := range map[string]map[string]time.Time{
		"o1": {"u1": t0.Add(3 * time.Hour), "u2": t0.Add(2 * time.Hour), "u3": t0.Add(30 * time.Minute)},
		"o2": {"u9": t0.Add(4 * time.Hour)},
		"o3": {},
	} {
		calls, err := s.LastCalls(ctx, org)
		if err != nil || !reflect.DeepEqual(calls, want) {
			t.Errorf("LastCalls(%s) = %v, %v; want %v", org, calls, err, want)
		}
	}
}
