package node

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"siteline/node/apiclient"
	"siteline/policy"
	"siteline/storage"
	"siteline/web"
)

type userJSON struct {
	ID     string   `json:"id"`
	Email  string   `json:"email"`
	Name   string   `json:"name"`
	Active bool     `json:"active"`
	Roles  []string `json:"roles"`
}

type meJSON struct {
	User        *userJSON `json:"user"`
	Roles       []string  `json:"roles"`
	Permissions []string  `json:"permissions"`
}

func TestFirstStartCreatesAdministrator(t *testing.T) {
	tn := startNode(t, Config{}) // the generated password file: TestFirstLoginMustReplaceGeneratedPassword
	b := tn.admin()
	var me meJSON
	if st := b.do("GET", "/api/v1/me", nil, &me); st != 200 {
		t.Fatalf("GET /me = %d", st)
	}
	if me.User == nil || me.User.Email != "admin@siteline.local" {
		t.Fatalf("me = %+v", me)
	}
	if !slices.Contains(me.Roles, policy.RoleAdministrator) {
		t.Errorf("roles = %v, want administrator", me.Roles)
	}
	for _, id := range policy.IDs() {
		if !slices.Contains(me.Permissions, id) {
			t.Errorf("administrator lacks %s", id)
		}
	}
	orgs, err := tn.n.store.Orgs(context.Background())
	if err != nil || len(orgs) != 1 || orgs[0].Name != "My organisation" {
		t.Fatalf("orgs = %+v, %v", orgs, err)
	}
}

func TestRestartKeepsDataAndDoesNotBootstrapAgain(t *testing.T) {
	cfg := testConfig(t, shortTempDir(t))
	tn := startNode(t, cfg)
	b := tn.admin()
	if st := b.do("POST", "/api/v1/users", web.UserInput{Email: "tech@plant.example", Password: "correct horse battery", Roles: []string{"regular"}}, nil); st != 201 {
		t.Fatalf("create user = %d", st)
	}
	password := tn.password
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := tn.n.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}

	again := startNode(t, cfg)
	if again.password != password {
		t.Errorf("initial password rewritten on restart")
	}
	orgs, err := again.n.store.Orgs(ctx)
	if err != nil || len(orgs) != 1 {
		t.Fatalf("orgs after restart = %d, %v", len(orgs), err)
	}
	again.login("tech@plant.example", "correct horse battery")
	var users []userJSON
	again.admin().do("GET", "/api/v1/users", nil, &users)
	if len(users) != 2 {
		t.Fatalf("users after restart = %d, want 2", len(users))
	}
}

func TestUserLifecycle(t *testing.T) {
	tn := startNode(t, Config{})
	b := tn.admin()

	var u userJSON
	if st := b.do("POST", "/api/v1/users", web.UserInput{Email: "Expert@HQ.example", Name: "Eva Expert", Password: "a long enough password"}, &u); st != 201 {
		t.Fatalf("create = %d", st)
	}
	if u.Email != "expert@hq.example" || !slices.Equal(u.Roles, []string{"regular"}) || !u.Active {
		t.Fatalf("created %+v", u)
	}
	if st := b.do("POST", "/api/v1/users", web.UserInput{Email: "expert@hq.example", Password: "another long password"}, nil); st != 409 {
		t.Errorf("duplicate e-mail = %d, want 409", st)
	}
	expert := tn.login("expert@hq.example", "a long enough password")

	roles := []string{"regular", "team_lead"}
	name := "Eva E."
	if st := b.do("PATCH", "/api/v1/users/"+u.ID, web.UserPatch{Name: &name, Roles: &roles}, &u); st != 200 {
		t.Fatalf("patch = %d", st)
	}
	if u.Name != name || !slices.Equal(u.Roles, roles) {
		t.Fatalf("patched %+v", u)
	}

	// Deactivation ends the user's sessions at once and refuses new logins.
	off := false
	if st := b.do("PATCH", "/api/v1/users/"+u.ID, web.UserPatch{Active: &off}, nil); st != 200 {
		t.Fatalf("deactivate = %d", st)
	}
	if st := expert.do("GET", "/api/v1/me", nil, nil); st != 401 {
		t.Errorf("deactivated user's session: GET /me = %d, want 401", st)
	}
	if st := tn.anon().do("POST", "/api/v1/session", map[string]string{"email": "expert@hq.example", "password": "a long enough password"}, nil); st != 401 {
		t.Errorf("deactivated login = %d, want 401", st)
	}

	var events []storage.AuditEvent
	b.do("GET", "/api/v1/audit?action=user.", nil, &events)
	var actions []string
	for _, e := range events {
		actions = append(actions, e.Action)
	}
	// user.password: the harness replaced the generated first password.
	if !slices.Equal(actions, []string{"user.update", "user.update", "user.create", "user.password"}) {
		t.Errorf("audit = %v", actions)
	}
}

