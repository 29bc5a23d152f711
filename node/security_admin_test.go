package node

import (
	"context"
	"crypto/sha256"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"siteline/media/signal"
	"siteline/policy"
	"siteline/storage"
	"siteline/web"
)

// createUser creates a user as b and fails the test if that fails.
func createUser(t *testing.T, b *browser, email, password string, roles ...string) userJSON {
	t.Helper()
	var u userJSON
	if st := b.do("POST", "/api/v1/users", web.UserInput{Email: email, Password: password, Roles: roles}, &u); st != 201 {
		t.Fatalf("create %s = %d", email, st)
	}
	return u
}

// grant gives subject a permission directly, as the administrator b.
func grant(t *testing.T, b *browser, subject, perm string) {
	t.Helper()
	if st := b.do("POST", "/api/v1/policy/grant", web.GrantInput{Subject: subject, Permission: perm}, nil); st != 200 {
		t.Fatalf("grant %s to %s = %d", perm, subject, st)
	}
}

// wantForbidden fails the test unless the answer is 403 naming a
// permission that holder does not hold.
func wantForbidden(t *testing.T, what string, st int, e web.ErrorBody, held []string) {
	t.Helper()
	if st != 403 || e.Code != "forbidden" || e.Permission == "" || slices.Contains(held, e.Permission) {
		t.Errorf("%s = %d %+v, want 403 naming a permission the caller lacks", what, st, e)
	}
}

func permissionsOf(t *testing.T, b *browser) []string {
	t.Helper()
	var me meJSON
	if st := b.do("GET", "/api/v1/me", nil, &me); st != 200 {
		t.Fatalf("GET /me = %d", st)
	}
	return me.Permissions
}

