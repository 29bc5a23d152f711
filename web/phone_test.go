package web

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"

	"siteline/policy"
	"siteline/storage"
)

// fakePhone knows who is online and rings whoever is not "away".
type fakePhone struct {
	mu     sync.Mutex
	states map[string]string
	called []string
}

func (f *fakePhone) Presence(string) map[string]string {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := map[string]string{}
	for k, v := range f.states {
		out[k] = v
	}
	return out
}

func (f *fakePhone) CallUser(_ context.Context, a Actor, userID string) (DialOut, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.called = append(f.called, a.UserID+">"+userID)
	if f.states[userID] == "" {
		return DialOut{Status: DialNotReachable, Reason: "User " + userID + " is not reachable: offline"}, nil
	}
	return DialOut{Status: DialRinging, CallID: "call-" + userID, URL: "https://hq.example/calls/call-" + userID}, nil
}

func TestPhonebookUsersPresenceSearchAndPages(t *testing.T) {
	phone := &fakePhone{states: map[string]string{"u-bob": PresenceOnline, "u-cy": PresenceInCall}}
	s, d, _, nobody := loggedIn(t, func(deps *Deps) { deps.Phone = phone })
	d.addUser("u-caller", "caller@plant.example", testPass, policy.ContactList, policy.CreateConference)
	d.addUser("u-viewer", "viewer@plant.example", testPass, policy.ContactList)
	for i := range 60 {
		d.addUser(fmt.Sprintf("u-%02d", i), fmt.Sprintf("worker%02d@plant.example", i), testPass)
	}
	d.addUser("u-bob", "bob@plant.example", testPass)
	d.addUser("u-cy", "cy@plant.example", testPass)
	d.mu.Lock()
	for id, u := range d.users {
		u.Kind = storage.UserRegular
		if id == "u-bob" {
			u.Name = "Bob Fitter"
		}
		d.users[id] = u
	}
	d.mu.Unlock()
	caller, viewer := &browser{t: t, s: s}, &browser{t: t, s: s}
	caller.login("caller@plant.example", testPass)
	viewer.login("viewer@plant.example", testPass)

	var list InternalContacts
	decodeBody(t, caller.api("GET", APIPrefix+"/phonebook/users?q=fitter", ""), &list)
	if list.Total != 1 || len(list.Contacts) != 1 || list.Contacts[0].ID != "u-bob" || list.Contacts[0].Presence != PresenceOnline {
		t.Fatalf("search fitter = %+v", list)
	}
	decodeBody(t, caller.api("GET", APIPrefix+"/phonebook/users?q=cy@", ""), &list)
	if len(list.Contacts) != 1 || list.Contacts[0].Presence != PresenceInCall {
		t.Fatalf("search cy = %+v", list)
	}
	// Everyone but the caller: 2 + 60 + bob + cy + viewer, 50 a page.
	decodeBody(t, caller.api("GET", APIPrefix+"/phonebook/users?page=2", ""), &list)
	if list.Total != 65 || list.Pages != 2 || list.Page != 2 || len(list.Contacts) != 15 {
		t.Fatalf("page 2 = total %d, page %d of %d, %d contacts", list.Total, list.Page, list.Pages, len(list.Contacts))
	}
	for _, c := range list.Contacts {
		if c.ID == "u-caller" {
			t.Errorf("the caller is listed to themselves")
		}
		if c.ID == "u-00" && c.Presence != PresenceOffline {
			t.Errorf("u-00 is %q, want offline", c.Presence)
		}
	}

	// Permissions: the list wants contact-list, a call create-conference.
	if got := nobody.api("GET", APIPrefix+"/phonebook/users", ""); got.status != http.StatusForbidden || errorBody(t, got).Permission != policy.ContactList {
		t.Errorf("list without %s = %d %s", policy.ContactList, got.status, got.body)
	}
	if got := viewer.api("POST", APIPrefix+"/phonebook/users/u-bob/call", ""); got.status != http.StatusForbidden || errorBody(t, got).Permission != policy.CreateConference {
		t.Errorf("call without %s = %d %s", policy.CreateConference, got.status, got.body)
	}

	var out DialOut
	got := caller.api("POST", APIPrefix+"/phonebook/users/u-bob/call", "")
	decodeBody(t, got, &out)
	if got.status != http.StatusCreated || out.Status != DialRinging || out.CallID != "call-u-bob" {
		t.Fatalf("call bob = %d %+v", got.status, out)
	}
	got = caller.api("POST", APIPrefix+"/phonebook/users/u-00/call", "")
	decodeBody(t, got, &out)
	if got.status != http.StatusOK || out.Status != DialNotReachable || !strings.Contains(out.Reason, "not reachable") {
		t.Fatalf("call u-00 = %d %+v", got.status, out)
	}

	// The page: colleagues with presence and Call buttons for a caller,
	// without for a viewer; a call opens the call page, or comes back
	// saying why not.
	page := caller.page("/contacts?q=fitter")
	if page.status != 200 || !strings.Contains(page.body, `data-user="u-bob" data-presence="online"`) || !strings.Contains(page.body, `action="/contacts/users/u-bob/call"`) {
		t.Fatalf("contacts page = %d %s", page.status, page.body)
	}
	if p := viewer.page("/contacts?q=cy@"); p.status != 200 || strings.Contains(p.body, "/contacts/users/") || !strings.Contains(p.body, `data-presence="in_call"`) {
		t.Errorf("viewer's contacts page = %d, call buttons or no presence", p.status)
	}
	if got := caller.form("/contacts/users/u-bob/call", url.Values{}); got.status != http.StatusSeeOther || got.header.Get("Location") != "/calls/call-u-bob?ringing" {
		t.Errorf("page call bob = %d to %q", got.status, got.header.Get("Location"))
	}
	got = caller.form("/contacts/users/u-00/call", url.Values{})
	if got.status != http.StatusSeeOther || got.header.Get("Location") != "/contacts" {
		t.Errorf("page call u-00 = %d to %q", got.status, got.header.Get("Location"))
	}
	var flash string
	for _, c := range (&http.Response{Header: got.header}).Cookies() {
		if c.Name == flashCookie {
			flash, _ = url.QueryUnescape(c.Value)
		}
	}
	if flash != "User u-00 is not reachable: offline" {
		t.Errorf("flash = %q, want why u-00 is not reachable", flash)
	}
}

