package org

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"siteline/policy"
	"siteline/storage"
	"siteline/web"
)

// postbox is a Mailer that keeps what it is given: an e-mail it fails
// stays pending with the failure, as the outbox keeps it for a retry.
type postbox struct {
	mu     sync.Mutex
	off    error // MailConfigured's answer
	fail   error // the first attempt's outcome
	sent   []mailed
	queued []storage.MailDelivery // newest last
}

type mailed struct{ to, subject, text, html string }

func (p *postbox) MailConfigured() error { return p.off }

func (p *postbox) QueueMail(_ context.Context, m MemberMail) (storage.MailDelivery, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cancel(m.InvitationID)
	d := storage.MailDelivery{ID: fmt.Sprint(len(p.queued)), OrgID: m.OrgID, Kind: storage.MailMemberInvitation,
		RefID: m.InvitationID, Recipient: m.To, Status: storage.DeliverySent, Attempts: 1}
	if p.fail != nil {
		d.Status, d.LastError = storage.DeliveryPending, p.fail.Error()
	} else {
		p.sent = append(p.sent, mailed{m.To, m.Subject, m.Text, m.HTML})
	}
	p.queued = append(p.queued, d)
	return d, nil
}

func (p *postbox) cancel(invitationID string) {
	for i, d := range p.queued {
		if d.RefID == invitationID && d.Status == storage.DeliveryPending {
			p.queued[i].Status = storage.DeliveryCancelled
		}
	}
}

func (p *postbox) CancelMail(_ context.Context, invitationID string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cancel(invitationID)
	return nil
}

func (p *postbox) Mails(_ context.Context, ids []string) ([]storage.MailDelivery, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []storage.MailDelivery
	for i := len(p.queued) - 1; i >= 0; i-- {
		if slices.Contains(ids, p.queued[i].RefID) {
			out = append(out, p.queued[i])
		}
	}
	return out, nil
}

var activationLink = regexp.MustCompile(`https://node\.example/activate/([A-Za-z0-9_-]{43})`)

// token returns the token of the last mail sent to addr.
func (p *postbox) token(t *testing.T, addr string) string {
	t.Helper()
	p.mu.Lock()
	defer p.mu.Unlock()
	for i := len(p.sent) - 1; i >= 0; i-- {
		if p.sent[i].to == addr {
			m := activationLink.FindStringSubmatch(p.sent[i].text)
			if m == nil {
				t.Fatalf("mail to %s has no activation link: %q", addr, p.sent[i].text)
			}
			if !strings.Contains(p.sent[i].html, m[0]) {
				t.Errorf("the HTML part of the mail to %s lacks the link", addr)
			}
			return m[1]
		}
	}
	t.Fatalf("no mail to %s among %d", addr, len(p.sent))
	return ""
}

func (p *postbox) count() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.sent)
}

// clock is a settable clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

type memberFixture struct {
	*fixture
	m     *Members
	box   *postbox
	clock *clock
}

func newMemberFixture(t *testing.T) *memberFixture {
	f := newFixture(t)
	c := &clock{t: time.Now().UTC()}
	f.svc.d.Now = c.now
	box := &postbox{}
	m, err := NewMembers(f.svc, MemberDeps{Store: f.log.store, Mail: box, URL: func() string { return "https://node.example/" }})
	if err != nil {
		t.Fatal(err)
	}
	return &memberFixture{fixture: f, m: m, box: box, clock: c}
}

func wantDead(t *testing.T, what string, err error, reason string) {
	t.Helper()
	var dl *web.DeadLinkError
	if !errors.As(err, &dl) {
		t.Fatalf("%s: err = %v, want a dead link (%s)", what, err, reason)
	}
	if dl.Reason != reason {
		t.Fatalf("%s: reason %q (%s), want %q", what, dl.Reason, dl.Message, reason)
	}
}

