package web

import (
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"siteline/policy"
	"siteline/storage"
)

// uiFake is an in-memory organisation behind every service the web layer
// calls: enough to render and submit each backoffice page without a node.
type uiFake struct {
	mu       sync.Mutex
	org      storage.Org
	sites    []storage.Site
	users    []storage.User
	roles    map[string][]string // user -> roles
	teams    []storage.Team
	members  []storage.TeamMembership
	groups   []storage.LabelGroup
	labels   []storage.Label
	contacts []storage.Contact
	tokens   []storage.APIToken
	audit    []storage.AuditEvent
	sessions map[string]storage.WebSession
	rules    []storage.PolicyRule
	seq      int
}

func newUIFake() *uiFake {
	now := time.Date(2026, 3, 2, 9, 30, 0, 0, time.UTC)
	f := &uiFake{
		org:      storage.Org{ID: "org1", Name: "Acme Chemicals", CreatedAt: now},
		sites:    []storage.Site{{ID: "site1", OrgID: "org1", Name: "Ludwigshafen plant"}},
		roles:    map[string][]string{},
		sessions: map[string]storage.WebSession{},
		rules:    policy.DefaultPolicy("org1"),
	}
	add := func(id, name, email string, active bool, roles ...string) {
		f.users = append(f.users, storage.User{ID: id, OrgID: "org1", Name: name, Email: email, Kind: storage.UserRegular, Active: active, CreatedAt: now, UpdatedAt: now})
		f.roles[id] = roles
	}
	add("u1", "Alice Admin", "alice@acme.example", true, policy.RoleAdministrator)
	add("u2", "Bob Regular", "bob@acme.example", true, policy.RoleRegular)
	add("u3", "Carla Lead", "carla@acme.example", true, policy.RoleRegular, policy.RoleTeamLead)
	add("u4", "Dan Former", "dan@acme.example", false, policy.RoleRegular)
	f.teams = []storage.Team{{ID: "t1", OrgID: "org1", Name: "Line 3 maintenance", CreatedAt: now}}
	f.members = []storage.TeamMembership{{TeamID: "t1", UserID: "u2", Role: storage.TeamMember}, {TeamID: "t1", UserID: "u3", Role: storage.TeamLead}}
	f.groups = []storage.LabelGroup{{ID: "g1", OrgID: "org1", Name: "Machine", Color: "#0e7490"}}
	f.labels = []storage.Label{{ID: "l1", OrgID: "org1", GroupID: "g1", Name: "Extruder"}, {ID: "l2", OrgID: "org1", GroupID: "g1", Name: "Pump P-101"}}
	f.contacts = []storage.Contact{{ID: "c1", OrgID: "org1", Name: "Erik Expert", Company: "Pump Vendor GmbH", Email: "erik@vendor.example", Phone: "+49 621 555 0101", CreatedAt: now}}
	f.audit = []storage.AuditEvent{{ID: "a1", OrgID: "org1", At: now, ActorID: "u1", Action: "user.create", Target: "u4", Detail: `{"email":"dan@acme.example"}`}}
	return f
}

func (f *uiFake) id(prefix string) string { f.seq++; return fmt.Sprintf("%s%d", prefix, 100+f.seq) }

