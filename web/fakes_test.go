package web

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"siteline/policy"
	"siteline/storage"
)

// The fast tier: the server built on small in-memory fakes of the
// interfaces it declares, driven through fiber's in-process Test, with no
// node, no Raft and no sockets. End-to-end behaviour stays tested against a
// real node in package node.

// fakeData is the organisation behind every fake: one organisation, its
// users with their passwords and permissions, its teams, and the web
// sessions. changes records every change a fake use case was asked to make,
// so a test can tell that a refused request changed nothing.
type fakeData struct {
	mu        sync.Mutex
	org       storage.Org
	users     map[string]storage.User // by id
	passwords map[string]string       // by e-mail
	perms     map[string][]string     // by user id
	teams     map[string]storage.Team // by id
	sessions  map[string]storage.WebSession
	changes   []string
	// fail, when set, is what the next change returns instead of making
	// it.
	fail error
}

func newFakeData() *fakeData {
	return &fakeData{
		org:       storage.Org{ID: "o1", Name: "Plant One"},
		users:     map[string]storage.User{},
		passwords: map[string]string{},
		perms:     map[string][]string{},
		teams:     map[string]storage.Team{},
		sessions:  map[string]storage.WebSession{},
	}
}

// addUser adds an active user holding perms.
func (d *fakeData) addUser(id, email, password string, perms ...string) storage.User {
	d.mu.Lock()
	defer d.mu.Unlock()
	u := storage.User{ID: id, OrgID: d.org.ID, Email: email, Name: "User " + id, Active: true}
	d.users[id] = u
	d.passwords[email] = password
	d.perms[id] = perms
	return u
}

// change records a change, or returns the error set to fail it.
func (d *fakeData) change(format string, args ...any) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.fail != nil {
		return d.fail
	}
	d.changes = append(d.changes, fmt.Sprintf(format, args...))
	return nil
}

func (d *fakeData) changed() []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return slices.Clone(d.changes)
}

// fakeOrg reads the organisation data. Methods no test needs are left to
// the embedded nil interface: calling one panics, which the server answers
// with 500.
type fakeOrg struct {
	storage.OrgReader
	d *fakeData
}

func (o fakeOrg) Org(_ context.Context, id string) (storage.Org, error) {
	if id != o.d.org.ID {
		return storage.Org{}, fmt.Errorf("org %s: %w", id, storage.ErrNotFound)
	}
	return o.d.org, nil
}

func (o fakeOrg) User(_ context.Context, id string) (storage.User, error) {
	o.d.mu.Lock()
	defer o.d.mu.Unlock()
	u, ok := o.d.users[id]
	if !ok {
		return u, fmt.Errorf("user %s: %w", id, storage.ErrNotFound)
	}
	return u, nil
}

func (o fakeOrg) Users(_ context.Context, orgID string) ([]storage.User, error) {
	o.d.mu.Lock()
	defer o.d.mu.Unlock()
	var out []storage.User
	for _, u := range o.d.users {
		if u.OrgID == orgID {
			out = append(out, u)
		}
	}
	return out, nil
}

func (o fakeOrg) Teams(_ context.Context, orgID string) ([]storage.Team, error) {
	o.d.mu.Lock()
	defer o.d.mu.Unlock()
	var out []storage.Team
	for _, t := range o.d.teams {
		if t.OrgID == orgID {
			out = append(out, t)
		}
	}
	return out, nil
}

func (o fakeOrg) TeamMembers(context.Context, string) ([]storage.TeamMembership, error) {
	return nil, nil
}

// fakeSessions keeps web sessions in memory; Audit is left unimplemented.
type fakeSessions struct {
	Sessions
	d *fakeData
}

func (s fakeSessions) CreateWebSession(_ context.Context, ws storage.WebSession) error {
	s.d.mu.Lock()
	defer s.d.mu.Unlock()
	s.d.sessions[ws.ID] = ws
	return nil
}

func (s fakeSessions) WebSession(_ context.Context, id string) (storage.WebSession, error) {
	s.d.mu.Lock()
	defer s.d.mu.Unlock()
	ws, ok := s.d.sessions[id]
	if !ok {
		return ws, fmt.Errorf("web session: %w", storage.ErrNotFound)
	}
	return ws, nil
}

func (s fakeSessions) TouchWebSession(_ context.Context, id string, seen, expires time.Time) error {
	s.d.mu.Lock()
	defer s.d.mu.Unlock()
	ws := s.d.sessions[id]
	ws.SeenAt, ws.ExpiresAt = seen, expires
	s.d.sessions[id] = ws
	return nil
}

