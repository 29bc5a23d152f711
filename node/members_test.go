package node

import (
	"context"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"siteline/node/invites"
	"siteline/policy"
	"siteline/storage"
	"siteline/web"
)

var activationLinkRe = regexp.MustCompile(`https?://\S+/activate/([A-Za-z0-9_-]{43})`)

// startMailNode starts a node that sends its e-mail to a local SMTP
// server, and returns it with that server's mailbox.
func startMailNode(t *testing.T) (*testNode, *mailbox) {
	t.Helper()
	box := &mailbox{}
	host, port := startSMTP(t, box)
	cfg := testConfig(t, shortTempDir(t))
	cfg.Mail = MailConfig{SMTPHost: host, SMTPPort: port, From: "siteline@plant.example", TLS: "off"}
	return startNode(t, cfg), box
}

// activationToken returns the token of the last mail to addr in box.
func activationToken(t *testing.T, box *mailbox, addr string) string {
	t.Helper()
	msgs := box.messages()
	for i := len(msgs) - 1; i >= 0; i-- {
		if slices.Contains(msgs[i].to, addr) {
			subject, text, html := plainBody(t, msgs[i].data)
			m := activationLinkRe.FindStringSubmatch(text)
			if m == nil || !strings.Contains(html, m[0]) || !strings.Contains(subject, "Siteline") {
				t.Fatalf("mail to %s (%q) lacks the activation link in both parts:\n%s", addr, subject, text)
			}
			return m[1]
		}
	}
	t.Fatalf("no mail to %s among %d", addr, len(msgs))
	return ""
}

func activationForm(name, password string) url.Values {
	return url.Values{"name": {name}, "password": {password}, "confirm": {password}}
}

// An administrator invites by the API; the e-mail reaches a real SMTP
// server; its link opens the activation page, sets the password and logs
// the new member in with the roles and team chosen.
func TestMemberInvitationByEmailActivatesTheAccount(t *testing.T) {
	tn, box := startMailNode(t)
	admin := tn.admin()
	var team storage.Team
	if st := admin.do("POST", "/api/v1/teams", map[string]string{"name": "Maintenance"}, &team); st != 201 {
		t.Fatalf("create team = %d", st)
	}

	// Bad input: 400 naming the problem, nothing invited, nothing sent.
	for _, c := range []struct {
		emails  []string
		mention string
	}{
		{[]string{"nina@plant.example", "nina(at)plant"}, "nina(at)plant"},
		{[]string{"nina@plant.example", tn.cfg.Organisation.AdminEmail}, "already a member"},
		{nil, "is empty"},
	} {
		st, data := admin.raw("POST", "/api/v1/member-invitations", "application/json",
			strings.NewReader(`{"emails":`+jsonList(c.emails)+`}`))
		if e := apiError(t, data); st != 400 || !strings.Contains(e.Error, c.mention) {
			t.Errorf("invite %v = %d %q, want 400 naming %q", c.emails, st, e.Error, c.mention)
		}
	}
	var list []web.MemberInvitationOut
	if st := admin.do("GET", "/api/v1/member-invitations", nil, &list); st != 200 || len(list) != 0 || len(box.messages()) != 0 {
		t.Fatalf("after refusals: %d %+v, %d mails", st, list, len(box.messages()))
	}
	// Without the permission: 403 naming it.
	if st := admin.do("POST", "/api/v1/users", web.UserInput{Email: "reg@plant.example", Name: "Reg",
		Password: "reg's password 12", Roles: []string{policy.RoleRegular}}, nil); st != 201 {
		t.Fatalf("create regular user = %d", st)
	}
	st, data := tn.login("reg@plant.example", "reg's password 12").raw("POST", "/api/v1/member-invitations",
		"application/json", strings.NewReader(`{"emails":["x@plant.example"]}`))
	if e := apiError(t, data); st != 403 || e.Permission != policy.AdminMembers {
		t.Fatalf("a regular user invites = %d %+v, want 403 naming %s", st, e, policy.AdminMembers)
	}

	var out []web.MemberInvitationOut
	if st := admin.do("POST", "/api/v1/member-invitations", web.MemberInviteInput{
		Emails: []string{"Nina@Plant.example"}, Roles: []string{policy.RoleTeamLead}, Teams: []string{team.ID},
	}, &out); st != 201 || len(out) != 1 || out[0].State != storage.MemberInvitePending || out[0].MailError != "" {
		t.Fatalf("invite = %d %+v", st, out)
	}
	token := activationToken(t, box, "nina@plant.example")

	// The pending list shows it on the users page.
	pg := &page{browser: tn.admin()}
	if st, body := pg.get("/users"); st != 200 || !strings.Contains(body, `data-invitation="`+out[0].ID+`"`) {
		t.Fatalf("users page = %d, pending invitation missing", st)
	}

	nina := &page{browser: tn.anon()}
	if st, body := nina.get("/activate/" + token); st != 200 || !strings.Contains(body, "nina@plant.example") || !strings.Contains(body, `name="password"`) {
		t.Fatalf("activation page = %d:\n%s", st, body)
	}
	if st, body, _ := nina.post("/activate/"+token, url.Values{"name": {"Nina"}, "password": {"nina's password 1"}, "confirm": {"something else"}}, false); st != 400 || !strings.Contains(body, "does not match") {
		t.Fatalf("mismatched confirmation = %d", st)
	}
	st, _, loc := nina.post("/activate/"+token, activationForm("Nina Lead", "nina's password 1"), false)
	// Home: the start page, or the account page for a role without one.
	if st != 303 || loc != "/" && loc != "/account" || nina.cookie == "" {
		t.Fatalf("activate = %d to %q (cookie %t)", st, loc, nina.cookie != "")
	}
	var me struct {
		User  storage.User `json:"user"`
		Roles []string     `json:"roles"`
	}
	if st := nina.browser.do("GET", "/api/v1/me", nil, &me); st != 200 || me.User.Name != "Nina Lead" || !slices.Equal(me.Roles, []string{policy.RoleTeamLead}) {
		t.Fatalf("me after activation = %d %+v", st, me)
	}
	var teamOut struct {
		Members []storage.TeamMembership `json:"members"`
	}
	if st := admin.do("GET", "/api/v1/teams/"+team.ID, nil, &teamOut); st != 200 || len(teamOut.Members) != 1 || teamOut.Members[0].UserID != me.User.ID {
		t.Fatalf("team = %d %+v", st, teamOut)
	}
	tn.login("nina@plant.example", "nina's password 1")

	// Used: a clear page, not an error.
	again := &page{browser: tn.anon()}
	if st, body := again.get("/activate/" + token); st != 410 || !strings.Contains(body, `data-reason="used"`) {
		t.Fatalf("used link = %d:\n%s", st, body)
	}

	// Revoked: the same.
	if st := admin.do("POST", "/api/v1/member-invitations", web.MemberInviteInput{Emails: []string{"omar@plant.example"}}, &out); st != 201 {
		t.Fatalf("invite omar = %d", st)
	}
	omar := activationToken(t, box, "omar@plant.example")
	if st := admin.do("DELETE", "/api/v1/member-invitations/"+out[0].ID, nil, nil); st != 204 {
		t.Fatalf("revoke = %d", st)
	}
	if st, body := again.get("/activate/" + omar); st != 410 || !strings.Contains(body, `data-reason="revoked"`) {
		t.Fatalf("revoked link = %d", st)
	}
	if st, body, _ := again.post("/activate/"+omar, activationForm("Omar", "omar's password 1"), false); st != 410 || !strings.Contains(body, `data-reason="revoked"`) {
		t.Fatalf("activate a revoked link = %d", st)
	}
}