// OrgReader.
func (f *uiFake) Org(_ context.Context, id string) (storage.Org, error) {
	if id != f.org.ID {
		return storage.Org{}, storage.ErrNotFound
	}
	return f.org, nil
}
func (f *uiFake) Orgs(context.Context) ([]storage.Org, error) { return []storage.Org{f.org}, nil }
func (f *uiFake) Site(_ context.Context, id string) (storage.Site, error) {
	return f.sites[0], nil
}
func (f *uiFake) Sites(context.Context, string) ([]storage.Site, error) { return f.sites, nil }
func (f *uiFake) User(_ context.Context, id string) (storage.User, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, u := range f.users {
		if u.ID == id {
			return u, nil
		}
	}
	return storage.User{}, fmt.Errorf("user %s: %w", id, storage.ErrNotFound)
}
func (f *uiFake) UserByEmail(_ context.Context, _, email string) (storage.User, error) {
	return f.UserByLogin(context.Background(), email)
}
func (f *uiFake) UserByLogin(_ context.Context, email string) (storage.User, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, u := range f.users {
		if u.Email == email {
			return u, nil
		}
	}
	return storage.User{}, storage.ErrNotFound
}
func (f *uiFake) Users(context.Context, string) ([]storage.User, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]storage.User(nil), f.users...), nil
}
func (f *uiFake) Roles(context.Context, string) ([]storage.Role, error) {
	return policy.DefaultRoles("org1"), nil
}
func (f *uiFake) Team(_ context.Context, id string) (storage.Team, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, t := range f.teams {
		if t.ID == id {
			return t, nil
		}
	}
	return storage.Team{}, fmt.Errorf("team %s: %w", id, storage.ErrNotFound)
}
func (f *uiFake) Teams(context.Context, string) ([]storage.Team, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]storage.Team(nil), f.teams...), nil
}
func (f *uiFake) TeamMembers(_ context.Context, teamID string) ([]storage.TeamMembership, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []storage.TeamMembership
	for _, m := range f.members {
		if m.TeamID == teamID {
			out = append(out, m)
		}
	}
	return out, nil
}
func (f *uiFake) UserTeams(_ context.Context, userID string) ([]storage.TeamMembership, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []storage.TeamMembership
	for _, m := range f.members {
		if m.UserID == userID {
			out = append(out, m)
		}
	}
	return out, nil
}
func (f *uiFake) LabelGroups(context.Context, string) ([]storage.LabelGroup, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]storage.LabelGroup(nil), f.groups...), nil
}
func (f *uiFake) Labels(context.Context, string) ([]storage.Label, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]storage.Label(nil), f.labels...), nil
}
func (f *uiFake) Contact(_ context.Context, id string) (storage.Contact, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, c := range f.contacts {
		if c.ID == id {
			return c, nil
		}
	}
	return storage.Contact{}, fmt.Errorf("contact %s: %w", id, storage.ErrNotFound)
}
func (f *uiFake) Contacts(context.Context, string) ([]storage.Contact, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]storage.Contact(nil), f.contacts...), nil
}
func (f *uiFake) Policy(context.Context, string) ([]storage.PolicyRule, error) { return f.rules, nil }
func (f *uiFake) TokenByHash(_ context.Context, hash []byte) (storage.APIToken, error) {
	return storage.APIToken{}, storage.ErrNotFound
}
func (f *uiFake) Tokens(_ context.Context, userID string) ([]storage.APIToken, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []storage.APIToken
	for _, t := range f.tokens {
		if t.UserID == userID {
			out = append(out, t)
		}
	}
	return out, nil
}

// Sessions.
func (f *uiFake) CreateWebSession(_ context.Context, s storage.WebSession) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.sessions[s.ID] = s
	return nil
}
func (f *uiFake) WebSession(_ context.Context, id string) (storage.WebSession, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	s, ok := f.sessions[id]
	if !ok {
		return s, storage.ErrNotFound
	}
	return s, nil
}
func (f *uiFake) TouchWebSession(context.Context, string, time.Time, time.Time) error { return nil }
func (f *uiFake) DeleteWebSession(_ context.Context, id string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.sessions, id)
	return nil
}
func (f *uiFake) Audit(_ context.Context, flt storage.AuditFilter) ([]storage.AuditEvent, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []storage.AuditEvent
	for i := len(f.audit) - 1; i >= 0; i-- {
		if strings.HasPrefix(f.audit[i].Action, flt.Action) {
			out = append(out, f.audit[i])
		}
	}
	return out, nil
}