func TestDeniedRequestsNameThePermissionAndChangeNothing(t *testing.T) {
	tn := startNode(t, Config{})
	admin := tn.admin()
	admin.do("POST", "/api/v1/users", web.UserInput{Email: "tech@plant.example", Password: "technician password"}, nil)
	tech := tn.login("tech@plant.example", "technician password")

	cases := []struct {
		method, path string
		body         any
		perm         string
	}{
		{"GET", "/api/v1/users", nil, policy.AdminMembers},
		{"POST", "/api/v1/users", web.UserInput{Email: "x@y.example", Password: "0123456789ab"}, policy.AdminMembers},
		{"POST", "/api/v1/teams", map[string]string{"name": "Night shift"}, policy.AdminTeams},
		{"POST", "/api/v1/label-groups", map[string]string{"name": "Line", "color": "#112233"}, policy.AdminLabels},
		{"GET", "/api/v1/policy", nil, policy.AdminPolicies},
		{"GET", "/api/v1/audit", nil, policy.AdminAuditLog},
	}
	for _, c := range cases {
		var e web.ErrorBody
		if st := tech.do(c.method, c.path, c.body, &e); st != 403 || e.Permission != c.perm || e.Code != "forbidden" {
			t.Errorf("%s %s as regular user = %d %+v, want 403 naming %s", c.method, c.path, st, e, c.perm)
		}
	}
	var users []userJSON
	admin.do("GET", "/api/v1/users", nil, &users)
	var teams []storage.Team
	admin.do("GET", "/api/v1/teams", nil, &teams)
	if len(users) != 2 || len(teams) != 0 {
		t.Errorf("denied requests changed data: %d users, %d teams", len(users), len(teams))
	}
	// What a regular user may do, they can.
	if st := tech.do("GET", "/api/v1/contacts", nil, nil); st != 200 {
		t.Errorf("regular user GET /contacts = %d", st)
	}
	if st := tech.do("POST", "/api/v1/contacts", map[string]string{"name": "Pump vendor", "phone": "+49 30 1234"}, nil); st != 201 {
		t.Errorf("regular user POST /contacts = %d", st)
	}
}