// Item 3 of issue 13: a holder of admin_organisation_members alone cannot
// make themself or anyone else an administrator, nor reset the password
// of, deactivate or re-address someone holding more than they do.
func TestSecurityMembersAdminCannotEscalate(t *testing.T) {
	tn := startNode(t, Config{})
	admin := tn.admin()
	mia := createUser(t, admin, "mia@plant.example", "mia's password 1", policy.RoleRegular)
	grant(t, admin, "user:"+mia.ID, policy.AdminMembers)
	root := createUser(t, admin, "root2@plant.example", "root's password 1", policy.RoleAdministrator)
	pat := createUser(t, admin, "pat@plant.example", "pat's password 1", policy.RoleRegular)

	mb := tn.login("mia@plant.example", "mia's password 1")
	held := permissionsOf(t, mb)
	if !slices.Contains(held, policy.AdminMembers) || slices.Contains(held, policy.AdminPolicies) {
		t.Fatalf("mia holds %v", held)
	}

	var e web.ErrorBody
	adminRoles := []string{policy.RoleRegular, policy.RoleAdministrator}
	st := mb.do("PATCH", "/api/v1/users/"+mia.ID, web.UserPatch{Roles: &adminRoles}, &e)
	wantForbidden(t, "mia makes herself administrator", st, e, held)
	if e.Permission != policy.AdminPolicies {
		t.Errorf("own role change names %q, want %s", e.Permission, policy.AdminPolicies)
	}
	e = web.ErrorBody{}
	st = mb.do("PATCH", "/api/v1/users/"+pat.ID, web.UserPatch{Roles: &adminRoles}, &e)
	wantForbidden(t, "mia makes pat administrator", st, e, held)

	newPW := "taken over 12345"
	e = web.ErrorBody{}
	st = mb.do("PATCH", "/api/v1/users/"+root.ID, web.UserPatch{Password: &newPW}, &e)
	wantForbidden(t, "mia resets an administrator's password", st, e, held)
	off := false
	e = web.ErrorBody{}
	st = mb.do("PATCH", "/api/v1/users/"+root.ID, web.UserPatch{Active: &off}, &e)
	wantForbidden(t, "mia deactivates an administrator", st, e, held)
	mail := "mia2@plant.example"
	e = web.ErrorBody{}
	st = mb.do("PATCH", "/api/v1/users/"+root.ID, web.UserPatch{Email: &mail}, &e)
	wantForbidden(t, "mia changes an administrator's login", st, e, held)
	e = web.ErrorBody{}
	st = mb.do("POST", "/api/v1/users", web.UserInput{Email: "sock@plant.example", Password: "sock's password 1", Roles: adminRoles}, &e)
	wantForbidden(t, "mia creates an administrator", st, e, held)

	// Nothing changed.
	var got userJSON
	admin.do("GET", "/api/v1/users/"+mia.ID, nil, &got)
	if slices.Contains(got.Roles, policy.RoleAdministrator) {
		t.Errorf("mia's roles = %v", got.Roles)
	}
	admin.do("GET", "/api/v1/users/"+pat.ID, nil, &got)
	if slices.Contains(got.Roles, policy.RoleAdministrator) {
		t.Errorf("pat's roles = %v", got.Roles)
	}
	if !tn.tryLogin("root2@plant.example", "root's password 1") {
		t.Error("the administrator's password was changed")
	}
	if _, err := tn.n.store.UserByEmail(context.Background(), tn.n.OrgID(), "sock@plant.example"); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("the administrator mia tried to create exists: %v", err)
	}

	// What mia does hold she may still hand out and manage.
	if st := mb.do("PATCH", "/api/v1/users/"+pat.ID, web.UserPatch{Password: &newPW}, nil); st != 200 {
		t.Errorf("mia resets a regular user's password = %d", st)
	}
	createUser(t, mb, "rex@plant.example", "rex's password 1", policy.RoleRegular)

	// A holder of admin_organisation_teams cannot join a team that
	// carries a role holding more than they do.
	createUser(t, admin, "tia@plant.example", "tia's password 1", policy.RoleRegular)
	grant(t, admin, "user:tia@plant.example", policy.AdminTeams)
	var team storage.Team
	if st := admin.do("POST", "/api/v1/teams", map[string]string{"name": "Admins"}, &team); st != 201 {
		t.Fatalf("create team = %d", st)
	}
	if st := admin.do("POST", "/api/v1/policy/assign", web.AssignInput{Subject: "team:" + team.ID, Role: policy.RoleAdministrator}, nil); st != 200 {
		t.Fatalf("assign administrator to the team = %d", st)
	}
	tb := tn.login("tia@plant.example", "tia's password 1")
	var tia meJSON
	tb.do("GET", "/api/v1/me", nil, &tia)
	e = web.ErrorBody{}
	st = tb.do("PUT", "/api/v1/teams/"+team.ID+"/members/"+tia.User.ID, map[string]string{"role": "member"}, &e)
	wantForbidden(t, "tia joins the administrators' team", st, e, tia.Permissions)
	if slices.Contains(permissionsOf(t, tb), policy.AdminPolicies) {
		t.Error("tia became an administrator through the team")
	}

	// An administrator still does all of it.
	if st := admin.do("PATCH", "/api/v1/users/"+pat.ID, web.UserPatch{Roles: &adminRoles}, nil); st != 200 {
		t.Errorf("administrator makes pat administrator = %d", st)
	}
}

// tokenOut is the answer of POST /api/v1/tokens.
type tokenOut struct {
	Token  storage.APIToken `json:"token"`
	Secret string           `json:"secret"`
}

func mintToken(t *testing.T, b *browser, in map[string]string) tokenOut {
	t.Helper()
	var out tokenOut
	var e web.ErrorBody
	if st := b.do("POST", "/api/v1/tokens", in, &out); st != 201 {
		b.do("POST", "/api/v1/tokens", in, &e)
		t.Fatalf("create token %v = %d %+v", in, st, e)
	}
	return out
}