// Authorizer: the default policy's grants per role.
func (f *uiFake) grants(userID string) map[string]bool {
	f.mu.Lock()
	roles := f.roles[userID]
	f.mu.Unlock()
	out := map[string]bool{}
	for _, r := range f.rules {
		for _, role := range roles {
			if r.PType == "p" && r.V[0] == policy.RoleSubject(role) {
				out[r.V[2]] = true
			}
		}
	}
	return out
}
func (f *uiFake) Check(_, userID, perm string) error {
	if !f.grants(userID)[perm] {
		return &storage.ForbiddenError{Permission: perm}
	}
	return nil
}
func (f *uiFake) Permissions(_, userID string) []string {
	var out []string
	for p := range f.grants(userID) {
		out = append(out, p)
	}
	sort.Strings(out)
	return out
}
func (f *uiFake) Roles_(userID string) []string { return f.roles[userID] }

// Admin.
func (f *uiFake) Authenticate(_ context.Context, email, password string) (storage.User, error) {
	u, err := f.UserByLogin(context.Background(), email)
	if err != nil || password != "secret-password" || !u.Active {
		return storage.User{}, storage.ErrUnauthenticated
	}
	return u, nil
}
func (f *uiFake) record(a Actor, action, target string) {
	f.audit = append(f.audit, storage.AuditEvent{ID: f.id("a"), OrgID: "org1", At: time.Now(), ActorID: a.UserID, Action: action, Target: target})
}
func (f *uiFake) CreateUser(_ context.Context, a Actor, in UserInput) (storage.User, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !strings.Contains(in.Email, "@") {
		return storage.User{}, &storage.ValidationError{Field: "email", Problem: "is not an e-mail address"}
	}
	for _, u := range f.users {
		if u.Email == in.Email {
			return storage.User{}, fmt.Errorf("e-mail %s is taken: %w", in.Email, storage.ErrConflict)
		}
	}
	u := storage.User{ID: f.id("u"), OrgID: "org1", Email: in.Email, Name: in.Name, Kind: storage.UserRegular, Active: true, CreatedAt: time.Now()}
	f.users = append(f.users, u)
	f.roles[u.ID] = in.Roles
	f.record(a, "user.create", u.ID)
	return u, nil
}
func (f *uiFake) UpdateUser(_ context.Context, a Actor, id string, p UserPatch) (storage.User, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for i, u := range f.users {
		if u.ID != id {
			continue
		}
		if p.Name != nil {
			if *p.Name == "" {
				return u, &storage.ValidationError{Field: "name", Problem: "must not be empty"}
			}
			u.Name = *p.Name
		}
		if p.Email != nil {
			u.Email = *p.Email
		}
		if p.Active != nil {
			u.Active = *p.Active
		}
		if p.Roles != nil {
			f.roles[id] = *p.Roles
		}
		f.users[i] = u
		f.record(a, "user.update", id)
		return u, nil
	}
	return storage.User{}, storage.ErrNotFound
}
func (f *uiFake) ChangePassword(_ context.Context, a Actor, current, next string) error {
	if current != "secret-password" {
		return storage.ErrUnauthenticated
	}
	return nil
}
func (f *uiFake) CreateTeam(_ context.Context, a Actor, name string) (storage.Team, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if name == "" {
		return storage.Team{}, &storage.ValidationError{Field: "name", Problem: "must not be empty"}
	}
	t := storage.Team{ID: f.id("t"), OrgID: "org1", Name: name, CreatedAt: time.Now()}
	f.teams = append(f.teams, t)
	return t, nil
}
func (f *uiFake) RenameTeam(_ context.Context, a Actor, id, name string) (storage.Team, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for i := range f.teams {
		if f.teams[i].ID == id {
			f.teams[i].Name = name
			return f.teams[i], nil
		}
	}
	return storage.Team{}, storage.ErrNotFound
}
func (f *uiFake) DeleteTeam(_ context.Context, a Actor, id string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	for i := range f.teams {
		if f.teams[i].ID == id {
			f.teams = append(f.teams[:i], f.teams[i+1:]...)
			return nil
		}
	}
	return storage.ErrNotFound
}
func (f *uiFake) SetTeamMember(_ context.Context, a Actor, teamID, userID string, role storage.TeamRole) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	switch role {
	case storage.TeamMember, storage.TeamLead, storage.TeamManager:
	default:
		return &storage.ValidationError{Field: "role", Problem: "must be member, lead or manager"}
	}
	for i, m := range f.members {
		if m.TeamID == teamID && m.UserID == userID {
			f.members[i].Role = role
			return nil
		}
	}
	f.members = append(f.members, storage.TeamMembership{TeamID: teamID, UserID: userID, Role: role})
	return nil
}
func (f *uiFake) RemoveTeamMember(_ context.Context, a Actor, teamID, userID string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	for i, m := range f.members {
		if m.TeamID == teamID && m.UserID == userID {
			f.members = append(f.members[:i], f.members[i+1:]...)
			return nil
		}
	}
	return storage.ErrNotFound
}
func (f *uiFake) PutLabelGroup(_ context.Context, a Actor, g storage.LabelGroup) (storage.LabelGroup, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if g.ID == "" {
		g.ID = f.id("g")
		f.groups = append(f.groups, g)
		return g, nil
	}
	for i := range f.groups {
		if f.groups[i].ID == g.ID {
			f.groups[i] = g
		}
	}
	return g, nil
}
func (f *uiFake) DeleteLabelGroup(_ context.Context, a Actor, id string) error { return nil }
func (f *uiFake) PutLabel(_ context.Context, a Actor, l storage.Label) (storage.Label, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if l.Name == "" {
		return l, &storage.ValidationError{Field: "name", Problem: "must not be empty"}
	}
	if l.ID == "" {
		l.ID = f.id("l")
		f.labels = append(f.labels, l)
	}
	return l, nil
}
func (f *uiFake) DeleteLabel(_ context.Context, a Actor, id string) error { return nil }
func (f *uiFake) PutContact(_ context.Context, a Actor, c storage.Contact) (storage.Contact, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if c.ID == "" {
		c.ID = f.id("c")
		f.contacts = append(f.contacts, c)
	}
	return c, nil
}
func (f *uiFake) DeleteContact(_ context.Context, a Actor, id string) error { return nil }
func (f *uiFake) CreateToken(_ context.Context, a Actor, name string, ttl time.Duration) (storage.APIToken, string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	t := storage.APIToken{ID: f.id("k"), OrgID: "org1", UserID: a.UserID, Name: name, CreatedAt: time.Now()}
	f.tokens = append(f.tokens, t)
	return t, TokenPrefix + "demo-secret-" + t.ID, nil
}
func (f *uiFake) DeleteToken(_ context.Context, a Actor, id string) error { return nil }
func (f *uiFake) Ready(context.Context) error                             { return nil }