// TestEveryRouteIsChecked walks the OpenAPI document: every operation that
// is not public answers 401 to an anonymous caller, and every operation with
// a permission answers 403 naming it to a user who holds no role.
func TestEveryRouteIsChecked(t *testing.T) {
	tn := startNode(t, Config{})
	admin := tn.admin()
	var u userJSON
	if st := admin.do("POST", "/api/v1/users", web.UserInput{Email: "nobody@plant.example", Password: "nobody's password", Roles: []string{}}, &u); st != 201 {
		t.Fatalf("create = %d", st)
	}
	nobody := tn.login("nobody@plant.example", "nobody's password")

	var doc struct {
		Paths map[string]map[string]struct {
			Permission string `json:"x-permission"`
			Security   *[]any `json:"security"`
		} `json:"paths"`
	}
	if st := tn.anon().do("GET", "/api/v1/openapi.json", nil, &doc); st != 200 {
		t.Fatalf("openapi = %d", st)
	}
	if len(doc.Paths) < 15 {
		t.Fatalf("openapi has %d paths", len(doc.Paths))
	}
	checked := 0
	for path, ops := range doc.Paths {
		concrete := strings.NewReplacer("{id}", "x1", "{user}", "x2").Replace(path)
		for method, op := range ops {
			method = strings.ToUpper(method)
			public := op.Security != nil && len(*op.Security) == 0
			if public {
				continue
			}
			var body any
			if method != "GET" && method != "DELETE" {
				body = map[string]any{}
			}
			var e web.ErrorBody
			if st := tn.anon().do(method, concrete, body, &e); st != 401 {
				t.Errorf("anonymous %s %s = %d, want 401", method, path, st)
			}
			if op.Permission == "" {
				continue
			}
			e = web.ErrorBody{}
			if st := nobody.do(method, concrete, body, &e); st != 403 || e.Permission != op.Permission {
				t.Errorf("%s %s without roles = %d %+v, want 403 naming %s", method, path, st, e, op.Permission)
			}
			checked++
		}
	}
	if checked < 25 {
		t.Errorf("only %d operations carry a permission", checked)
	}
}

func TestMalformedInputIsRefusedAndChangesNothing(t *testing.T) {
	cfg := testConfig(t, shortTempDir(t))
	cfg.HTTP.BodyLimit = 64 << 10
	tn := startNode(t, cfg)
	b := tn.admin()
	cases := []struct {
		name, contentType, body string
		status                  int
		code, mentions          string
	}{
		{"not json", "application/json", `{"email": `, 400, "invalid", "truncated"},
		{"syntax", "application/json", `{"email" "x"}`, 400, "invalid", "not valid JSON"},
		{"unknown field", "application/json", `{"email":"a@b.example","password":"0123456789ab","admin":true}`, 400, "invalid", "admin"},
		{"wrong type", "application/json", `{"email":42,"password":"0123456789ab"}`, 400, "invalid", "email"},
		{"two objects", "application/json", `{"email":"a@b.example","password":"0123456789ab"}{}`, 400, "invalid", "after the JSON object"},
		{"form body", "application/x-www-form-urlencoded", `email=a@b.example`, 400, "invalid", "application/json"},
		{"empty", "application/json", ``, 400, "invalid", "empty"},
		{"bad e-mail", "application/json", `{"email":"not-an-address","password":"0123456789ab"}`, 400, "invalid", "e-mail"},
		{"short password", "application/json", `{"email":"a@b.example","password":"short"}`, 400, "invalid", "password"},
		{"unknown role", "application/json", `{"email":"a@b.example","password":"0123456789ab","roles":["wizard"]}`, 400, "invalid", "wizard"},
		{"oversized", "application/json", `{"name":"` + strings.Repeat("x", 70<<10) + `"}`, 413, "too_large", "larger"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			st, data := b.raw("POST", "/api/v1/users", c.contentType, strings.NewReader(c.body))
			e := apiError(t, data)
			if st != c.status || e.Code != c.code || !strings.Contains(e.Error, c.mentions) {
				t.Errorf("status %d %+v, want %d %s mentioning %q", st, e, c.status, c.code, c.mentions)
			}
		})
	}
	var users []userJSON
	b.do("GET", "/api/v1/users", nil, &users)
	if len(users) != 1 {
		t.Errorf("malformed requests created users: %d", len(users))
	}
	if st, data := b.raw("GET", "/api/v1/users/no-such-id", "", nil); st != 404 || apiError(t, data).Code != "not_found" {
		t.Errorf("unknown id = %d %s", st, data)
	}
	if st, data := b.raw("GET", "/api/v1/audit?limit=abc", "", nil); st != 400 || !strings.Contains(apiError(t, data).Error, "limit") {
		t.Errorf("bad limit = %d %s", st, data)
	}
}

