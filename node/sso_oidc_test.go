package node

import (
	"context"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/zitadel/oidc/v3/example/server/exampleop"
	opstorage "github.com/zitadel/oidc/v3/example/server/storage"
	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
	"golang.org/x/text/language"

	"siteline/policy"
	"siteline/storage"
	"siteline/web"
)

// testOP is a real OpenID provider (zitadel/oidc's op package with its
// example storage and login form) served on loopback, whose users carry
// groups in the userinfo and whose ID tokens live as long as asked.
type testOP struct {
	*opstorage.Storage
	issuer   string
	stop     func() // closes the provider's listener
	mu       sync.Mutex
	groups   map[string][]string // by user id
	lifetime atomic.Int64        // of ID tokens, nanoseconds
}

// opUsers is the provider's user store.
type opUsers map[string]*opstorage.User

func (u opUsers) GetUserByID(id string) *opstorage.User { return u[id] }
func (u opUsers) GetUserByUsername(name string) *opstorage.User {
	for _, x := range u {
		if x.Username == name {
			return x
		}
	}
	return nil
}
func (u opUsers) ExampleClientID() string { return "service" }

const opPassword = "correct horse battery"

// startOP starts the provider with Ada (u1) and the extra users.
func startOP(t *testing.T, redirectURI string, extra ...*opstorage.User) *testOP {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	issuer := "http://" + ln.Addr().String()
	users := opUsers{"u1": {ID: "u1", Username: "ada", Password: opPassword, FirstName: "Ada", LastName: "Lovelace",
		Email: "ada@plant.example", EmailVerified: true, PreferredLanguage: language.English}}
	for _, u := range extra {
		users[u.ID] = u
	}
	clients := map[string]*opstorage.Client{"siteline": opstorage.WebClient("siteline", "client secret", redirectURI)}
	o := &testOP{Storage: opstorage.NewStorageWithClients(users, clients), issuer: issuer, groups: map[string][]string{}}
	o.lifetime.Store(int64(time.Hour))
	srv := &http.Server{Handler: exampleop.SetupServer(issuer, o, nil, false), ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	o.stop = func() { srv.Close() }
	t.Cleanup(o.stop)
	return o
}

func (o *testOP) setGroups(userID string, groups ...string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.groups[userID] = groups
}

// SetUserinfoFromToken adds the user's groups to what the userinfo
// endpoint answers.
func (o *testOP) SetUserinfoFromToken(ctx context.Context, info *oidc.UserInfo, tokenID, subject, origin string) error {
	if err := o.Storage.SetUserinfoFromToken(ctx, info, tokenID, subject, origin); err != nil {
		return err
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	info.AppendClaims("groups", o.groups[info.Subject])
	return nil
}

func (o *testOP) GetClientByClientID(ctx context.Context, id string) (op.Client, error) {
	c, err := o.Storage.GetClientByClientID(ctx, id)
	if err != nil {
		return nil, err
	}
	return lifetimeClient{c, time.Duration(o.lifetime.Load())}, nil
}

type lifetimeClient struct {
	op.Client
	lifetime time.Duration
}

func (c lifetimeClient) IDTokenLifetime() time.Duration { return c.lifetime }

// login signs in at the provider's form, following its redirects until the
// one back to Siteline, which it returns.
func (o *testOP) login(t *testing.T, authURL, username, password string) *url.URL {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, Timeout: 10 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	next := func(resp *http.Response, err error) *url.URL {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		loc, err := resp.Location()
		if err != nil {
			t.Fatalf("%s %s: status %d, no redirect", resp.Request.Method, resp.Request.URL, resp.StatusCode)
		}
		return loc
	}
	loginPage := next(c.Get(authURL))
	id := loginPage.Query().Get("authRequestID")
	if id == "" {
		t.Fatalf("the provider sent the browser to %s, not its login form", loginPage)
	}
	callback := next(c.PostForm(o.issuer+"/login/username", url.Values{"username": {username}, "password": {password}, "id": {id}}))
	return next(c.Get(callback.String()))
}

// ssoAttempt is one login through single sign-on as a browser makes it.
type ssoAttempt struct {
	t    *testing.T
	tn   *testNode
	flow string
	auth *url.URL
}

func startSSOLogin(t *testing.T, tn *testNode) *ssoAttempt {
	t.Helper()
	req, _ := http.NewRequest("GET", tn.url+"/sso/"+tn.n.OrgID()+"/login", nil)
	resp, err := noRedirect.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("start SSO: status %d", resp.StatusCode)
	}
	a := &ssoAttempt{t: t, tn: tn}
	a.auth, _ = resp.Location()
	for _, c := range resp.Cookies() {
		if c.Name == "__Host-siteline-sso" {
			a.flow = c.Value
			if !c.Secure || !c.HttpOnly {
				t.Errorf("flow cookie %+v is not Secure and HttpOnly", c)
			}
		}
	}
	if a.flow == "" {
		t.Fatal("start SSO set no flow cookie")
	}
	return a
}

// post brings the provider's SAML response back to the node's ACS with
// the flow cookie (none when the attempt has no flow); it answers as
// finish does.
func (a *ssoAttempt) post(response, relayState string) (int, *browser, string) {
	a.t.Helper()
	b := a.tn.anon()
	if a.flow != "" {
		b.header = http.Header{"Cookie": {"__Host-siteline-sso=" + a.flow}}
	}
	form := url.Values{"SAMLResponse": {response}, "RelayState": {relayState}}
	status, body := b.raw("POST", "/sso/"+a.tn.n.OrgID()+"/saml/acs", "application/x-www-form-urlencoded", strings.NewReader(form.Encode()))
	if b.cookie == "" {
		return status, nil, string(body)
	}
	b.header = nil
	return status, b, string(body)
}

// finish brings the provider's redirect back to the node with the flow
// cookie; it returns the status, the session (a browser holding it, nil
// when none was started) and the page's body.
func (a *ssoAttempt) finish(callback *url.URL) (int, *browser, string) {
	a.t.Helper()
	b := a.tn.anon()
	b.header = http.Header{"Cookie": {"__Host-siteline-sso=" + a.flow}}
	path := strings.TrimPrefix(callback.String(), a.tn.url)
	status, body := b.raw("GET", path, "", nil)
	if b.cookie == "" {
		return status, nil, string(body)
	}
	b.header = nil
	return status, b, string(body)
}

func TestSSOOIDCLogin(t *testing.T) {
	var offset atomic.Int64
	cfg := testConfig(t, shortTempDir(t))
	tn := startNodeWith(t, cfg, Options{Now: func() time.Time { return time.Now().Add(time.Duration(offset.Load())) }})
	orgID := tn.n.OrgID()
	o := startOP(t, tn.url+"/sso/"+orgID+"/oidc/callback")
	admin := tn.admin()

	var team storage.Team
	if st := admin.do("POST", "/api/v1/teams", map[string]string{"name": "Line 1"}, &team); st != 201 && st != 200 {
		t.Fatalf("create team: %d", st)
	}
	var group storage.LabelGroup
	if st := admin.do("POST", "/api/v1/label-groups", map[string]string{"name": "Lines", "color": "#0f766e"}, &group); st != 201 {
		t.Fatalf("create label group: %d", st)
	}
	var label storage.Label
	if st := admin.do("POST", "/api/v1/labels", map[string]string{"group_id": group.ID, "name": "Line 1"}, &label); st != 201 {
		t.Fatalf("create label: %d", st)
	}
	in := web.SSOInput{Company: "Acme Plants", OIDCIssuer: o.issuer, OIDCClientID: "siteline", OIDCClientSecret: "client secret",
		Mapping: []storage.SSOMapping{
			{Group: "plant-admins", Roles: []string{policy.RoleAdministrator}},
			{Group: "line-1", Teams: []string{team.ID}, Labels: []string{label.ID}},
		}}
	var out struct {
		OIDCIssuer      string `json:"oidc_issuer"`
		OIDCRedirectURL string `json:"oidc_redirect_url"`
	}
	if st := admin.do("PUT", "/api/v1/organisation/sso", in, &out); st != 200 {
		var e map[string]any
		admin.do("PUT", "/api/v1/organisation/sso", in, &e)
		t.Fatalf("save SSO settings: status %d %v", st, e)
	}
	if out.OIDCIssuer != o.issuer {
		t.Fatalf("saved issuer %q, want %q", out.OIDCIssuer, o.issuer)
	}

	// The login page offers the company's button.
	if st, page := tn.anon().raw("GET", "/login", "", nil); st != 200 || !strings.Contains(string(page), "Sign in with Acme Plants") {
		t.Fatalf("login page (status %d) offers no \"Sign in with Acme Plants\"", st)
	}

	login := func() (int, *browser, string) {
		a := startSSOLogin(t, tn)
		q := a.auth.Query()
		if q.Get("code_challenge_method") != "S256" || q.Get("code_challenge") == "" || q.Get("state") == "" || q.Get("nonce") == "" {
			t.Fatalf("authorization request %s lacks PKCE, state or nonce", a.auth)
		}
		return a.finish(o.login(t, a.auth.String(), "ada", opPassword))
	}
	me := func(b *browser) (roles []string, userID string) {
		var m struct {
			User  storage.User `json:"user"`
			Roles []string     `json:"roles"`
		}
		if st := b.do("GET", "/api/v1/me", nil, &m); st != 200 {
			t.Fatalf("me: status %d", st)
		}
		return m.Roles, m.User.ID
	}
	teamsOf := func(userID string) []string {
		var u struct {
			Teams []storage.TeamMembership `json:"teams"`
		}
		if st := admin.do("GET", "/api/v1/users/"+userID, nil, &u); st != 200 {
			t.Fatalf("user %s: status %d", userID, st)
		}
		var ids []string
		for _, m := range u.Teams {
			ids = append(ids, m.TeamID)
		}
		return ids
	}
	labelsOf := func(userID string) []string {
		all, err := tn.n.store.UserLabels(context.Background(), orgID)
		if err != nil {
			t.Fatal(err)
		}
		return all[userID]
	}

	t.Run("first login creates the user with the mapped roles, teams and labels", func(t *testing.T) {
		o.setGroups("u1", "plant-admins", "line-1")
		st, b, body := login()
		if st != http.StatusSeeOther || b == nil {
			t.Fatalf("login: status %d, session %v: %s", st, b != nil, body)
		}
		roles, id := me(b)
		if !slices.Contains(roles, policy.RoleAdministrator) || !slices.Contains(roles, policy.RoleRegular) {
			t.Fatalf("roles %v, want administrator and regular", roles)
		}
		if got := teamsOf(id); !slices.Equal(got, []string{team.ID}) {
			t.Fatalf("teams %v, want [%s]", got, team.ID)
		}
		if got := labelsOf(id); !slices.Equal(got, []string{label.ID}) {
			t.Fatalf("labels %v, want [%s]", got, label.ID)
		}
		var u storage.User
		admin.do("GET", "/api/v1/users/"+id, nil, &u)
		if u.Email != "ada@plant.example" || u.Name != "Ada Lovelace" {
			t.Fatalf("user %q <%s>, want Ada Lovelace <ada@plant.example>", u.Name, u.Email)
		}
	})

	t.Run("a later login updates roles, teams and labels", func(t *testing.T) {
		o.setGroups("u1")
		st, b, body := login()
		if st != http.StatusSeeOther || b == nil {
			t.Fatalf("login: status %d: %s", st, body)
		}
		roles, id := me(b)
		if slices.Contains(roles, policy.RoleAdministrator) || !slices.Contains(roles, policy.RoleRegular) {
			t.Fatalf("roles %v, want regular only", roles)
		}
		if got := teamsOf(id); len(got) != 0 {
			t.Fatalf("teams %v, want none", got)
		}
		if got := labelsOf(id); len(got) != 0 {
			t.Fatalf("labels %v, want none", got)
		}
	})

	refused := func(t *testing.T, st int, b *browser, body, want string) {
		t.Helper()
		if b != nil {
			t.Fatalf("refused login started a session (status %d)", st)
		}
		t.Logf("refused: %.300s", pageError(body))
		if st != http.StatusUnauthorized || !strings.Contains(strings.ToLower(body), strings.ToLower(want)) {
			t.Fatalf("status %d, body lacks %q:\n%s", st, want, pageError(body))
		}
	}

	t.Run("wrong state", func(t *testing.T) {
		a := startSSOLogin(t, tn)
		cb := o.login(t, a.auth.String(), "ada", opPassword)
		q := cb.Query()
		q.Set("state", "forged-state")
		cb.RawQuery = q.Encode()
		st, b, body := a.finish(cb)
		refused(t, st, b, body, "state")
	})

	t.Run("wrong nonce", func(t *testing.T) {
		a := startSSOLogin(t, tn)
		q := a.auth.Query()
		q.Set("nonce", "another-nonce")
		a.auth.RawQuery = q.Encode()
		st, b, body := a.finish(o.login(t, a.auth.String(), "ada", opPassword))
		refused(t, st, b, body, "nonce")
	})

	t.Run("expired token", func(t *testing.T) {
		o.lifetime.Store(int64(30 * time.Second))
		defer o.lifetime.Store(int64(time.Hour))
		a := startSSOLogin(t, tn)
		cb := o.login(t, a.auth.String(), "ada", opPassword)
		offset.Store(int64(2 * time.Minute))
		defer offset.Store(0)
		st, b, body := a.finish(cb)
		refused(t, st, b, body, "expired")
	})

	t.Run("wrong issuer", func(t *testing.T) {
		local := web.Actor{Local: true, OrgID: orgID}
		good, err := tn.n.admin.SSOSettings(context.Background(), local)
		if err != nil {
			t.Fatal(err)
		}
		bad := good
		cfg := *good.OIDC
		cfg.Issuer = o.issuer + "/another"
		bad.OIDC = &cfg
		if _, err := tn.n.admin.PutSSOSettings(context.Background(), local, bad); err != nil {
			t.Fatal(err)
		}
		defer tn.n.admin.PutSSOSettings(context.Background(), local, good)
		st, b, body := login()
		refused(t, st, b, body, "issued by a different provider")
	})

	t.Run("logging out continues at the provider's end session endpoint", func(t *testing.T) {
		st, b, body := login()
		if st != http.StatusSeeOther || b == nil {
			t.Fatalf("login: status %d: %s", st, pageError(body))
		}
		var m struct {
			CSRFToken string `json:"csrf_token"`
		}
		b.do("GET", "/api/v1/me", nil, &m)
		form := url.Values{"_csrf": {m.CSRFToken}}
		req, _ := http.NewRequest("POST", tn.url+"/logout", strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.AddCookie(&http.Cookie{Name: web.SessionCookie, Value: b.cookie})
		resp, err := noRedirect.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		to, err := resp.Location()
		if err != nil || !strings.HasPrefix(to.String(), o.issuer+"/") || to.Query().Get("id_token_hint") == "" {
			t.Fatalf("logout went to %v (status %d), not the provider's end session endpoint with the ID token", to, resp.StatusCode)
		}
		if st := b.do("GET", "/api/v1/me", nil, nil); st != 401 {
			t.Fatalf("session after logout: status %d", st)
		}
		end, err := http.Get(to.String())
		if err != nil {
			t.Fatal(err)
		}
		end.Body.Close()
		if end.StatusCode != 200 {
			t.Fatalf("the provider's end session answered %d", end.StatusCode)
		}
	})

	t.Run("a flow is used once", func(t *testing.T) {
		a := startSSOLogin(t, tn)
		cb := o.login(t, a.auth.String(), "ada", opPassword)
		if st, b, body := a.finish(cb); st != http.StatusSeeOther || b == nil {
			t.Fatalf("login: status %d: %s", st, pageError(body))
		}
		st, b, body := a.finish(cb)
		refused(t, st, b, body, "no login in progress")
	})
}

// pageError is the error shown on an HTML page, or the page.
func pageError(body string) string {
	if i := strings.Index(body, "Single sign-on failed"); i >= 0 {
		end := min(len(body), i+400)
		return body[i:end]
	}
	return body
}

// An invited person who signs in through the provider instead of opening
// the activation link gets the invitation's role and team, and the
// invitation is used: its link no longer works.
func TestSSOLoginAcceptsAPendingInvitation(t *testing.T) {
	tn, box := startMailNode(t)
	orgID := tn.n.OrgID()
	o := startOP(t, tn.url+"/sso/"+orgID+"/oidc/callback")
	admin := tn.admin()
	var team storage.Team
	if st := admin.do("POST", "/api/v1/teams", map[string]string{"name": "Line 1"}, &team); st != 201 {
		t.Fatalf("create team: %d", st)
	}
	in := web.SSOInput{Company: "Acme Plants", OIDCIssuer: o.issuer, OIDCClientID: "siteline", OIDCClientSecret: "client secret"}
	if st := admin.do("PUT", "/api/v1/organisation/sso", in, nil); st != 200 {
		t.Fatalf("save SSO settings: %d", st)
	}
	var invs []web.MemberInvitationOut
	if st := admin.do("POST", "/api/v1/member-invitations", web.MemberInviteInput{Emails: []string{"ada@plant.example"},
		Roles: []string{policy.RoleTeamLead}, Teams: []string{team.ID}}, &invs); st != 201 || len(invs) != 1 {
		t.Fatalf("invite = %d %+v", st, invs)
	}
	token := activationToken(t, box, "ada@plant.example")

	a := startSSOLogin(t, tn)
	st, b, body := a.finish(o.login(t, a.auth.String(), "ada", opPassword))
	if st != http.StatusSeeOther || b == nil {
		t.Fatalf("login: status %d: %s", st, body)
	}
	var me struct {
		User  storage.User `json:"user"`
		Roles []string     `json:"roles"`
	}
	if st := b.do("GET", "/api/v1/me", nil, &me); st != 200 || !slices.Contains(me.Roles, policy.RoleTeamLead) {
		t.Fatalf("me = %d %+v, want the invitation's team lead role", st, me)
	}
	var u struct {
		Teams []storage.TeamMembership `json:"teams"`
	}
	if st := admin.do("GET", "/api/v1/users/"+me.User.ID, nil, &u); st != 200 || len(u.Teams) != 1 || u.Teams[0].TeamID != team.ID {
		t.Fatalf("teams = %d %+v, want the invitation's team", st, u.Teams)
	}
	if st := admin.do("GET", "/api/v1/member-invitations", nil, &invs); st != 200 || len(invs) != 1 ||
		invs[0].State != storage.MemberInviteUsed || invs[0].UserID != me.User.ID {
		t.Fatalf("invitations = %d %+v, want it used by Ada", st, invs)
	}
	pg := &page{browser: tn.anon()}
	if st, body := pg.get("/activate/" + token); st != 410 || !strings.Contains(body, `data-reason="used"`) {
		t.Fatalf("the link after the login = %d, want 410 used", st)
	}
}
