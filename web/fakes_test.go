package web

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
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
// sessions; and a second organisation with records of its own, which the
// first one's users must never reach. changes records every change a fake
// use case was asked to make, so a test can tell that a refused request
// changed nothing.
type fakeData struct {
	mu        sync.Mutex
	org       storage.Org
	orgs      map[string]storage.Org
	users     map[string]storage.User // by id
	passwords map[string]string       // by e-mail
	perms     map[string][]string     // by user id
	teams     map[string]storage.Team // by id
	members   []storage.TeamMembership
	contacts  map[string]storage.Contact       // by id
	sites     map[string]storage.Site          // by id
	versions  map[string]storage.PolicyVersion // by id
	sessions  map[string]storage.WebSession
	settings  map[string]storage.HistorySettings // by org id; the defaults when absent
	changes   []string
	// fail, when set, is what the next change returns instead of making
	// it.
	fail error
}

func newFakeData() *fakeData {
	org := storage.Org{ID: "o1", Name: "Plant One"}
	return &fakeData{
		org:       org,
		orgs:      map[string]storage.Org{org.ID: org},
		users:     map[string]storage.User{},
		passwords: map[string]string{},
		perms:     map[string][]string{},
		teams:     map[string]storage.Team{},
		contacts:  map[string]storage.Contact{},
		sites:     map[string]storage.Site{},
		versions:  map[string]storage.PolicyVersion{},
		sessions:  map[string]storage.WebSession{},
		settings:  map[string]storage.HistorySettings{},
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

// addOrgRecords gives organisation orgID a site, a user, a team with that
// user in it, a contact and a policy version, each with an id that starts
// with prefix, and returns the ids by kind.
func (d *fakeData) addOrgRecords(orgID, prefix string) map[string]string {
	d.mu.Lock()
	defer d.mu.Unlock()
	if _, ok := d.orgs[orgID]; !ok {
		d.orgs[orgID] = storage.Org{ID: orgID, Name: "Org " + orgID}
	}
	ids := map[string]string{"site": prefix + "-site", "user": prefix + "-user", "team": prefix + "-team",
		"contact": prefix + "-contact", "version": prefix + "-version"}
	d.sites[ids["site"]] = storage.Site{ID: ids["site"], OrgID: orgID, Name: "Site " + prefix}
	d.users[ids["user"]] = storage.User{ID: ids["user"], OrgID: orgID, Email: prefix + "@plant.example", Name: "User " + prefix, Active: true}
	d.teams[ids["team"]] = storage.Team{ID: ids["team"], OrgID: orgID, Name: "Team " + prefix}
	d.members = append(d.members, storage.TeamMembership{TeamID: ids["team"], UserID: ids["user"], Role: storage.TeamLead})
	d.contacts[ids["contact"]] = storage.Contact{ID: ids["contact"], OrgID: orgID, Name: "Contact " + prefix}
	d.versions[ids["version"]] = storage.PolicyVersion{ID: ids["version"], OrgID: orgID, Note: "version " + prefix}
	return ids
}

// fakeOrg reads the organisation data as the store's scoped reads do: a
// record of another organisation is not found.
type fakeOrg struct{ d *fakeData }

// scoped returns the record of orgID under id in m, or ErrNotFound naming
// what was looked up.
func scoped[T any](d *fakeData, m map[string]T, orgOf func(T) string, what, orgID, id string) (T, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	v, ok := m[id]
	if !ok || orgOf(v) != orgID {
		var zero T
		return zero, fmt.Errorf("%s %s: %w", what, id, storage.ErrNotFound)
	}
	return v, nil
}

// listed returns the records of orgID in m, ordered by id.
func listed[T any](d *fakeData, m map[string]T, orgOf func(T) string, orgID string) []T {
	d.mu.Lock()
	defer d.mu.Unlock()
	out := []T{}
	for _, id := range slices.Sorted(maps.Keys(m)) {
		if orgOf(m[id]) == orgID {
			out = append(out, m[id])
		}
	}
	return out
}

func userOrg(u storage.User) string             { return u.OrgID }
func teamOrg(t storage.Team) string             { return t.OrgID }
func contactOrg(c storage.Contact) string       { return c.OrgID }
func siteOrg(s storage.Site) string             { return s.OrgID }
func versionOrg(v storage.PolicyVersion) string { return v.OrgID }

func (o fakeOrg) Org(_ context.Context, orgID string) (storage.Org, error) {
	return scoped(o.d, o.d.orgs, func(g storage.Org) string { return g.ID }, "org", orgID, orgID)
}

func (o fakeOrg) Sites(_ context.Context, orgID string) ([]storage.Site, error) {
	return listed(o.d, o.d.sites, siteOrg, orgID), nil
}

func (o fakeOrg) Site(_ context.Context, orgID, id string) (storage.Site, error) {
	return scoped(o.d, o.d.sites, siteOrg, "site", orgID, id)
}

func (o fakeOrg) User(_ context.Context, orgID, id string) (storage.User, error) {
	return scoped(o.d, o.d.users, userOrg, "user", orgID, id)
}

func (o fakeOrg) Users(_ context.Context, orgID string) ([]storage.User, error) {
	return listed(o.d, o.d.users, userOrg, orgID), nil
}

func (o fakeOrg) Roles(context.Context, string) ([]storage.Role, error) { return []storage.Role{}, nil }

func (o fakeOrg) Team(_ context.Context, orgID, id string) (storage.Team, error) {
	return scoped(o.d, o.d.teams, teamOrg, "team", orgID, id)
}

func (o fakeOrg) Teams(_ context.Context, orgID string) ([]storage.Team, error) {
	return listed(o.d, o.d.teams, teamOrg, orgID), nil
}

// membersOf lists a team's memberships.
func (o fakeOrg) membersOf(teamID string) []storage.TeamMembership {
	o.d.mu.Lock()
	defer o.d.mu.Unlock()
	out := []storage.TeamMembership{}
	for _, m := range o.d.members {
		if m.TeamID == teamID {
			out = append(out, m)
		}
	}
	return out
}

func (o fakeOrg) TeamWithMembers(ctx context.Context, orgID, id string) (storage.TeamWithMembers, error) {
	t, err := o.Team(ctx, orgID, id)
	if err != nil {
		return storage.TeamWithMembers{}, err
	}
	return storage.TeamWithMembers{Team: t, Members: o.membersOf(t.ID)}, nil
}

func (o fakeOrg) TeamsWithMembers(ctx context.Context, orgID string) ([]storage.TeamWithMembers, error) {
	teams, _ := o.Teams(ctx, orgID)
	out := make([]storage.TeamWithMembers, 0, len(teams))
	for _, t := range teams {
		out = append(out, storage.TeamWithMembers{Team: t, Members: o.membersOf(t.ID)})
	}
	return out, nil
}

func (o fakeOrg) UserTeams(ctx context.Context, orgID, userID string) ([]storage.UserTeam, error) {
	teams, _ := o.TeamsWithMembers(ctx, orgID)
	out := []storage.UserTeam{}
	for _, t := range teams {
		for _, m := range t.Members {
			if m.UserID == userID {
				out = append(out, storage.UserTeam{TeamMembership: m, TeamName: t.Name})
			}
		}
	}
	return out, nil
}

func (o fakeOrg) LabelGroups(context.Context, string) ([]storage.LabelGroup, error) {
	return []storage.LabelGroup{}, nil
}

func (o fakeOrg) Labels(context.Context, string) ([]storage.Label, error) {
	return []storage.Label{}, nil
}

func (o fakeOrg) HistorySettings(_ context.Context, orgID string) (storage.HistorySettings, error) {
	o.d.mu.Lock()
	defer o.d.mu.Unlock()
	if h, ok := o.d.settings[orgID]; ok {
		return h, nil
	}
	return storage.DefaultHistorySettings(orgID), nil
}

// fakeSettings replaces the history settings as the org service does:
// normalised, validated, recorded.
type fakeSettings struct{ d *fakeData }

func (f fakeSettings) PutHistorySettings(_ context.Context, a Actor, h storage.HistorySettings) (storage.HistorySettings, error) {
	h.OrgID = a.OrgID
	h.Normalize()
	if err := h.Validate(); err != nil {
		return h, err
	}
	if err := f.d.change("history settings of %s", a.OrgID); err != nil {
		return h, err
	}
	f.d.mu.Lock()
	defer f.d.mu.Unlock()
	f.d.settings[a.OrgID] = h
	return h, nil
}

func (o fakeOrg) Contact(_ context.Context, orgID, id string) (storage.Contact, error) {
	return scoped(o.d, o.d.contacts, contactOrg, "contact", orgID, id)
}

func (o fakeOrg) Contacts(_ context.Context, orgID string) ([]storage.Contact, error) {
	return listed(o.d, o.d.contacts, contactOrg, orgID), nil
}

// SearchContacts filters and pages the contacts as the store does, by a
// direct computation: its cursor is the offset of the next page.
func (o fakeOrg) SearchContacts(ctx context.Context, q storage.ContactQuery) (storage.ContactPage, error) {
	all, _ := o.Contacts(ctx, q.OrgID)
	text := strings.ToLower(strings.TrimSpace(q.Text))
	var match []storage.Contact
	for _, c := range all {
		if strings.Contains(strings.ToLower(c.Name+"\x00"+c.Company+"\x00"+c.Email+"\x00"+c.Phone), text) {
			match = append(match, c)
		}
	}
	slices.SortFunc(match, func(a, b storage.Contact) int {
		return cmp.Or(strings.Compare(strings.ToLower(a.Name), strings.ToLower(b.Name)), strings.Compare(a.ID, b.ID))
	})
	limit, from := cmp.Or(q.Limit, storage.DefaultContactPage), q.Offset
	if q.Cursor != "" {
		n, err := strconv.Atoi(strings.TrimPrefix(q.Cursor, "at-"))
		if err != nil || !strings.HasPrefix(q.Cursor, "at-") || n > len(match) {
			return storage.ContactPage{}, &storage.ValidationError{Field: "cursor", Problem: "is malformed or was altered"}
		}
		from = n
	}
	page := storage.ContactPage{Total: len(match), Contacts: match[min(from, len(match)):min(from+limit, len(match))]}
	if from+limit < len(match) {
		page.Next = fmt.Sprintf("at-%d", from+limit)
	}
	return page, nil
}

func (o fakeOrg) Policy(context.Context, string) ([]storage.PolicyRule, error) {
	return []storage.PolicyRule{}, nil
}

func (o fakeOrg) PolicyVersions(_ context.Context, orgID string) ([]storage.PolicyVersion, error) {
	return listed(o.d, o.d.versions, versionOrg, orgID), nil
}

func (o fakeOrg) PolicyVersion(_ context.Context, orgID, id string) (storage.PolicyVersion, error) {
	return scoped(o.d, o.d.versions, versionOrg, "policy version", orgID, id)
}

func (o fakeOrg) Tokens(context.Context, string, string) ([]storage.APIToken, error) {
	return []storage.APIToken{}, nil
}

func (o fakeOrg) OrgTokens(context.Context, string) ([]storage.APIToken, error) {
	return []storage.APIToken{}, nil
}

func (o fakeOrg) Counts(ctx context.Context, orgID string) (storage.OrgCounts, error) {
	users, _ := o.Users(ctx, orgID)
	teams, _ := o.Teams(ctx, orgID)
	contacts, _ := o.Contacts(ctx, orgID)
	c := storage.OrgCounts{Users: len(users), Teams: len(teams), Contacts: len(contacts)}
	for _, u := range users {
		if u.Active {
			c.ActiveUsers++
		}
	}
	return c, nil
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
		Settings:     fakeSettings{d: d},
		DefaultOrgID: d.org.ID,
		Version:      "test",
	}
}

// withServices adds fakes of every optional service.
func withServices(deps *Deps) {
	deps.Calls, deps.Cluster, deps.Invites = fakeCalls{}, fakeCluster{}, fakeInvites{}
	deps.History, deps.Events, deps.Media, deps.Reports = fakeHistory{}, fakeEvents{}, fakeMedia{}, fakeReports{}
	deps.Members = &fakeMembers{}                              // members_test.go
	deps.Phone = &fakePhone{}                                  // phone_test.go
	deps.People, deps.Activity = &fakePeople{}, fakeActivity{} // people_test.go
	deps.Supervision = &fakeSupervision{}                      // supervision_test.go
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