func TestCSRFProtectsCookieSessions(t *testing.T) {
	tn := startNode(t, Config{})
	b := tn.admin()
	noToken := *b
	noToken.csrf = ""
	var e web.ErrorBody
	if st := noToken.do("POST", "/api/v1/teams", map[string]string{"name": "A"}, &e); st != 403 || e.Code != "csrf" {
		t.Errorf("without CSRF token = %d %+v, want 403 csrf", st, e)
	}
	wrong := *b
	wrong.csrf = "forged"
	if st := wrong.do("POST", "/api/v1/teams", map[string]string{"name": "A"}, nil); st != 403 {
		t.Errorf("forged CSRF token = %d, want 403", st)
	}
	if st := b.do("POST", "/api/v1/teams", map[string]string{"name": "A"}, nil); st != 201 {
		t.Errorf("with CSRF token = %d, want 201", st)
	}
	var teams []storage.Team
	b.do("GET", "/api/v1/teams", nil, &teams)
	if len(teams) != 1 {
		t.Errorf("teams = %d, want 1", len(teams))
	}
}

func TestLogoutEndsTheSessionOnTheServer(t *testing.T) {
	tn := startNode(t, Config{})
	b := tn.admin()
	stolen := b.cookie
	if st := b.do("DELETE", "/api/v1/session", nil, nil); st != 204 {
		t.Fatalf("logout = %d", st)
	}
	replay := tn.anon()
	replay.cookie = stolen
	if st := replay.do("GET", "/api/v1/me", nil, nil); st != 401 {
		t.Errorf("cookie after logout = %d, want 401", st)
	}
	// A new login gets a new session id, never the one the browser brought.
	again := tn.anon()
	again.cookie = stolen
	again.do("POST", "/api/v1/session", map[string]string{"email": tn.cfg.Organisation.AdminEmail, "password": tn.password}, nil)
	if again.cookie == stolen || again.cookie == "" {
		t.Errorf("session id not rotated at login")
	}
}

func TestLoginIsRateLimited(t *testing.T) {
	cfg := testConfig(t, shortTempDir(t))
	cfg.Auth.LoginFailuresPerAccount = 3
	tn := startNodeWith(t, cfg, Options{Now: newClock().Now}) // the wait after the failures is not over
	for i := 0; i < 3; i++ {
		if st := tn.anon().do("POST", "/api/v1/session", map[string]string{"email": cfg.Organisation.AdminEmail, "password": "wrong password"}, nil); st != 401 {
			t.Fatalf("wrong password %d = %d, want 401", i, st)
		}
	}
	var e web.ErrorBody
	st := tn.anon().do("POST", "/api/v1/session", map[string]string{"email": cfg.Organisation.AdminEmail, "password": tn.password}, &e)
	if st != 429 || e.Code != "rate_limited" {
		t.Errorf("right password after too many failures = %d %+v, want 429", st, e)
	}
}

func TestAPITokens(t *testing.T) {
	clk := &clock{t: time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)} // the node's goroutines read it too
	cfg := testConfig(t, shortTempDir(t))
	tn := startNodeWith(t, cfg, Options{Now: clk.Now})
	b := tn.admin()

	var created struct {
		Token  storage.APIToken `json:"token"`
		Secret string           `json:"secret"`
	}
	if st := b.do("POST", "/api/v1/tokens", map[string]string{"name": "ci", "ttl": "1d"}, &created); st != 201 {
		t.Fatalf("create token = %d", st)
	}
	if !strings.HasPrefix(created.Secret, web.TokenPrefix) {
		t.Fatalf("secret %q", created.Secret)
	}
	bot := &browser{t: t, base: tn.url, token: created.Secret}
	var me meJSON
	if st := bot.do("GET", "/api/v1/me", nil, &me); st != 200 || me.User.Email != cfg.Organisation.AdminEmail {
		t.Fatalf("token GET /me = %d %+v", st, me)
	}
	// Tokens need no CSRF token: they are not ambient credentials.
	if st := bot.do("POST", "/api/v1/teams", map[string]string{"name": "Bots"}, nil); st != 201 {
		t.Errorf("token POST = %d", st)
	}
	forged := &browser{t: t, base: tn.url, token: web.TokenPrefix + "forged"}
	if st := forged.do("GET", "/api/v1/me", nil, nil); st != 401 {
		t.Errorf("forged token = %d", st)
	}
	clk.Add(25 * time.Hour)
	var e web.ErrorBody
	if st := bot.do("GET", "/api/v1/me", nil, &e); st != 401 || !strings.Contains(e.Error, "expired") {
		t.Errorf("expired token = %d %+v", st, e)
	}
	b = tn.admin()
	if st := b.do("DELETE", "/api/v1/tokens/"+created.Token.ID, nil, nil); st != 204 {
		t.Errorf("revoke = %d", st)
	}
	var toks []storage.APIToken
	b.do("GET", "/api/v1/tokens", nil, &toks)
	if len(toks) != 0 {
		t.Errorf("tokens after revoke = %d", len(toks))
	}
}

