package web

import (
	"context"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"siteline/storage"
)

// fakeMembers answers the member invitation routes: tokens "good" and
// "used", and the invitations it was asked for.
type fakeMembers struct {
	d *fakeData

	mu      sync.Mutex
	invited []MemberInviteInput
}

func (f *fakeMembers) InviteMembers(_ context.Context, a Actor, in MemberInviteInput) ([]MemberInvitationOut, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, e := range in.Emails {
		if !strings.Contains(e, "@") {
			return nil, &storage.ValidationError{Field: "emails", Problem: `"` + e + `" is not an e-mail address`}
		}
	}
	f.invited = append(f.invited, in)
	var out []MemberInvitationOut
	for _, e := range in.Emails {
		out = append(out, MemberInvitationOut{MemberInvitation: storage.MemberInvitation{ID: "m-" + e, OrgID: a.OrgID, Email: e}, State: "pending"})
	}
	return out, nil
}

func (f *fakeMembers) MemberInvitations(_ context.Context, a Actor) ([]MemberInvitationOut, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := []MemberInvitationOut{{MemberInvitation: storage.MemberInvitation{ID: "m-used", Email: "old@plant.example"}, State: "used"}}
	for _, in := range f.invited {
		for _, e := range in.Emails {
			state := storage.MemberInvitePending
			if strings.HasPrefix(e, "late@") { // its link ran out
				state = storage.MemberInviteExpired
			}
			out = append(out, MemberInvitationOut{MemberInvitation: storage.MemberInvitation{ID: "m-" + e, OrgID: a.OrgID, Email: e,
				Roles: in.Roles, Sends: 1, SentAt: time.Now(), ExpiresAt: time.Now().Add(time.Hour)}, State: state})
		}
	}
	return out, nil
}

func (f *fakeMembers) ResendMemberInvitation(context.Context, Actor, string) (MemberInvitationOut, error) {
	return MemberInvitationOut{}, storage.ErrNotFound
}

func (f *fakeMembers) RevokeMemberInvitation(context.Context, Actor, string) error { return nil }

func (f *fakeMembers) InspectActivation(_ context.Context, token string) (ActivationInfo, error) {
	if token == "good" {
		return ActivationInfo{Email: "nina@plant.example", OrgName: "Plant One", ExpiresAt: time.Now().Add(time.Hour)}, nil
	}
	return ActivationInfo{}, &DeadLinkError{Reason: "used", Message: "This activation link was used already."}
}

func (f *fakeMembers) Activate(ctx context.Context, token string, in ActivationInput) (storage.User, error) {
	if _, err := f.InspectActivation(ctx, token); err != nil {
		return storage.User{}, err
	}
	if len(in.Password) < 10 {
		return storage.User{}, &storage.ValidationError{Field: "password", Problem: "must be at least 10 characters"}
	}
	return f.d.addUser("u-nina", "nina@plant.example", in.Password), nil
}

func withMembers(f *fakeMembers) func(*Deps) {
	return func(d *Deps) { d.Members = f }
}

func TestActivationPage(t *testing.T) {
	members := &fakeMembers{}
	s, d := newTestServer(t, withMembers(members))
	members.d = d
	anon := &browser{t: t, s: s}

	got := anon.page("/activate/good")
	if got.status != http.StatusOK || !strings.Contains(got.body, "nina@plant.example") || !strings.Contains(got.body, `name="confirm"`) ||
		got.header.Get("Referrer-Policy") != "no-referrer" {
		t.Fatalf("activation page = %d:\n%s", got.status, got.body)
	}
	got = anon.page("/activate/used")
	if got.status != http.StatusGone || !strings.Contains(got.body, `data-reason="used"`) || !strings.Contains(got.body, "used already") {
		t.Fatalf("used link = %d:\n%s", got.status, got.body)
	}

	got = anon.form("/activate/good", url.Values{"name": {"Nina"}, "password": {"long enough 1"}, "confirm": {"other"}})
	if got.status != http.StatusBadRequest || !strings.Contains(got.body, "does not match") || anon.cookie != "" {
		t.Fatalf("mismatched confirmation = %d", got.status)
	}
	got = anon.form("/activate/good", url.Values{"name": {"Nina"}, "password": {"short"}, "confirm": {"short"}})
	if got.status != http.StatusBadRequest || !strings.Contains(got.body, "at least 10") {
		t.Fatalf("weak password = %d", got.status)
	}
	got = anon.form("/activate/good", url.Values{"name": {"Nina"}, "password": {"long enough 1"}, "confirm": {"long enough 1"}},
		"Origin", "https://evil.example")
	if got.status != http.StatusForbidden {
		t.Fatalf("cross-site activation = %d, want 403", got.status)
	}
	got = anon.form("/activate/good", url.Values{"name": {"Nina"}, "password": {"long enough 1"}, "confirm": {"long enough 1"}})
	if got.status != http.StatusSeeOther || anon.cookie == "" {
		t.Fatalf("activate = %d (cookie %t)", got.status, anon.cookie != "")
	}
	if me := anon.api("GET", APIPrefix+"/me", ""); me.status != http.StatusOK || !strings.Contains(me.body, "nina@plant.example") {
		t.Fatalf("me after activation = %d %s", me.status, me.body)
	}
}

func TestUsersPageInvitesPeople(t *testing.T) {
	members := &fakeMembers{}
	_, d, admin, nobody := loggedIn(t, withMembers(members))
	members.d = d

	page := admin.page("/users")
	if page.status != http.StatusOK || !strings.Contains(page.body, `action="/member-invitations"`) || strings.Contains(page.body, "old@plant.example") {
		t.Fatalf("users page = %d (used invitations are not pending)", page.status)
	}
	got := admin.form("/member-invitations", url.Values{"emails": {"a@plant.example, b@plant.example\nc@plant.example"}, "roles": {"regular"}})
	if got.status != http.StatusSeeOther {
		t.Fatalf("invite = %d %s", got.status, got.body)
	}
	if len(members.invited) != 1 || !slices.Equal(members.invited[0].Emails, []string{"a@plant.example", "b@plant.example", "c@plant.example"}) {
		t.Fatalf("invited %+v", members.invited)
	}
	page = admin.page("/users")
	if !strings.Contains(page.body, `data-invitation="m-b@plant.example"`) || !strings.Contains(page.body, "/member-invitations/m-b@plant.example/revoke") {
		t.Fatalf("pending invitation missing from the users page")
	}
	got = admin.form("/member-invitations", url.Values{"emails": {"a@plant.example bad-address"}})
	if got.status != http.StatusBadRequest || !strings.Contains(got.body, "bad-address") || !strings.Contains(got.body, "bad-address</textarea>") {
		t.Fatalf("bad address = %d: the form must name it and keep what was typed", got.status)
	}
	if got := nobody.api("POST", APIPrefix+"/member-invitations", `{"emails":["x@plant.example"]}`); got.status != http.StatusForbidden ||
		!strings.Contains(got.body, "admin_organisation_members") {
		t.Fatalf("without the permission = %d %s", got.status, got.body)
	}
}
