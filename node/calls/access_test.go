package calls

import (
	"context"
	"errors"
	"testing"
	"time"

	"siteline/policy"
	"siteline/storage"
	"siteline/web"
)

// A call's data is for its owner and participants (hidden or not), its
// guests, call-log readers and the supervisors whose teams reach one of
// its visible users; a refusal names see-all-call-logs, or for a guest of
// another call outside-the-call.
func TestMayRead(t *testing.T) {
	grants := fakeEnforcer{
		"reader":     {policy.SeeAllCallLogs},
		"lead":       {policy.CallSitIn},
		"lead-other": {policy.CallSitIn},
		"lead-guest": {policy.CallSitIn},
		"lead-spy":   {policy.CallSitIn},
		"no-right":   {},
	}
	teams := fakeTeams{
		"lead":       {"tech"},
		"lead-other": {"someone-else"},
		"lead-guest": {web.GuestIDPrefix + "g1"},
		"lead-spy":   {"spy"},
		"no-right":   {"tech"}, // reaches them, but lacks the permission
	}
	f := newFixture(t, time.Hour, grants, teams)
	call := f.call("c1", storage.SessionConference, "owner", storage.SessionActive)
	f.joinRow("c1", "tech", false)
	f.joinRow("c1", web.GuestIDPrefix+"g1", false)
	f.joinRow("c1", "spy", true)

	for _, tc := range []struct {
		name  string
		actor web.Actor
		want  string // the permission a refusal names; "" allows
	}{
		{"local operator", web.Actor{Local: true}, ""},
		{"owner", web.Actor{UserID: "owner", OrgID: "org"}, ""},
		{"participant", web.Actor{UserID: "tech", OrgID: "org"}, ""},
		{"hidden participant", web.Actor{UserID: "spy", OrgID: "org"}, ""},
		{"guest of the call", web.Actor{UserID: web.GuestIDPrefix + "g1", OrgID: "org", CallID: "c1"}, ""},
		{"guest of another call", web.Actor{UserID: web.GuestIDPrefix + "g2", OrgID: "org", CallID: "c2"}, policy.OutsideTheCall},
		{"call-log reader", web.Actor{UserID: "reader", OrgID: "org"}, ""},
		{"supervisor of a participant", web.Actor{UserID: "lead", OrgID: "org"}, ""},
		{"supervisor of someone else", web.Actor{UserID: "lead-other", OrgID: "org"}, policy.SeeAllCallLogs},
		{"supervisor of the guest", web.Actor{UserID: "lead-guest", OrgID: "org"}, policy.SeeAllCallLogs},
		{"supervisor of the hidden one", web.Actor{UserID: "lead-spy", OrgID: "org"}, policy.SeeAllCallLogs},
		{"team lead without sit-in", web.Actor{UserID: "no-right", OrgID: "org"}, policy.SeeAllCallLogs},
		{"stranger", web.Actor{UserID: "stranger", OrgID: "org"}, policy.SeeAllCallLogs},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := f.cs.MayRead(context.Background(), tc.actor, call)
			if tc.want == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			var fe *storage.ForbiddenError
			if !errors.As(err, &fe) || fe.Permission != tc.want {
				t.Fatalf("got %v, want a refusal naming %s", err, tc.want)
			}
		})
	}
}

// Sitting in is for supervisors whose teams reach the call's people, or
// the monitor they name; it returns whom they supervise.
func TestCheckSitIn(t *testing.T) {
	grants := fakeEnforcer{"lead": {policy.CallSitIn}, "tech": {}}
	teams := fakeTeams{"lead": {"tech", "owner"}, "tech": {"owner"}}
	f := newFixture(t, time.Hour, grants, teams)
	call := f.call("c1", storage.SessionConference, "owner", storage.SessionActive)
	f.joinRow("c1", "tech", false)
	f.store.users["tech"] = storage.User{ID: "tech", OrgID: "org"}
	f.store.users["outsider"] = storage.User{ID: "outsider", OrgID: "other"}
	f.store.users["idle"] = storage.User{ID: "idle", OrgID: "org"}
	lead := web.Actor{UserID: "lead", OrgID: "org"}

	if got, err := f.cs.checkSitIn(context.Background(), lead, call, ""); err != nil || got != "owner" {
		t.Errorf("sit in: %q, %v; want the owner, the first of the call's people the lead reaches", got, err)
	}
	if got, err := f.cs.checkSitIn(context.Background(), lead, call, "tech"); err != nil || got != "tech" {
		t.Errorf("sit in monitoring tech: %q, %v", got, err)
	}
	for _, monitor := range []string{"outsider", "idle", "nobody"} {
		if _, err := f.cs.checkSitIn(context.Background(), lead, call, monitor); !errors.Is(err, storage.ErrInvalid) {
			t.Errorf("monitor %s: %v, want invalid", monitor, err)
		}
	}
	var fe *storage.ForbiddenError
	for _, a := range []web.Actor{{UserID: "tech", OrgID: "org"}, {Local: true}, {UserID: web.GuestIDPrefix + "g", CallID: "c1"}} {
		if _, err := f.cs.checkSitIn(context.Background(), a, call, ""); !errors.As(err, &fe) || fe.Permission != policy.CallSitIn {
			t.Errorf("sit in by %+v: %v, want a refusal naming %s", a, err, policy.CallSitIn)
		}
	}
}