func sha256Sum(s string) []byte {
	sum := sha256.Sum256([]byte(s))
	return sum[:]
}

func (tn *testNode) bearer(secret string) *browser {
	return &browser{t: tn.t, base: tn.url, token: secret}
}

// Item 10 of issue 13: API tokens have scopes, a default and a maximum
// lifetime, cannot be outgrown by the tokens they mint, die with a
// password change or a deactivation, and administrators see and revoke
// every one.
func TestSecurityAPITokens(t *testing.T) {
	clk := newClock()
	cfg := testConfig(t, shortTempDir(t))
	tn := startNodeWith(t, cfg, Options{Now: clk.Now})
	admin := tn.admin()
	pat := createUser(t, admin, "pat@plant.example", "pat's password 1", policy.RoleRegular)
	pb := tn.login("pat@plant.example", "pat's password 1")

	// Default and maximum lifetime.
	def := mintToken(t, pb, map[string]string{"name": "default"})
	if def.Token.ExpiresAt == nil || !def.Token.ExpiresAt.Equal(clk.Now().Add(cfg.Tokens.DefaultTTL)) {
		t.Errorf("default expiry = %v, want %s from now", def.Token.ExpiresAt, cfg.Tokens.DefaultTTL)
	}
	if def.Token.Scope != storage.ScopeFull {
		t.Errorf("default scope = %q", def.Token.Scope)
	}
	var e web.ErrorBody
	if st := pb.do("POST", "/api/v1/tokens", map[string]string{"name": "forever", "ttl": "400d"}, &e); st != 400 || !strings.Contains(e.Error, "ttl") {
		t.Errorf("token beyond the maximum lifetime = %d %+v", st, e)
	}
	if st := pb.do("POST", "/api/v1/tokens", map[string]string{"name": "odd", "scope": "admin"}, &e); st != 400 || !strings.Contains(e.Error, "scope") {
		t.Errorf("unknown scope = %d %+v", st, e)
	}

	// A read token reads and does nothing else, minting included.
	read := mintToken(t, pb, map[string]string{"name": "reader", "scope": "read"})
	rb := tn.bearer(read.Secret)
	if st := rb.do("GET", "/api/v1/me", nil, nil); st != 200 {
		t.Errorf("read token GET = %d", st)
	}
	e = web.ErrorBody{}
	if st := rb.do("POST", "/api/v1/calls", web.CallInput{Name: "x"}, &e); st != 403 || !strings.Contains(e.Error, "read") {
		t.Errorf("read token POST = %d %+v", st, e)
	}
	if st := rb.do("POST", "/api/v1/tokens", map[string]string{"name": "child", "scope": "read"}, nil); st != 403 {
		t.Errorf("read token mints a token = %d", st)
	}

	// A full token mints tokens that neither outlive nor outrank it.
	short := mintToken(t, pb, map[string]string{"name": "short", "ttl": "10d"})
	sb := tn.bearer(short.Secret)
	child := mintToken(t, sb, map[string]string{"name": "child"})
	if child.Token.ExpiresAt == nil || child.Token.ExpiresAt.After(*short.Token.ExpiresAt) {
		t.Errorf("child expires %v, after its parent's %v", child.Token.ExpiresAt, short.Token.ExpiresAt)
	}
	e = web.ErrorBody{}
	if st := sb.do("POST", "/api/v1/tokens", map[string]string{"name": "longer", "ttl": "30d"}, &e); st != 400 || !strings.Contains(e.Error, "ttl") {
		t.Errorf("child outliving its parent = %d %+v", st, e)
	}
	reader2 := mintToken(t, sb, map[string]string{"name": "reader 2", "scope": "read"})
	if reader2.Token.Scope != storage.ScopeRead {
		t.Errorf("minted read token has scope %q", reader2.Token.Scope)
	}

	// A token stored without expiry (made before lifetimes) still ends at
	// the maximum lifetime.
	legacy := "stl_legacy-token-made-before-lifetimes"
	old := storage.APIToken{ID: newID(), OrgID: tn.n.OrgID(), UserID: pat.ID, Name: "legacy", CreatedAt: clk.Now().Add(-cfg.Tokens.MaxTTL - time.Hour)}
	sum := sha256Sum(legacy)
	if err := tn.n.raft.Propose(context.Background(), storage.Command{At: clk.Now(), ActorID: "test",
		Changes: []storage.Change{{Op: storage.OpPutToken, Token: &old, TokenHash: sum}}}); err != nil {
		t.Fatal(err)
	}
	if st := tn.bearer(legacy).do("GET", "/api/v1/me", nil, nil); st != 401 {
		t.Errorf("token older than the maximum lifetime = %d, want 401", st)
	}

	// Administrators list and revoke everyone's tokens; others may not.
	var all []storage.APIToken
	if st := admin.do("GET", "/api/v1/org/tokens", nil, &all); st != 200 || !slices.ContainsFunc(all, func(x storage.APIToken) bool { return x.ID == def.Token.ID }) {
		t.Fatalf("administrator lists the organisation's tokens = %d, %d tokens", st, len(all))
	}
	e = web.ErrorBody{}
	if st := pb.do("GET", "/api/v1/org/tokens", nil, &e); st != 403 || e.Permission != policy.AdminOrgTokens {
		t.Errorf("regular user lists every token = %d %+v", st, e)
	}
	if st := pb.do("DELETE", "/api/v1/org/tokens/"+def.Token.ID, nil, &e); st != 403 {
		t.Errorf("regular user revokes through the administrator route = %d", st)
	}
	if st, page := admin.raw("GET", "/account", "", nil); st != 200 || !strings.Contains(string(page), "All API tokens") || !strings.Contains(string(page), "/account/org-tokens/"+def.Token.ID+"/delete") {
		t.Errorf("administrator's account page = %d without pat's tokens", st)
	}
	if _, page := pb.raw("GET", "/account", "", nil); strings.Contains(string(page), "All API tokens") {
		t.Error("a regular user's account page lists every token")
	}
	if st := admin.do("DELETE", "/api/v1/org/tokens/"+def.Token.ID, nil, nil); st != 204 {
		t.Errorf("administrator revokes pat's token = %d", st)
	}
	if st := tn.bearer(def.Secret).do("GET", "/api/v1/me", nil, nil); st != 401 {
		t.Errorf("revoked token = %d", st)
	}

	// A password reset revokes every token of the user.
	if st := sb.do("GET", "/api/v1/me", nil, nil); st != 200 {
		t.Fatalf("short token before the reset = %d", st)
	}
	pw := "pat's password 2"
	if st := admin.do("PATCH", "/api/v1/users/"+pat.ID, web.UserPatch{Password: &pw}, nil); st != 200 {
		t.Fatalf("reset = %d", st)
	}
	for _, s := range []string{read.Secret, short.Secret, child.Secret, reader2.Secret} {
		if st := tn.bearer(s).do("GET", "/api/v1/me", nil, nil); st != 401 {
			t.Errorf("token after a password reset = %d, want 401", st)
		}
	}

	// So does changing one's own password.
	pb = tn.login("pat@plant.example", pw)
	mine := mintToken(t, pb, map[string]string{"name": "mine"})
	if st := pb.do("POST", "/api/v1/me/password", map[string]string{"current": pw, "new": "pat's password 3"}, nil); st != 204 {
		t.Fatalf("change own password = %d", st)
	}
	if st := tn.bearer(mine.Secret).do("GET", "/api/v1/me", nil, nil); st != 401 {
		t.Errorf("token after changing one's password = %d, want 401", st)
	}

	// And a deactivation: the token stays dead once the user is back.
	pb = tn.login("pat@plant.example", "pat's password 3")
	kept := mintToken(t, pb, map[string]string{"name": "kept"})
	off, on := false, true
	if st := admin.do("PATCH", "/api/v1/users/"+pat.ID, web.UserPatch{Active: &off}, nil); st != 200 {
		t.Fatalf("deactivate = %d", st)
	}
	if st := admin.do("PATCH", "/api/v1/users/"+pat.ID, web.UserPatch{Active: &on}, nil); st != 200 {
		t.Fatalf("reactivate = %d", st)
	}
	if st := tn.bearer(kept.Secret).do("GET", "/api/v1/me", nil, nil); st != 401 {
		t.Errorf("token after a deactivation = %d, want 401", st)
	}
	toks, err := tn.n.store.Tokens(context.Background(), pat.ID)
	if err != nil || len(toks) != 0 {
		t.Errorf("pat's tokens after deactivation = %d (%v)", len(toks), err)
	}
}