// sentInvites is an Invites that records invitations; SMS fails (no
// gateway), or with noSMS is not configured at all.
type sentInvites struct {
	Invites
	noSMS bool
	mu    sync.Mutex
	sent  []string
}

func (f *sentInvites) SMSConfigured() error {
	if f.noSMS {
		return errors.New("SMS is not configured on this node")
	}
	return nil
}

func (f *sentInvites) InviteToCall(_ context.Context, _ Actor, callID string, in InviteInput) (InvitationOut, error) {
	if in.Channel == "sms" {
		return InvitationOut{}, fmt.Errorf("sms: no gateway configured: %w", storage.ErrConflict)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.sent = append(f.sent, callID+" "+in.Channel+" "+in.To+" "+in.Name)
	return InvitationOut{}, nil
}

func flashOf(a answer) string {
	for _, c := range (&http.Response{Header: a.header}).Cookies() {
		if c.Name == flashCookie {
			v, _ := url.QueryUnescape(c.Value)
			return v
		}
	}
	return ""
}

// Calling an external contact starts the call and sends them its link by
// e-mail, else by SMS; a contact with neither, or a colleague's entry,
// gets nothing; a failed invitation is said, and the call opens anyway.
func TestCallingAnExternalContactInvitesThem(t *testing.T) {
	calls, invites := &startedCalls{}, &sentInvites{}
	s, d := newTestServer(t, withServices, func(deps *Deps) { deps.Calls, deps.Invites = calls, invites })
	d.addUser("u1", adminEmail, testPass, policy.CreateConference)
	for _, ct := range []storage.Contact{
		{ID: "c-mail", Name: "Eva Vendor", Email: "eva@vendor.example", Phone: "+41 79 000 00 00"},
		{ID: "c-sms", Name: "Sam Service", Phone: "+41 79 111 11 11"},
		{ID: "c-none", Name: "Nora Nothing"},
		{ID: "c-user", Name: "Colleague", Email: "u1@plant.example", UserID: "u1"},
	} {
		ct.OrgID = d.org.ID
		d.contacts[ct.ID] = ct
	}
	b := &browser{t: t, s: s}
	b.login(adminEmail, testPass)

	got := b.form("/calls", url.Values{"contact": {"c-mail"}, "skip": {"1"}})
	if got.status != http.StatusSeeOther || got.header.Get("Location") != "/calls/call-1" {
		t.Fatalf("call eva = %d to %q", got.status, got.header.Get("Location"))
	}
	if f := flashOf(got); f != "Invited Eva Vendor to the call by e-mail to eva@vendor.example." {
		t.Errorf("flash = %q", f)
	}
	got = b.form("/calls", url.Values{"contact": {"c-sms"}, "skip": {"1"}})
	if got.status != http.StatusSeeOther || got.header.Get("Location") != "/calls/call-2" ||
		flashOf(got) != "The call started, but Sam Service was not invited by SMS to +41 79 111 11 11: sms: no gateway configured: conflict" {
		t.Errorf("call sam = %d to %q, flash %q", got.status, got.header.Get("Location"), flashOf(got))
	}
	for _, id := range []string{"c-none", "c-user"} {
		if got := b.form("/calls", url.Values{"contact": {id}, "skip": {"1"}}); got.status != http.StatusSeeOther || flashOf(got) != "" {
			t.Errorf("call %s = %d, flash %q", id, got.status, flashOf(got))
		}
	}
	if want := []string{"call-1 email eva@vendor.example Eva Vendor"}; !slices.Equal(invites.sent, want) {
		t.Errorf("sent %v, want %v", invites.sent, want)
	}

	// Without an SMS provider, a contact with a phone number only is not
	// sent an SMS: the flash says so and what to do.
	invites.noSMS = true
	got = b.form("/calls", url.Values{"contact": {"c-sms"}, "skip": {"1"}})
	if f := flashOf(got); got.status != http.StatusSeeOther || !strings.Contains(f, "Sam Service has no e-mail address and SMS is not set up on this node") {
		t.Errorf("call sam without SMS = %d, flash %q", got.status, f)
	}
}