// uiAuthz adapts the fake to Authorizer (its Roles name clashes with the
// OrgReader's).
type uiAuthz struct{ f *uiFake }

func (z uiAuthz) Check(o, u, p string) error       { return z.f.Check(o, u, p) }
func (z uiAuthz) Permissions(o, u string) []string { return z.f.Permissions(o, u) }
func (z uiAuthz) Roles(_, u string) []string       { return z.f.Roles_(u) }

func newUITestServer(t testing.TB) (*Server, *uiFake) {
	t.Helper()
	f := newUIFake()
	s, err := New(Config{
		BodyLimit: 1 << 20, SessionTTL: time.Hour, IdleTTL: time.Hour,
		LoginFailuresPerAccount: 5, LoginFailuresPerAddress: 20, LoginWindow: time.Minute,
	}, Deps{Org: f, Sessions: f, Authz: uiAuthz{f}, Admin: f, Health: f, DefaultOrgID: "org1", Version: "v0.1.0-test"})
	if err != nil {
		t.Fatal(err)
	}
	return s, f
}

// session logs a user in directly and returns the cookie value and CSRF
// token.
func (f *uiFake) session(userID string) (cookie, csrf string) {
	cookie, csrf = "cookie-"+userID, "csrf-"+userID
	sum := sha256.Sum256([]byte(cookie))
	_ = sum
	f.sessions[hashSecret(cookie)] = storage.WebSession{
		ID: hashSecret(cookie), UserID: userID, OrgID: "org1", CSRFToken: csrf,
		CreatedAt: time.Now(), SeenAt: time.Now(), ExpiresAt: time.Now().Add(time.Hour),
	}
	return cookie, csrf
}