func jsonList(s []string) string {
	if len(s) == 0 {
		return "[]"
	}
	return `["` + strings.Join(s, `","`) + `"]`
}

// Two browsers post the same link at once: one account is made, the other
// gets the "used" page.
func TestConcurrentActivationsOfOneLink(t *testing.T) {
	tn, box := startMailNode(t)
	if st := tn.admin().do("POST", "/api/v1/member-invitations", web.MemberInviteInput{Emails: []string{"pat@plant.example"}}, nil); st != 201 {
		t.Fatalf("invite = %d", st)
	}
	token := activationToken(t, box, "pat@plant.example")
	statuses := make([]int, 2)
	var wg sync.WaitGroup
	for i := range statuses {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p := &page{browser: tn.anon()}
			statuses[i], _, _ = p.post("/activate/"+token, activationForm("Pat", "pat's password 12"), false)
		}()
	}
	wg.Wait()
	slices.Sort(statuses)
	if !slices.Equal(statuses, []int{303, 410}) {
		t.Fatalf("statuses %v, want one 303 (activated) and one 410 (used)", statuses)
	}
	users, err := tn.n.store.Users(t.Context(), tn.n.OrgID())
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, u := range users {
		if u.Email == "pat@plant.example" {
			n++
		}
	}
	if n != 1 {
		t.Fatalf("%d users for the link, want 1", n)
	}
}