// socketClosed reports whether a socket reader ended within the deadline.
func waitClosed(t *testing.T, what string, done <-chan struct{}) {
	t.Helper()
	select {
	case <-done:
	case <-time.After(15 * time.Second):
		t.Fatalf("%s: still open 15s after the deactivation", what)
	}
}

// eventsClosed drains an events socket and closes the channel it returns
// when the socket ends.
func eventsClosed(es *eventSocket) <-chan struct{} {
	done := make(chan struct{})
	go func() {
		for range es.events {
		}
		close(done)
	}()
	return done
}

// Item 15 of issue 13, on one node: deactivating a user closes their
// signaling and events sockets.
func TestSecurityDeactivationClosesSockets(t *testing.T) {
	cn := startCallNode(t)
	call := cn.createCall(t, cn.tech)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ws, err := cn.dial(ctx, cn.tech, call.ID)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	sigDone := make(chan struct{})
	go func() {
		defer close(sigDone)
		for {
			if _, err := ws.Recv(ctx); err != nil {
				return
			}
		}
	}()
	evDone := eventsClosed(cn.openEvents(t, cn.tech))

	// Someone else's socket stays open.
	other, err := cn.dial(ctx, cn.admin, call.ID)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()

	var tech meJSON
	cn.tech.do("GET", "/api/v1/me", nil, &tech)
	off := false
	if st := cn.admin.do("PATCH", "/api/v1/users/"+tech.User.ID, web.UserPatch{Active: &off}, nil); st != 200 {
		t.Fatalf("deactivate = %d", st)
	}
	waitClosed(t, "signaling socket", sigDone)
	waitClosed(t, "events socket", evDone)
	if err := other.SendRaw(ctx, []byte(`{"v":1,"type":`)); err != nil {
		t.Fatalf("another user's socket after the deactivation: %v", err)
	}
	if m, err := other.Recv(ctx); err != nil || m.Type != signal.TypeError {
		t.Errorf("another user's socket after the deactivation: %+v %v", m, err)
	}
}

// Item 15 of issue 13, across the federation: a user deactivated at
// headquarters loses their sockets at a plant.
func TestSecurityDeactivationClosesSocketsAtEveryNode(t *testing.T) {
	nodes := startFederation(t, 1, 1, nil)
	hq, plant := nodes[0], nodes[1]
	u := createUser(t, hq.admin(), "tech@plant.example", "tech's password 1", policy.RoleRegular)
	eventually(t, 20*time.Second, "login at the plant", func() bool { return plant.tryLogin("tech@plant.example", "tech's password 1") })
	pb := plant.login("tech@plant.example", "tech's password 1")
	evDone := eventsClosed(plant.openEvents(t, pb))

	off := false
	if st := hq.admin().do("PATCH", "/api/v1/users/"+u.ID, web.UserPatch{Active: &off}, nil); st != 200 {
		t.Fatalf("deactivate at hq = %d", st)
	}
	waitClosed(t, "events socket at the plant", evDone)
}