func TestTeamsLabelsContacts(t *testing.T) {
	tn := startNode(t, Config{})
	b := tn.admin()
	var u userJSON
	b.do("POST", "/api/v1/users", web.UserInput{Email: "lead@plant.example", Password: "lead's password"}, &u)

	var team storage.Team
	if st := b.do("POST", "/api/v1/teams", map[string]string{"name": "Maintenance"}, &team); st != 201 {
		t.Fatalf("create team = %d", st)
	}
	if st := b.do("PUT", "/api/v1/teams/"+team.ID+"/members/"+u.ID, map[string]string{"role": "lead"}, nil); st != 204 {
		t.Fatalf("add member = %d", st)
	}
	var e web.ErrorBody
	if st := b.do("PUT", "/api/v1/teams/"+team.ID+"/members/"+u.ID, map[string]string{"role": "boss"}, &e); st != 400 || !strings.Contains(e.Error, "role") {
		t.Errorf("bad team role = %d %+v", st, e)
	}
	var full struct {
		Members []storage.TeamMembership `json:"members"`
	}
	b.do("GET", "/api/v1/teams/"+team.ID, nil, &full)
	if len(full.Members) != 1 || full.Members[0].Role != storage.TeamLead {
		t.Errorf("members = %+v", full.Members)
	}

	var g storage.LabelGroup
	if st := b.do("POST", "/api/v1/label-groups", map[string]string{"name": "Machine", "color": "#1E88E5"}, &g); st != 201 || g.Color != "#1e88e5" {
		t.Fatalf("label group = %d %+v", st, g)
	}
	if st := b.do("POST", "/api/v1/label-groups", map[string]string{"name": "Bad", "color": "blue"}, &e); st != 400 || !strings.Contains(e.Error, "color") {
		t.Errorf("bad colour = %d %+v", st, e)
	}
	if st := b.do("POST", "/api/v1/labels", map[string]string{"name": "Press 4", "group_id": g.ID}, nil); st != 201 {
		t.Fatalf("label = %d", st)
	}
	if st := b.do("POST", "/api/v1/labels", map[string]string{"name": "Orphan", "group_id": "nope"}, nil); st != 400 {
		t.Errorf("label in unknown group = %d", st)
	}
	var groups []struct {
		storage.LabelGroup
		Labels []storage.Label `json:"labels"`
	}
	b.do("GET", "/api/v1/labels", nil, &groups)
	if len(groups) != 1 || len(groups[0].Labels) != 1 || groups[0].Labels[0].Name != "Press 4" {
		t.Errorf("labels = %+v", groups)
	}
	if st := b.do("DELETE", "/api/v1/label-groups/"+g.ID, nil, nil); st != 204 {
		t.Errorf("delete group = %d", st)
	}
	b.do("GET", "/api/v1/labels", nil, &groups)
	if len(groups) != 0 {
		t.Errorf("groups after delete = %d", len(groups))
	}

	var c storage.Contact
	if st := b.do("POST", "/api/v1/contacts", map[string]string{"name": "Line 3 hotline", "phone": "+33 1 23 45 67 89", "email": "line3@plant.example"}, &c); st != 201 {
		t.Fatalf("contact = %d", st)
	}
	if st := b.do("PATCH", "/api/v1/contacts/"+c.ID, map[string]string{"name": "Line 3 hotline (night)", "phone": "+33 1 23 45 67 89"}, &c); st != 200 || c.Name != "Line 3 hotline (night)" {
		t.Errorf("update contact = %d %+v", st, c)
	}
	if st := b.do("PATCH", "/api/v1/contacts/unknown", map[string]string{"name": "x"}, nil); st != 404 {
		t.Errorf("update unknown contact = %d", st)
	}
}

