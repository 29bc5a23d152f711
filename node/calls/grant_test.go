package calls

import (
	"errors"
	"testing"
	"time"

	"siteline/media/turn"
	"siteline/storage"
	"siteline/web"
)

// Relay credentials hold while their call is open and their user active,
// and, for a guest, invited to that call.
func TestCheckGrant(t *testing.T) {
	f := newFixture(t, time.Hour, nil, nil)
	f.call("open", storage.SessionConference, "u1", storage.SessionActive)
	f.call("ended", storage.SessionConference, "u1", storage.SessionEnded)
	f.store.users["u1"] = storage.User{ID: "u1", OrgID: "org", Active: true}
	f.store.users["off"] = storage.User{ID: "off", OrgID: "org"}
	f.store.users["alien"] = storage.User{ID: "alien", OrgID: "other", Active: true}
	f.store.guests[web.GuestIDPrefix+"in"] = storage.Guest{ID: web.GuestIDPrefix + "in", SessionID: "open"}
	f.store.guests[web.GuestIDPrefix+"out"] = storage.Guest{ID: web.GuestIDPrefix + "out", SessionID: "elsewhere"}

	for _, tc := range []struct {
		name  string
		grant turn.Grant
		holds bool
	}{
		{"active user", turn.Grant{Org: "org", Call: "open", User: "u1"}, true},
		{"local operator", turn.Grant{Org: "org", Call: "open", User: "cli"}, true},
		{"invited guest", turn.Grant{Org: "org", Call: "open", User: web.GuestIDPrefix + "in"}, true},
		{"guest of another call", turn.Grant{Org: "org", Call: "open", User: web.GuestIDPrefix + "out"}, false},
		{"unknown guest", turn.Grant{Org: "org", Call: "open", User: web.GuestIDPrefix + "x"}, false},
		{"deactivated user", turn.Grant{Org: "org", Call: "open", User: "off"}, false},
		{"unknown user", turn.Grant{Org: "org", Call: "open", User: "nobody"}, false},
		{"user of another organisation", turn.Grant{Org: "org", Call: "open", User: "alien"}, false},
		{"ended call", turn.Grant{Org: "org", Call: "ended", User: "u1"}, false},
		{"unknown call", turn.Grant{Org: "org", Call: "gone", User: "u1"}, false},
		{"call of another organisation", turn.Grant{Org: "other", Call: "open", User: "u1"}, false},
	} {
		err := f.cs.CheckGrant(tc.grant)
		switch {
		case tc.holds && err != nil:
			t.Errorf("%s: %v, want it to hold", tc.name, err)
		case !tc.holds && !errors.Is(err, errGrantEnded):
			t.Errorf("%s: %v, want %v", tc.name, err, errGrantEnded)
		}
	}
}

// The SFU's authorizer asks the policy about a user in their own
// organisation (the node's when the store does not know them) and about a
// guest through their invitation.
func TestAuthorizer(t *testing.T) {
	store := newFakeStore()
	store.users["u1"] = storage.User{ID: "u1", OrgID: "org1"}
	var asked []string
	enf := enforcerFunc(func(orgID, userID, permission string) error {
		asked = append(asked, orgID+"/"+userID+"/"+permission)
		return nil
	})
	var guests []string
	a := Authorizer{Users: store, Enforcer: enf, OrgID: "home", Guests: func(guestID, permission string) error {
		guests = append(guests, guestID+"/"+permission)
		return &storage.ForbiddenError{Permission: permission}
	}}
	if err := a.Check("u1", "p"); err != nil {
		t.Fatal(err)
	}
	if err := a.Check("u2", "p"); err != nil {
		t.Fatal(err)
	}
	if err := a.Check(web.GuestIDPrefix+"g", "q"); err == nil {
		t.Error("the guest's refusal was lost")
	}
	if len(asked) != 2 || asked[0] != "org1/u1/p" || asked[1] != "home/u2/p" {
		t.Errorf("enforcer asked %v", asked)
	}
	if len(guests) != 1 || guests[0] != web.GuestIDPrefix+"g/q" {
		t.Errorf("guest checks %v", guests)
	}
}

type enforcerFunc func(orgID, userID, permission string) error

func (f enforcerFunc) Check(orgID, userID, permission string) error {
	return f(orgID, userID, permission)
}
