package web

import (
	"errors"
	"net/http"
	"strings"
	"testing"

	"siteline/policy"
)

// smsInvites is fakeInvites that says whether SMS can be sent.
type smsInvites struct {
	fakeInvites
	err error
}

func (f smsInvites) SMSConfigured() error { return f.err }

// The invite dialog offers SMS only when the node has an SMS provider;
// without one it says that SMS is not set up.
func TestInviteDialogOffersSMSOnlyWithAProvider(t *testing.T) {
	for _, tc := range []struct {
		name    string
		invites Invites
		offered bool
	}{
		{"provider", smsInvites{}, true},
		{"no provider", smsInvites{err: errors.New("SMS is not configured")}, false},
		{"unknown", fakeInvites{}, false},
	} {
		s, d := newTestServer(t, withServices, func(deps *Deps) { deps.Invites = tc.invites })
		d.addUser("u1", adminEmail, testPass, policy.InviteGuestUsers, policy.ContactList)
		b := &browser{t: t, s: s}
		b.login(adminEmail, testPass)
		got := b.page("/contacts")
		if got.status != http.StatusOK || !strings.Contains(got.body, `id="invite-dialog"`) {
			t.Fatalf("%s: contacts page = %d without the invite dialog", tc.name, got.status)
		}
		offered := strings.Contains(got.body, `value="sms"`)
		said := strings.Contains(got.body, "SMS is not set up on this node")
		if offered != tc.offered || said == tc.offered {
			t.Errorf("%s: SMS offered %v, not-set-up note %v; want offered %v", tc.name, offered, said, tc.offered)
		}
	}
}