func (s fakeSessions) DeleteWebSession(_ context.Context, id string) error {
	s.d.mu.Lock()
	defer s.d.mu.Unlock()
	delete(s.d.sessions, id)
	return nil
}

// fakeAuthz grants each user the permissions fakeData lists for them.
type fakeAuthz struct{ d *fakeData }

func (z fakeAuthz) Check(_, userID, permission string) error {
	if slices.Contains(z.Permissions("", userID), permission) {
		return nil
	}
	return &storage.ForbiddenError{Permission: permission}
}

func (z fakeAuthz) Permissions(_, userID string) []string {
	z.d.mu.Lock()
	defer z.d.mu.Unlock()
	return slices.Clone(z.d.perms[userID])
}

func (z fakeAuthz) Roles(string, string) []string { return nil }

type fakeHealth struct{}

func (fakeHealth) Ready(context.Context) error { return nil }

// fakeAccounts checks the passwords of fakeData.
type fakeAccounts struct{ d *fakeData }

func (f fakeAccounts) Authenticate(_ context.Context, email, password string) (storage.User, error) {
	f.d.mu.Lock()
	defer f.d.mu.Unlock()
	if pw, ok := f.d.passwords[email]; !ok || pw != password {
		return storage.User{}, storage.ErrUnauthenticated
	}
	for _, u := range f.d.users {
		if u.Email == email {
			return u, nil
		}
	}
	return storage.User{}, storage.ErrUnauthenticated
}

func (f fakeAccounts) ChangePassword(_ context.Context, a Actor, _, _ string) error {
	return f.d.change("ChangePassword %s", a.UserID)
}

func (fakeAccounts) PasswordChangeRequired(context.Context, string) bool { return false }

type fakeBarrier struct{}

func (fakeBarrier) ReadBarrier(context.Context) error { return nil }

// fakeTeams creates teams in fakeData; the other changes are recorded.
type fakeTeams struct{ d *fakeData }

func (f fakeTeams) CreateTeam(_ context.Context, a Actor, name string) (storage.Team, error) {
	if strings.TrimSpace(name) == "" {
		return storage.Team{}, &storage.ValidationError{Field: "name", Problem: "must not be empty"}
	}
	if err := f.d.change("CreateTeam %s", name); err != nil {
		return storage.Team{}, err
	}
	f.d.mu.Lock()
	defer f.d.mu.Unlock()
	t := storage.Team{ID: fmt.Sprintf("t%d", len(f.d.teams)+1), OrgID: a.OrgID, Name: name}
	f.d.teams[t.ID] = t
	return t, nil
}

func (f fakeTeams) RenameTeam(_ context.Context, _ Actor, id, name string) (storage.Team, error) {
	return storage.Team{ID: id, Name: name}, f.d.change("RenameTeam %s %s", id, name)
}

func (f fakeTeams) DeleteTeam(_ context.Context, _ Actor, id string) error {
	return f.d.change("DeleteTeam %s", id)
}

func (f fakeTeams) SetTeamMember(_ context.Context, _ Actor, teamID, userID string, role storage.TeamRole) error {
	return f.d.change("SetTeamMember %s %s %s", teamID, userID, role)
}

func (f fakeTeams) RemoveTeamMember(_ context.Context, _ Actor, teamID, userID string) error {
	return f.d.change("RemoveTeamMember %s %s", teamID, userID)
}

// fakeChanges stands for every other use case: each is reachable, and a
// call on one panics (answered 500), which no test of a refusal reaches.
type fakeChanges struct {
	Users
	Labels
	Contacts
	Tokens
	PolicyAdmin
}

// Fakes of the optional services: nil interfaces, present so that their
// routes are registered; no test reaches their handlers.
type (
	fakeCalls   struct{ Calls }
	fakeCluster struct{ Cluster }
	fakeInvites struct{ Invites }
	fakeHistory struct{ SessionHistory }
	fakeEvents  struct{ Events }
	fakeMedia   struct{ Media }
	fakeReports struct{ reportService }
)

// reportService is Reports under another name: embedded as Reports, its
// field would hide its method of that name.
type reportService = Reports

// fakeDeps builds the server's dependencies on d: every required one, and
// none of the optional services.
func fakeDeps(d *fakeData) Deps {
	rest := fakeChanges{}
	return Deps{
		Org:          fakeOrg{d: d},
		Sessions:     fakeSessions{d: d},
		Authz:        fakeAuthz{d: d},
		Health:       fakeHealth{},
		Accounts:     fakeAccounts{d: d},
		Barrier:      fakeBarrier{},
		Users:        rest,
		Teams:        fakeTeams{d: d},
		Labels:       rest,
		Contacts:     rest,
		Tokens:       rest,
		Policy:       rest,
		DefaultOrgID: d.org.ID,
		Version:      "test",
	}
}