type uiResp struct {
	status int
	body   string
	header http.Header
}

func uiDo(t testing.TB, s *Server, method, target, cookie string, form url.Values) uiResp {
	t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req := httptest.NewRequest(method, target, body)
	req.Header.Set("Accept", "text/html")
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if cookie != "" {
		req.AddCookie(&http.Cookie{Name: SessionCookie, Value: cookie})
	}
	resp, err := s.Handler().Test(req, -1)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return uiResp{status: resp.StatusCode, body: string(b), header: resp.Header}
}

func TestPagesParse(t *testing.T) {
	p, err := newPages()
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"login", "error", "home", "users", "user", "teams", "team", "labels", "contacts", "contact", "account", "audit", "policy"} {
		if p.sets[name] == nil {
			t.Errorf("no template for page %s", name)
		}
	}
}

func TestStaticAssetsVersioned(t *testing.T) {
	s, _ := newUITestServer(t)
	assets, err := assetTable()
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"app.css", "app.js", "favicon.svg"} {
		a, ok := assets[name]
		if !ok {
			t.Fatalf("no asset %s", name)
		}
		sum := sha256.Sum256(a.body)
		if want := fmt.Sprintf("%x", sum[:4]); !strings.Contains(a.versioned, "."+want+".") {
			t.Errorf("%s: versioned name %s lacks its hash %s", name, a.versioned, want)
		}
		r := uiDo(t, s, "GET", a.versioned, "", nil)
		if r.status != 200 || r.body != string(a.body) {
			t.Errorf("GET %s: %d", a.versioned, r.status)
		}
		if cc := r.header.Get("Cache-Control"); !strings.Contains(cc, "immutable") {
			t.Errorf("GET %s: Cache-Control %q", a.versioned, cc)
		}
	}
	if r := uiDo(t, s, "GET", "/favicon.ico", "", nil); r.status != 200 {
		t.Errorf("favicon: %d", r.status)
	}
	if r := uiDo(t, s, "GET", "/static/app.00000000.css", "", nil); r.status != 404 {
		t.Errorf("stale asset name: %d, want 404", r.status)
	}
}

func TestLocalPath(t *testing.T) {
	for in, ok := range map[string]bool{
		"/users": true, "/users/u1?x=1": true, "": false, "//evil.example": false,
		"/\\evil.example": false, "https://evil.example/": false, "users": false, "/a\nb": false,
	} {
		if _, got := localPath(in); got != ok {
			t.Errorf("localPath(%q) = %v, want %v", in, got, ok)
		}
	}
}

var uiCSRFField = regexp.MustCompile(`name="_csrf" value="([^"]*)"`)

func TestPagesRender(t *testing.T) {
	s, f := newUITestServer(t)
	admin, _ := f.session("u1")
	regular, _ := f.session("u2")
	pages := []string{"/", "/users", "/users/u2", "/teams", "/teams/t1", "/labels", "/contacts", "/contacts/c1", "/account", "/audit", "/policy"}
	for _, p := range pages {
		r := uiDo(t, s, "GET", p, admin, nil)
		if r.status != 200 {
			t.Errorf("admin GET %s: %d\n%s", p, r.status, r.body)
			continue
		}
		if !strings.Contains(r.body, `href="/users"`) || !strings.Contains(r.body, "Siteline") {
			t.Errorf("admin GET %s: navigation lacks the users entry", p)
		}
		if m := uiCSRFField.FindStringSubmatch(r.body); m == nil || m[1] != "csrf-u1" {
			t.Errorf("admin GET %s: no CSRF field with the session token", p)
		}
	}
	for _, p := range []string{"/", "/contacts", "/account"} {
		r := uiDo(t, s, "GET", p, regular, nil)
		if r.status != 200 {
			t.Errorf("regular GET %s: %d", p, r.status)
		}
		if strings.Contains(r.body, `href="/users"`) || strings.Contains(r.body, `href="/policy"`) {
			t.Errorf("regular GET %s: shows administration entries", p)
		}
	}
	r := uiDo(t, s, "GET", "/users", regular, nil)
	if r.status != 403 || !strings.Contains(r.body, "You need the permission "+policy.AdminMembers) {
		t.Errorf("regular GET /users: %d, want 403 naming %s", r.status, policy.AdminMembers)
	}
	if r := uiDo(t, s, "GET", "/users", "", nil); r.status != 303 || !strings.HasPrefix(r.header.Get("Location"), "/login?next=") {
		t.Errorf("anonymous GET /users: %d %s", r.status, r.header.Get("Location"))
	}
	if r := uiDo(t, s, "GET", "/login", "", nil); r.status != 200 || !strings.Contains(r.body, `name="password"`) {
		t.Errorf("GET /login: %d", r.status)
	}
	if r := uiDo(t, s, "GET", "/nowhere", admin, nil); r.status != 404 || !strings.Contains(r.body, `class="sidebar"`) {
		t.Errorf("GET /nowhere: %d, want 404 in the layout", r.status)
	}
}