func TestLastPolicyAdministratorCannotBeRemoved(t *testing.T) {
	tn := startNode(t, Config{})
	b := tn.admin()
	var me meJSON
	b.do("GET", "/api/v1/me", nil, &me)
	off := false
	var e web.ErrorBody
	if st := b.do("PATCH", "/api/v1/users/"+me.User.ID, web.UserPatch{Active: &off}, &e); st != 400 || !strings.Contains(e.Error, "yourself") {
		t.Errorf("deactivate oneself = %d %+v, want 400", st, e)
	}
	roles := []string{"regular"}
	if st := b.do("PATCH", "/api/v1/users/"+me.User.ID, web.UserPatch{Roles: &roles}, &e); st != 409 || !strings.Contains(e.Error, policy.AdminPolicies) {
		t.Errorf("demote last admin = %d %+v, want 409 naming %s", st, e, policy.AdminPolicies)
	}
	// The local operator, who holds every permission, is refused too.
	op := apiclient.Socket(tn.n.AdminSocket())
	err := op.Do(t.Context(), "PATCH", "/users/"+me.User.ID, web.UserPatch{Active: &off}, nil)
	var ae *apiclient.APIError
	if !errors.As(err, &ae) || ae.Status != 409 {
		t.Errorf("operator deactivating the last admin: %v, want 409", err)
	}
	if st := b.do("GET", "/api/v1/me", nil, &me); st != 200 || !slices.Contains(me.Roles, policy.RoleAdministrator) {
		t.Errorf("refused change applied: %d %+v", st, me)
	}
}

func TestHealthReadyMetrics(t *testing.T) {
	cfg := testConfig(t, shortTempDir(t))
	cfg.Metrics.Token = "scrape-me-0123456789abcdef" // /metrics is not public without it
	tn := startNode(t, cfg)
	for _, path := range []string{"/healthz", "/readyz"} {
		if st, body := tn.anon().raw("GET", path, "", nil); st != 200 {
			t.Errorf("%s = %d %s", path, st, body)
		}
	}
	st, body := tn.anon().with("Authorization", "Bearer "+cfg.Metrics.Token).raw("GET", "/metrics", "", nil)
	if st != 200 || !bytes.Contains(body, []byte("siteline_raft_leader 1")) || !bytes.Contains(body, []byte("go_goroutines")) {
		t.Errorf("/metrics = %d\n%s", st, body)
	}
}

func TestExpiredSessionsAreSwept(t *testing.T) {
	clk := &clock{t: time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)}
	cfg := testConfig(t, shortTempDir(t))
	tn := startNodeWith(t, cfg, Options{Now: clk.Now})
	n := tn.n
	b := tn.admin()
	id := hashCookie(b.cookie)
	if _, err := n.store.WebSession(context.Background(), id); err != nil {
		t.Fatalf("session not stored: %v", err)
	}
	clk.Add(cfg.Auth.SessionTTL + time.Minute)
	n.sweepSessions()
	if _, err := n.store.WebSession(context.Background(), id); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("expired session still stored: %v", err)
	}
	if st := b.do("GET", "/api/v1/me", nil, nil); st != 401 {
		t.Errorf("expired session: GET /me = %d", st)
	}
}