func wantInvalid(t *testing.T, what string, err error, mention string) {
	t.Helper()
	var ve *storage.ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("%s: err = %v, want a validation error", what, err)
	}
	if !strings.Contains(err.Error(), mention) {
		t.Fatalf("%s: %q does not mention %q", what, err, mention)
	}
}

func TestMemberInvitationIsAcceptedOnceWithItsRolesAndTeams(t *testing.T) {
	f := newMemberFixture(t)
	ctx := context.Background()
	team, err := f.svc.CreateTeam(ctx, f.admin, "Maintenance")
	if err != nil {
		t.Fatal(err)
	}
	out, err := f.m.InviteMembers(ctx, f.admin, web.MemberInviteInput{
		Emails: []string{" Ann@Plant.example", "bob@plant.example", "ann@plant.example"},
		Roles:  []string{policy.RoleTeamLead}, Teams: []string{team.ID},
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(out) != 2 || out[0].Email != "ann@plant.example" || out[1].Email != "bob@plant.example" {
		t.Fatalf("invited %+v, want ann and bob once each", out)
	}
	if f.box.count() != 2 {
		t.Fatalf("%d mails sent, want 2", f.box.count())
	}
	stored, err := f.log.store.MemberInvitation(ctx, out[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	token := f.box.token(t, "ann@plant.example")
	if strings.Contains(string(stored.TokenHash), token) || len(stored.TokenHash) != 32 {
		t.Fatalf("stored token hash %x: want the 32-byte SHA-256, never the token", stored.TokenHash)
	}
	if got := stored.ExpiresAt.Sub(stored.CreatedAt); got != DefaultMemberInviteTTL {
		t.Errorf("link valid for %s, want %s", got, DefaultMemberInviteTTL)
	}

	info, err := f.m.InspectActivation(ctx, token)
	if err != nil || info.Email != "ann@plant.example" {
		t.Fatalf("inspect = %+v, %v", info, err)
	}
	u, err := f.m.Activate(ctx, token, web.ActivationInput{Name: "Ann Example", Password: "a long enough secret"})
	if err != nil {
		t.Fatal(err)
	}
	if !u.Active || u.Email != "ann@plant.example" || u.Name != "Ann Example" {
		t.Fatalf("user %+v", u)
	}
	if roles := f.log.authz.Roles(f.orgID, u.ID); !slices.Equal(roles, []string{policy.RoleTeamLead}) {
		t.Errorf("roles %v, want [%s]", roles, policy.RoleTeamLead)
	}
	members, err := f.log.store.TeamMembers(ctx, team.ID)
	if err != nil || len(members) != 1 || members[0].UserID != u.ID {
		t.Errorf("team members %+v, %v: want the new user", members, err)
	}
	if _, err := f.svc.Authenticate(ctx, "ann@plant.example", "a long enough secret"); err != nil {
		t.Errorf("log in as the new member: %v", err)
	}
	if e := f.audits.last(); e.action != "member.activate" || e.actor != u.ID {
		t.Errorf("last audit %+v, want member.activate by the new user", e)
	}

	_, err = f.m.Activate(ctx, token, web.ActivationInput{Name: "Mallory", Password: "another long secret"})
	wantDead(t, "second use", err, "used")
	_, err = f.m.InspectActivation(ctx, token)
	wantDead(t, "inspect after use", err, "used")
	list, err := f.m.MemberInvitations(ctx, f.admin)
	if err != nil {
		t.Fatal(err)
	}
	states := map[string]string{}
	for _, inv := range list {
		states[inv.Email] = inv.State
	}
	if states["ann@plant.example"] != storage.MemberInviteUsed || states["bob@plant.example"] != storage.MemberInvitePending {
		t.Errorf("states %v", states)
	}
	_, err = f.m.InspectActivation(ctx, strings.Repeat("A", 43))
	wantDead(t, "unknown token", err, "unknown")
	_, err = f.m.InspectActivation(ctx, "short")
	wantDead(t, "malformed token", err, "malformed")
}

func TestMemberInvitationExpiresAndAResendRenewsIt(t *testing.T) {
	f := newMemberFixture(t)
	ctx := context.Background()
	out, err := f.m.InviteMembers(ctx, f.admin, web.MemberInviteInput{Emails: []string{"carl@plant.example"}})
	if err != nil {
		t.Fatal(err)
	}
	old := f.box.token(t, "carl@plant.example")
	f.clock.advance(DefaultMemberInviteTTL - time.Second)
	if _, err := f.m.InspectActivation(ctx, old); err != nil {
		t.Fatalf("a second before expiry: %v", err)
	}
	f.clock.advance(time.Second)
	_, err = f.m.InspectActivation(ctx, old)
	wantDead(t, "at expiry", err, "expired")
	_, err = f.m.Activate(ctx, old, web.ActivationInput{Name: "Carl", Password: "a long enough secret"})
	wantDead(t, "activate at expiry", err, "expired")
	if _, err := f.log.store.UserByEmail(ctx, f.orgID, "carl@plant.example"); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("an expired link created a user: %v", err)
	}

	re, err := f.m.ResendMemberInvitation(ctx, f.admin, out[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	if re.State != storage.MemberInvitePending || re.Sends != 2 {
		t.Errorf("resent %+v, want pending, sent twice", re)
	}
	fresh := f.box.token(t, "carl@plant.example")
	_, err = f.m.InspectActivation(ctx, old)
	wantDead(t, "the replaced link", err, "unknown")
	if _, err := f.m.Activate(ctx, fresh, web.ActivationInput{Name: "Carl", Password: "a long enough secret"}); err != nil {
		t.Fatalf("the resent link: %v", err)
	}
	_, err = f.m.ResendMemberInvitation(ctx, f.admin, out[0].ID)
	if !errors.Is(err, storage.ErrConflict) {
		t.Errorf("resend a used invitation: %v, want a conflict", err)
	}
}

func TestRevokedMemberInvitationCannotBeUsed(t *testing.T) {
	f := newMemberFixture(t)
	ctx := context.Background()
	out, err := f.m.InviteMembers(ctx, f.admin, web.MemberInviteInput{Emails: []string{"dora@plant.example"}})
	if err != nil {
		t.Fatal(err)
	}
	token := f.box.token(t, "dora@plant.example")
	if err := f.m.RevokeMemberInvitation(ctx, f.admin, out[0].ID); err != nil {
		t.Fatal(err)
	}
	_, err = f.m.Activate(ctx, token, web.ActivationInput{Name: "Dora", Password: "a long enough secret"})
	wantDead(t, "activate revoked", err, "revoked")
	if err := f.m.RevokeMemberInvitation(ctx, f.admin, out[0].ID); !errors.Is(err, storage.ErrConflict) {
		t.Errorf("revoke twice: %v, want a conflict", err)
	}
	_, err = f.m.ResendMemberInvitation(ctx, f.admin, out[0].ID)
	if !errors.Is(err, storage.ErrConflict) {
		t.Errorf("resend revoked: %v, want a conflict", err)
	}
	// Revoked, the address may be invited anew.
	if _, err := f.m.InviteMembers(ctx, f.admin, web.MemberInviteInput{Emails: []string{"dora@plant.example"}}); err != nil {
		t.Errorf("invite again after a revocation: %v", err)
	}
	// Another organisation's administrator sees nothing of it.
	other := web.Actor{UserID: f.addOrg("org2", "root@other.example"), OrgID: "org2"}
	if err := f.m.RevokeMemberInvitation(ctx, other, out[0].ID); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("revoke from another organisation: %v, want not found", err)
	}
}

func TestMemberInvitationRefusesBadInputWhole(t *testing.T) {
	f := newMemberFixture(t)
	ctx := context.Background()
	f.user(f.admin, "eve@plant.example")
	if _, err := f.m.InviteMembers(ctx, f.admin, web.MemberInviteInput{Emails: []string{"pending@plant.example"}}); err != nil {
		t.Fatal(err)
	}
	sentBefore, auditsBefore := f.box.count(), f.audits.count()
	many := make([]string, MaxMemberInvites+1)
	for i := range many {
		many[i] = strings.Repeat("x", i+1) + "@plant.example"
	}
	for _, c := range []struct {
		name    string
		in      web.MemberInviteInput
		mention string
	}{
		{"malformed", web.MemberInviteInput{Emails: []string{"ok@plant.example", "not an address"}}, `"not an address"`},
		{"member", web.MemberInviteInput{Emails: []string{"ok@plant.example", "EVE@plant.example"}}, "eve@plant.example is already a member"},
		{"pending", web.MemberInviteInput{Emails: []string{"ok@plant.example", "pending@plant.example"}}, "pending@plant.example is invited already"},
		{"empty", web.MemberInviteInput{Emails: []string{" ", ""}}, "is empty"},
		{"too many", web.MemberInviteInput{Emails: many}, "at most 50"},
		{"unknown role", web.MemberInviteInput{Emails: []string{"ok@plant.example"}, Roles: []string{"wizard"}}, `"wizard" is not a role`},
		{"unknown team", web.MemberInviteInput{Emails: []string{"ok@plant.example"}, Teams: []string{"nope"}}, `"nope" is not a team`},
	} {
		_, err := f.m.InviteMembers(ctx, f.admin, c.in)
		wantInvalid(t, c.name, err, c.mention)
	}
	list, err := f.m.MemberInvitations(ctx, f.admin)
	if err != nil || len(list) != 1 {
		t.Fatalf("invitations %+v, %v: want the one pending only", list, err)
	}
	if f.box.count() != sentBefore || f.audits.count() != auditsBefore {
		t.Errorf("refused invitations sent %d mails, wrote %d audit entries", f.box.count()-sentBefore, f.audits.count()-auditsBefore)
	}

	f.box.off = errors.New("e-mail is not configured on this node (set mail.smtp_host)")
	_, err = f.m.InviteMembers(ctx, f.admin, web.MemberInviteInput{Emails: []string{"ok@plant.example"}})
	if err == nil || !strings.Contains(err.Error(), "mail.smtp_host") {
		t.Errorf("invite without e-mail: %v", err)
	}
	f.box.off = nil

	regular := f.user(f.admin, "reg@plant.example", policy.RoleRegular)
	_, err = f.m.InviteMembers(ctx, as(regular), web.MemberInviteInput{Emails: []string{"ok@plant.example"}, Roles: []string{policy.RoleAdministrator}})
	var fe *storage.ForbiddenError
	if !errors.As(err, &fe) {
		t.Errorf("a regular user gives the administrator role: %v, want forbidden", err)
	}
}

func TestActivationRefusesWeakPasswordAndKeepsTheLink(t *testing.T) {
	f := newMemberFixture(t)
	ctx := context.Background()
	if _, err := f.m.InviteMembers(ctx, f.admin, web.MemberInviteInput{Emails: []string{"fay@plant.example"}}); err != nil {
		t.Fatal(err)
	}
	token := f.box.token(t, "fay@plant.example")
	_, err := f.m.Activate(ctx, token, web.ActivationInput{Name: "Fay", Password: "short"})
	wantInvalid(t, "weak password", err, "password")
	_, err = f.m.Activate(ctx, token, web.ActivationInput{Name: " ", Password: "a long enough secret"})
	wantInvalid(t, "no name", err, "name")
	if _, err := f.m.Activate(ctx, token, web.ActivationInput{Name: "Fay", Password: "a long enough secret"}); err != nil {
		t.Fatalf("after refused attempts the link still works: %v", err)
	}
}

// Two uses of one link that both pass the checks before proposing: the
// replicated log applies one, and refuses the other in its apply.
func TestConcurrentActivationsOfOneLinkCreateOneUser(t *testing.T) {
	f := newMemberFixture(t)
	ctx := context.Background()
	if _, err := f.m.InviteMembers(ctx, f.admin, web.MemberInviteInput{Emails: []string{"gus@plant.example"}}); err != nil {
		t.Fatal(err)
	}
	token := f.box.token(t, "gus@plant.example")
	var firstErr error
	f.log.before = func() {
		_, firstErr = f.m.Activate(ctx, token, web.ActivationInput{Name: "Gus One", Password: "a long enough secret"})
	}
	_, err := f.m.Activate(ctx, token, web.ActivationInput{Name: "Gus Two", Password: "another long secret"})
	if firstErr != nil {
		t.Fatalf("the activation applied first: %v", firstErr)
	}
	wantDead(t, "the activation applied second", err, "used")
	users, err := f.log.store.Users(ctx, f.orgID)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, u := range users {
		if u.Email == "gus@plant.example" {
			names = append(names, u.Name)
		}
	}
	if !slices.Equal(names, []string{"Gus One"}) {
		t.Errorf("users of the link: %v, want [Gus One]", names)
	}
}

// A failed first attempt leaves the invitation pending and its e-mail in
// the outbox, shown as pending with the failure; a resend replaces it; a
// revocation cancels the e-mail still pending.
func TestMemberInvitationMailFailureKeepsTheInvitation(t *testing.T) {
	f := newMemberFixture(t)
	ctx := context.Background()
	f.box.fail = errors.New("smtp: 451 mailbox busy")
	out, err := f.m.InviteMembers(ctx, f.admin, web.MemberInviteInput{Emails: []string{"hal@plant.example", "ida@plant.example"}})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out[0].MailError, "mailbox busy") || out[0].Mail != storage.DeliveryPending || out[0].State != storage.MemberInvitePending {
		t.Fatalf("out %+v: want pending with the mail pending and its error", out[0])
	}
	list, err := f.m.MemberInvitations(ctx, f.admin)
	if err != nil || len(list) != 2 || list[0].Mail != storage.DeliveryPending || !strings.Contains(list[0].MailError, "mailbox busy") {
		t.Fatalf("list = %+v, %v; want both with their e-mail pending and the error", list, err)
	}
	f.box.fail = nil
	if _, err := f.m.ResendMemberInvitation(ctx, f.admin, out[0].ID); err != nil {
		t.Fatal(err)
	}
	if _, err := f.m.InspectActivation(ctx, f.box.token(t, "hal@plant.example")); err != nil {
		t.Errorf("the resent link: %v", err)
	}
	if err := f.m.RevokeMemberInvitation(ctx, f.admin, out[1].ID); err != nil {
		t.Fatal(err)
	}
	mails, _ := f.box.Mails(ctx, []string{out[0].ID, out[1].ID})
	state := map[string][]string{}
	for _, m := range mails {
		state[m.RefID] = append(state[m.RefID], m.Status)
	}
	if want := []string{storage.DeliverySent, storage.DeliveryCancelled}; !slices.Equal(state[out[0].ID], want) {
		t.Errorf("hal's e-mails, newest first: %v, want %v (the resend replaced the pending one)", state[out[0].ID], want)
	}
	if want := []string{storage.DeliveryCancelled}; !slices.Equal(state[out[1].ID], want) {
		t.Errorf("ida's e-mails after the revocation: %v, want %v", state[out[1].ID], want)
	}
	list, _ = f.m.MemberInvitations(ctx, f.admin)
	for _, inv := range list {
		if inv.ID == out[0].ID && (inv.Mail != storage.DeliverySent || inv.MailError != "") {
			t.Errorf("hal's invitation after the resend: %+v, want its e-mail sent", inv)
		}
	}
}