// A user logged in at a plant (a browser session and an API token) is
// deactivated at headquarters: the plant refuses both. Reactivated, the
// user logs in again there.
func TestDeactivationEndsAccessAtEveryNode(t *testing.T) {
	nodes := startFederation(t, 1, 1, nil)
	hq, plant := nodes[0], nodes[1]
	admin := hq.admin()
	var u storage.User
	if st := admin.do("POST", "/api/v1/users", web.UserInput{Email: "quinn@plant.example", Name: "Quinn",
		Password: "quinn's password 1", Roles: []string{policy.RoleRegular}}, &u); st != 201 {
		t.Fatalf("create user = %d", st)
	}
	eventually(t, 10*time.Second, "the user reaches the plant", func() bool {
		return plant.tryLogin("quinn@plant.example", "quinn's password 1")
	})
	cookie := plant.login("quinn@plant.example", "quinn's password 1")
	var tok struct {
		Secret string `json:"secret"`
	}
	if st := cookie.do("POST", "/api/v1/tokens", map[string]string{"name": "cli"}, &tok); st != 201 || tok.Secret == "" {
		t.Fatalf("create token at the plant = %d", st)
	}
	bearer := &browser{t: t, base: plant.url, token: tok.Secret}
	if cookie.do("GET", "/api/v1/me", nil, nil) != 200 || bearer.do("GET", "/api/v1/me", nil, nil) != 200 {
		t.Fatal("the user cannot use the plant before deactivation")
	}

	off, on := false, true
	if st := admin.do("PATCH", "/api/v1/users/"+u.ID, web.UserPatch{Active: &off}, nil); st != 200 {
		t.Fatalf("deactivate at headquarters = %d", st)
	}
	eventually(t, 10*time.Second, "the plant refuses the session and the token", func() bool {
		return cookie.do("GET", "/api/v1/me", nil, nil) == 401 && bearer.do("GET", "/api/v1/me", nil, nil) == 401
	})
	if plant.anon().do("POST", "/api/v1/session", map[string]string{"email": "quinn@plant.example", "password": "quinn's password 1"}, nil) != 401 {
		t.Error("a deactivated user logs in at the plant")
	}

	if st := admin.do("PATCH", "/api/v1/users/"+u.ID, web.UserPatch{Active: &on}, nil); st != 200 {
		t.Fatalf("reactivate at headquarters = %d", st)
	}
	eventually(t, 10*time.Second, "the user logs in at the plant again", func() bool {
		if v, err := plant.n.store.User(t.Context(), u.ID); err != nil || !v.Active {
			return false
		}
		return plant.tryLogin("quinn@plant.example", "quinn's password 1")
	})
	if bearer.do("GET", "/api/v1/me", nil, nil) != 401 {
		t.Error("the API token of the deactivation works again: it was revoked")
	}
}

// An activation e-mail the SMTP server refuses at first is kept in the
// outbox (across a restart: it was on disk before the administrator was
// answered) and sent by a retry; the pending list shows it retrying, then
// sent, and the link it carries works.
func TestMemberInvitationMailIsRetriedUntilSent(t *testing.T) {
	box := &mailbox{failures: 1}
	host, port := startSMTP(t, box)
	cfg := testConfig(t, shortTempDir(t))
	cfg.Mail = MailConfig{SMTPHost: host, SMTPPort: port, From: "siteline@plant.example", TLS: "off"}
	clk := newClock()
	tn := startNodeWith(t, cfg, Options{Now: clk.Now})
	admin := tn.admin()
	var out []web.MemberInvitationOut
	if st := admin.do("POST", "/api/v1/member-invitations", web.MemberInviteInput{Emails: []string{"nina@plant.example"}}, &out); st != 201 ||
		len(out) != 1 || out[0].Mail != storage.DeliveryPending || !strings.Contains(out[0].MailError, "busy") {
		t.Fatalf("invite = %d %+v, want the e-mail pending with the server's refusal", st, out)
	}
	pg := &page{browser: admin}
	if st, body := pg.get("/users"); st != 200 || !strings.Contains(body, "E-mail retrying") || !strings.Contains(body, "mailbox busy") {
		t.Fatalf("users page = %d, want the e-mail shown retrying with the server's words", st)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := tn.n.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	tn = startNodeAsIs(t, cfg, Options{Now: clk.Now})
	tn.password = adminPassword
	admin = tn.admin()
	if n := len(box.messages()); n != 0 {
		t.Fatalf("%d mails before the retry is due", n)
	}
	clk.Add(invites.FirstRetry)
	tn.n.invites.Kick()
	eventually(t, 10*time.Second, "the retried e-mail to arrive", func() bool { return len(box.messages()) == 1 })
	token := activationToken(t, box, "nina@plant.example")
	// The outbox marks the e-mail sent once the server has taken it: a
	// moment after it arrives.
	var list []web.MemberInvitationOut
	eventually(t, 10*time.Second, "the e-mail shown sent", func() bool {
		return admin.do("GET", "/api/v1/member-invitations", nil, &list) == 200 && len(list) == 1 && list[0].Mail == storage.DeliverySent
	})
	if list[0].MailError != "" || len(box.messages()) != 1 {
		t.Fatalf("invitations after the retry = %+v, %d mails; want the e-mail sent once", list, len(box.messages()))
	}
	nina := &page{browser: tn.anon()}
	if st, _, _ := nina.post("/activate/"+token, activationForm("Nina", "nina's password 1"), false); st != 303 {
		t.Fatalf("activate with the retried link = %d", st)
	}
	// Nothing is sent twice.
	clk.Add(time.Hour)
	tn.n.invites.RetryDue(context.Background())
	if n := len(box.messages()); n != 1 {
		t.Fatalf("%d mails after a later pass, want 1", n)
	}
}