func TestLoginForm(t *testing.T) {
	s, _ := newUITestServer(t)
	r := uiDo(t, s, "POST", "/login", "", url.Values{"email": {"alice@acme.example"}, "password": {"wrong"}, "next": {"/users"}})
	if r.status != 401 || !strings.Contains(r.body, "Wrong e-mail or password") || !strings.Contains(r.body, `value="alice@acme.example"`) {
		t.Errorf("wrong password: %d", r.status)
	}
	r = uiDo(t, s, "POST", "/login", "", url.Values{"email": {"alice@acme.example"}, "password": {"secret-password"}, "next": {"//evil.example"}})
	if r.status != 303 || r.header.Get("Location") != "/" {
		t.Errorf("login with foreign next: %d %q", r.status, r.header.Get("Location"))
	}
	r = uiDo(t, s, "POST", "/login", "", url.Values{"email": {"alice@acme.example"}, "password": {"secret-password"}, "next": {"/teams/t1"}})
	if r.status != 303 || r.header.Get("Location") != "/teams/t1" {
		t.Errorf("login with next: %d %q", r.status, r.header.Get("Location"))
	}
}

func TestForms(t *testing.T) {
	s, f := newUITestServer(t)
	admin, csrf := f.session("u1")

	// Without the CSRF token nothing changes.
	r := uiDo(t, s, "POST", "/teams", admin, url.Values{"name": {"Night shift"}})
	if r.status != 403 {
		t.Errorf("POST without CSRF: %d", r.status)
	}
	// A bad input shows the form again with the message and what was typed.
	r = uiDo(t, s, "POST", "/users", admin, url.Values{"_csrf": {csrf}, "name": {"Eve New"}, "email": {"not-an-address"}, "password": {"pw"}, "roles": {"regular"}})
	if r.status != 400 || !strings.Contains(r.body, "Email is not an e-mail address") || !strings.Contains(r.body, `value="Eve New"`) || strings.Contains(r.body, `value="pw"`) {
		t.Errorf("invalid user: %d", r.status)
	}
	r = uiDo(t, s, "POST", "/users", admin, url.Values{"_csrf": {csrf}, "name": {"Dup"}, "email": {"bob@acme.example"}, "password": {"pw"}})
	if r.status != 409 || !strings.Contains(r.body, "taken") {
		t.Errorf("duplicate user: %d", r.status)
	}
	// Success redirects with a flash message shown on the next page.
	r = uiDo(t, s, "POST", "/users", admin, url.Values{"_csrf": {csrf}, "name": {"Eve New"}, "email": {"eve@acme.example"}, "password": {"pw"}, "roles": {"regular", "team_member"}})
	if r.status != 303 || r.header.Get("Location") != "/users" || !strings.Contains(r.header.Get("Set-Cookie"), flashCookie) {
		t.Fatalf("create user: %d %q", r.status, r.header.Get("Location"))
	}
	if got := f.roles["u101"]; strings.Join(got, ",") != "regular,team_member" {
		t.Errorf("roles of the new user: %v", got)
	}
	for _, c := range []struct {
		path string
		form url.Values
		want int
	}{
		{"/teams", url.Values{"name": {"Night shift"}}, 303},
		{"/teams", url.Values{"name": {""}}, 400},
		{"/teams/t1/members", url.Values{"user_id": {"u1"}, "role": {"manager"}}, 303},
		{"/teams/t1/members", url.Values{"user_id": {"u1"}, "role": {"boss"}}, 400},
		{"/teams/t1/members", url.Values{"user_id": {""}, "role": {"member"}}, 400},
		{"/teams/t1/members/u2/delete", url.Values{}, 303},
		{"/label-groups", url.Values{"name": {"Fault"}, "color": {"#aa3300"}}, 303},
		{"/labels", url.Values{"group_id": {"g1"}, "name": {""}}, 400},
		{"/labels", url.Values{"group_id": {"g1"}, "name": {"Valve"}}, 303},
		{"/labels", url.Values{"group_id": {"nope"}, "name": {"Valve"}}, 404},
		{"/contacts", url.Values{"name": {"New Expert"}, "phone": {"+1 555"}}, 303},
		{"/users/u2/password", url.Values{"password": {"a"}, "confirm": {"b"}}, 400},
		{"/users/u2/status", url.Values{"active": {"false"}}, 303},
		{"/account/password", url.Values{"current": {"wrong"}, "new": {"x"}, "confirm": {"x"}}, 400},
		{"/account/tokens", url.Values{"name": {"ci"}, "ttl": {"30d"}}, 201},
		{"/account/tokens", url.Values{"name": {"ci"}, "ttl": {"soon"}}, 400},
	} {
		c.form.Set("_csrf", csrf)
		r := uiDo(t, s, "POST", c.path, admin, c.form)
		if r.status != c.want {
			t.Errorf("POST %s %v: %d, want %d", c.path, c.form, r.status, c.want)
		}
		if c.path == "/account/tokens" && r.status == 201 && !strings.Contains(r.body, TokenPrefix+"demo-secret-") {
			t.Errorf("new token's secret not shown")
		}
	}
	// A regular user sees the phonebook but may not edit it.
	regular, rcsrf := f.session("u3")
	f.mu.Lock()
	f.rules = []storage.PolicyRule{policy.Grant("org1", policy.RoleSubject(policy.RoleRegular), policy.ContactList)}
	f.mu.Unlock()
	if r := uiDo(t, s, "GET", "/contacts", regular, nil); r.status != 200 || strings.Contains(r.body, `action="/contacts"`) && strings.Contains(r.body, "Add a contact") {
		t.Errorf("viewer GET /contacts: %d or shows the add form", r.status)
	}
	r = uiDo(t, s, "POST", "/contacts", regular, url.Values{"_csrf": {rcsrf}, "name": {"X"}})
	if r.status != 403 || !strings.Contains(r.body, "You need the permission "+policy.PhonebookEditor) {
		t.Errorf("viewer POST /contacts: %d", r.status)
	}
}

func TestPolicyMatrix(t *testing.T) {
	rules := []storage.PolicyRule{
		policy.Grant("o", policy.RoleSubject("a"), policy.ContactList),
		{OrgID: "o", PType: "g", V: []string{policy.RoleSubject("b"), policy.RoleSubject("a"), "o"}},
		policy.Grant("o", policy.UserSubject("u1"), policy.AdminAuditLog),
	}
	m := buildMatrix([]storage.Role{{Name: "a"}, {Name: "b"}, {Name: "c"}}, rules, policy.All())
	var found bool
	for _, area := range m.Areas {
		for _, row := range area.Rows {
			if row.ID == policy.ContactList {
				found = true
				if !row.Cells[0].Granted || row.Cells[0].Inherited != "" || !row.Cells[1].Granted || row.Cells[1].Inherited != "a" || row.Cells[2].Granted {
					t.Errorf("cells %+v", row.Cells)
				}
			}
		}
	}
	if !found || m.UserGrants != 1 || m.Roles[0].Granted != 1 {
		t.Errorf("matrix: found %v, user grants %d, role a granted %d", found, m.UserGrants, m.Roles[0].Granted)
	}
}