// hashCookie is how sessions are keyed in the store: never the cookie
// itself.
func hashCookie(v string) string {
	sum := sha256.Sum256([]byte(v))
	return hex.EncodeToString(sum[:])
}

func TestReadHeader(t *testing.T) {
	tn := startNode(t, Config{})
	b := tn.admin()
	var team storage.Team
	if st := b.do("POST", "/api/v1/teams", map[string]string{"name": "Maintenance"}, &team); st != 201 {
		t.Fatalf("create team = %d", st)
	}

	// Both values are served; a single node leads, so its barrier is local.
	for _, v := range []string{web.ReadLinearizable, web.ReadLocal, "Linearizable"} {
		var got storage.Team
		if st := b.with(web.ReadHeader, v).do("GET", "/api/v1/teams/"+team.ID, nil, &got); st != 200 || got.Name != "Maintenance" {
			t.Errorf("GET with %s: %s = %d %+v", web.ReadHeader, v, st, got)
		}
	}
	// Changes and public routes accept the header and need no barrier.
	if st := b.with(web.ReadHeader, web.ReadLinearizable).do("PATCH", "/api/v1/teams/"+team.ID, map[string]string{"name": "Night shift"}, nil); st != 200 {
		t.Errorf("PATCH with %s: linearizable = %d", web.ReadHeader, st)
	}
	if st := tn.anon().with(web.ReadHeader, web.ReadLinearizable).do("GET", "/api/v1/version", nil, nil); st != 200 {
		t.Errorf("public GET with %s: linearizable = %d", web.ReadHeader, st)
	}

	// Any other value is refused, naming the header and what it accepts,
	// on every API route.
	for _, c := range []struct {
		b            *browser
		method, path string
		body         any
	}{
		{b, "GET", "/api/v1/teams/" + team.ID, nil},
		{b, "PATCH", "/api/v1/teams/" + team.ID, map[string]string{"name": "Refused"}},
		{tn.anon(), "GET", "/api/v1/version", nil},
	} {
		var e web.ErrorBody
		st := c.b.with(web.ReadHeader, "strict").do(c.method, c.path, c.body, &e)
		if st != 400 || e.Code != "invalid" {
			t.Errorf("%s %s with %s: strict = %d %+v, want 400 invalid", c.method, c.path, web.ReadHeader, st, e)
		}
		for _, want := range []string{web.ReadHeader, `"strict"`, web.ReadLocal, web.ReadLinearizable} {
			if !strings.Contains(e.Error, want) {
				t.Errorf("%s %s: error %q does not name %s", c.method, c.path, e.Error, want)
			}
		}
	}
	if got, _ := tn.n.store.Team(context.Background(), team.ID); got.Name != "Night shift" {
		t.Errorf("a refused PATCH changed the team: %+v", got)
	}

	// The OpenAPI document offers the header on reads that need a caller.
	var doc struct {
		Paths map[string]map[string]struct {
			Parameters []struct {
				Name, In string
				Schema   struct {
					Enum []string `json:"enum"`
				} `json:"schema"`
			} `json:"parameters"`
		} `json:"paths"`
	}
	if st := tn.anon().do("GET", "/api/v1/openapi.json", nil, &doc); st != 200 {
		t.Fatalf("openapi = %d", st)
	}
	offers := func(path, method string) bool {
		for _, p := range doc.Paths[path][method].Parameters {
			if p.Name == web.ReadHeader && p.In == "header" && slices.Equal(p.Schema.Enum, []string{web.ReadLocal, web.ReadLinearizable}) {
				return true
			}
		}
		return false
	}
	if !offers("/api/v1/teams/{id}", "get") || offers("/api/v1/teams/{id}", "patch") || offers("/api/v1/version", "get") {
		t.Errorf("openapi parameters: get team %v, patch team %v, version %v; want true, false, false",
			offers("/api/v1/teams/{id}", "get"), offers("/api/v1/teams/{id}", "patch"), offers("/api/v1/version", "get"))
	}
}