// withServices adds fakes of every optional service.
func withServices(deps *Deps) {
	deps.Calls, deps.Cluster, deps.Invites = fakeCalls{}, fakeCluster{}, fakeInvites{}
	deps.History, deps.Events, deps.Media, deps.Reports = fakeHistory{}, fakeEvents{}, fakeMedia{}, fakeReports{}
}

func testConfig() Config {
	return Config{
		BodyLimit: 1 << 20, SessionTTL: time.Hour, IdleTTL: time.Hour,
		LoginFailuresPerAccount: 5, LoginFailuresPerAddress: 20, LoginWindow: time.Minute,
		UploadLimit: 1 << 20, TokenMaxTTL: 24 * time.Hour,
	}
}

// newTestServer builds the server on fakes; opts change its dependencies
// before it is built.
func newTestServer(t *testing.T, opts ...func(*Deps)) (*Server, *fakeData) {
	t.Helper()
	d := newFakeData()
	deps := fakeDeps(d)
	for _, o := range opts {
		o(&deps)
	}
	s, err := New(testConfig(), deps)
	if err != nil {
		t.Fatal(err)
	}
	return s, d
}

// browser is a client of the test server: its session cookie and CSRF
// token once logged in.
type browser struct {
	t      *testing.T
	s      *Server
	cookie string
	csrf   string
}

// answer is a response read whole.
type answer struct {
	status int
	header http.Header
	body   string
}

// send sends a request; header values are set on it as given.
func (b *browser) send(method, path, contentType, body string, header ...string) answer {
	b.t.Helper()
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	if b.cookie != "" {
		req.AddCookie(&http.Cookie{Name: SessionCookie, Value: b.cookie})
	}
	resp, err := b.s.Handler().Test(req, -1)
	if err != nil {
		b.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		b.t.Fatalf("%s %s: read body: %v", method, path, err)
	}
	for _, c := range resp.Cookies() {
		if c.Name == SessionCookie {
			b.cookie = c.Value
		}
	}
	return answer{status: resp.StatusCode, header: resp.Header, body: string(raw)}
}

// api sends a JSON API call with the session's CSRF token.
func (b *browser) api(method, path, body string) answer {
	b.t.Helper()
	return b.send(method, path, "application/json", body, CSRFHeader, b.csrf, "Accept", "application/json")
}

// page asks for a page as a browser navigating does.
func (b *browser) page(path string) answer {
	b.t.Helper()
	return b.send("GET", path, "", "", "Accept", "text/html")
}

// form posts a form, with the session's CSRF token unless the form sets
// _csrf itself.
func (b *browser) form(path string, fields url.Values, header ...string) answer {
	b.t.Helper()
	if !fields.Has("_csrf") && b.csrf != "" {
		fields.Set("_csrf", b.csrf)
	}
	return b.send("POST", path, "application/x-www-form-urlencoded", fields.Encode(), append([]string{"Accept", "text/html"}, header...)...)
}

// login logs in through the API and keeps the session.
func (b *browser) login(email, password string) {
	b.t.Helper()
	got := b.send("POST", APIPrefix+"/session", "application/json",
		fmt.Sprintf(`{"email":%q,"password":%q}`, email, password))
	if got.status != http.StatusOK {
		b.t.Fatalf("login %s = %d %s", email, got.status, got.body)
	}
	var me meOut
	decodeBody(b.t, got, &me)
	if me.CSRFToken == "" || b.cookie == "" {
		b.t.Fatalf("login %s: no session (%s)", email, got.body)
	}
	b.csrf = me.CSRFToken
}

// users of the tests: an administrator of teams and members, and a user
// who holds no permission.
const (
	adminEmail  = "ada@plant.example"
	nobodyEmail = "ned@plant.example"
	testPass    = "correct horse battery"
)

// loggedIn builds a server with the two users and returns browsers logged
// in as each.
func loggedIn(t *testing.T, opts ...func(*Deps)) (s *Server, d *fakeData, admin, nobody *browser) {
	t.Helper()
	s, d = newTestServer(t, opts...)
	d.addUser("u1", adminEmail, testPass, policy.AdminTeams, policy.AdminMembers, policy.HomeDashboardAccess)
	d.addUser("u2", nobodyEmail, testPass)
	admin, nobody = &browser{t: t, s: s}, &browser{t: t, s: s}
	admin.login(adminEmail, testPass)
	nobody.login(nobodyEmail, testPass)
	return s, d, admin, nobody
}
