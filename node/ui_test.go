package node

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"siteline/policy"
	"siteline/storage"
	"siteline/web"
)

// page is a browser-like session on the backoffice: form posts, the
// session cookie, the CSRF token read from the page as a browser would.
type page struct {
	*browser
	html         string
	lastLocation string
}

var csrfField = regexp.MustCompile(`name="_csrf" value="([^"]+)"`)

// get loads a page as a browser navigation and remembers its CSRF token.
func (p *page) get(path string) (int, string) {
	p.t.Helper()
	req, _ := http.NewRequest("GET", p.base+path, nil)
	req.Header.Set("Accept", "text/html")
	st, body := p.send(req)
	p.html = body
	if m := csrfField.FindStringSubmatch(body); m != nil {
		p.csrf = m[1]
	}
	return st, body
}

// post submits a form with the page's CSRF token (unless withCSRF is false).
func (p *page) post(path string, form url.Values, withCSRF bool) (int, string, string) {
	p.t.Helper()
	if withCSRF {
		form.Set("_csrf", p.csrf)
	}
	req, _ := http.NewRequest("POST", p.base+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "text/html")
	req.Header.Set("Origin", p.base)
	st, body := p.send(req)
	return st, body, p.lastLocation
}

func (p *page) send(req *http.Request) (int, string) {
	p.t.Helper()
	if p.cookie != "" {
		req.AddCookie(&http.Cookie{Name: web.SessionCookie, Value: p.cookie})
	}
	resp, err := noRedirect.Do(req)
	if err != nil {
		p.t.Fatal(err)
	}
	defer resp.Body.Close()
	for _, c := range resp.Cookies() {
		if c.Name == web.SessionCookie {
			p.cookie = c.Value
		}
	}
	p.lastLocation = resp.Header.Get("Location")
	var sb strings.Builder
	buf := make([]byte, 32<<10)
	for {
		n, err := resp.Body.Read(buf)
		sb.Write(buf[:n])
		if err != nil {
			break
		}
	}
	return resp.StatusCode, sb.String()
}

// uiLogin logs in through the login form.
func (tn *testNode) uiLogin(email, password string) *page {
	tn.t.Helper()
	p := &page{browser: tn.anon()}
	st, _, loc := p.post("/login", url.Values{"email": {email}, "password": {password}}, false)
	if st != http.StatusSeeOther || p.cookie == "" {
		tn.t.Fatalf("form login %s = %d (location %q)", email, st, loc)
	}
	return p
}

func TestBackofficePagesForAdministrator(t *testing.T) {
	tn := startNode(t, Config{})
	api := tn.admin()
	var u userJSON
	api.do("POST", "/api/v1/users", web.UserInput{Email: "tech@plant.example", Password: "technician password"}, &u)
	var team storage.Team
	api.do("POST", "/api/v1/teams", map[string]string{"name": "Maintenance"}, &team)
	var c storage.Contact
	api.do("POST", "/api/v1/contacts", map[string]string{"name": "Pump vendor"}, &c)

	p := tn.uiLogin(tn.cfg.Organisation.AdminEmail, tn.password)
	for _, path := range []string{"/", "/users", "/users/" + u.ID, "/teams", "/teams/" + team.ID, "/labels", "/contacts", "/contacts/" + c.ID, "/account", "/audit", "/policy"} {
		st, body := p.get(path)
		if st != 200 {
			t.Errorf("GET %s = %d", path, st)
			continue
		}
		if !strings.Contains(body, "</html>") || !strings.Contains(body, "Siteline") {
			t.Errorf("GET %s: not a full page", path)
		}
		// Offline by construction: no asset or link leaves the node.
		if m := regexp.MustCompile(`(?:src|href)="(https?:)?//`).FindString(body); m != "" {
			t.Errorf("GET %s refers to another host: %s", path, m)
		}
		if path == "/audit" && !strings.Contains(body, "Pump vendor<br>") {
			t.Errorf("the audit log does not name the contact created")
		}
	}
	_, home := p.get("/")
	for _, link := range []string{`href="/users"`, `href="/teams"`, `href="/labels"`, `href="/contacts"`, `href="/audit"`, `href="/policy"`} {
		if !strings.Contains(home, link) {
			t.Errorf("administrator's navigation lacks %s", link)
		}
	}
}

func TestBackofficeShowsARegularUserLess(t *testing.T) {
	tn := startNode(t, Config{})
	tn.admin().do("POST", "/api/v1/users", web.UserInput{Email: "tech@plant.example", Password: "technician password"}, nil)
	p := tn.uiLogin("tech@plant.example", "technician password")
	st, home := p.get("/")
	if st != 200 {
		t.Fatalf("GET / = %d", st)
	}
	for _, link := range []string{`href="/users"`, `href="/teams"`, `href="/audit"`, `href="/policy"`} {
		if strings.Contains(home, link) {
			t.Errorf("regular user's navigation shows %s", link)
		}
	}
	if !strings.Contains(home, `href="/contacts"`) {
		t.Errorf("regular user's navigation lacks the phonebook")
	}
	st, body := p.get("/users")
	if st != 403 || !strings.Contains(body, policy.AdminMembers) {
		t.Errorf("GET /users as regular user = %d, want 403 naming %s", st, policy.AdminMembers)
	}
}

func TestBackofficeFormsChangeDataWithCSRF(t *testing.T) {
	tn := startNode(t, Config{})
	p := tn.uiLogin(tn.cfg.Organisation.AdminEmail, tn.password)
	p.get("/users")
	form := url.Values{"email": {"new@plant.example"}, "name": {"New Hire"}, "password": {"a good long password"}, "roles": {"regular"}}

	if st, _, _ := p.post("/users", cloneValues(form), false); st != 403 {
		t.Errorf("form without CSRF token = %d, want 403", st)
	}
	st, body, _ := p.post("/users", url.Values{"email": {"not an address"}, "password": {"a good long password"}}, true)
	if st != 400 || !strings.Contains(body, "e-mail") {
		t.Errorf("invalid form = %d, want 400 with the problem shown", st)
	}
	if st, _, loc := p.post("/users", cloneValues(form), true); st != http.StatusSeeOther {
		t.Fatalf("create user by form = %d (location %q)", st, loc)
	}
	if _, err := tn.n.store.UserByEmail(t.Context(), tn.n.OrgID(), "new@plant.example"); err != nil {
		t.Fatalf("user not created: %v", err)
	}
	// The new user logs in through the same form.
	tn.uiLogin("new@plant.example", "a good long password")

	// Logout ends the session.
	p.get("/")
	if st, _, _ := p.post("/logout", url.Values{}, true); st != http.StatusSeeOther {
		t.Errorf("logout = %d", st)
	}
	if st, _ := p.get("/users"); st != http.StatusSeeOther {
		t.Errorf("after logout GET /users = %d, want a redirect to the login page", st)
	}
}

func TestAnonymousIsSentToLogin(t *testing.T) {
	tn := startNode(t, Config{})
	p := &page{browser: tn.anon()}
	st, _ := p.get("/users")
	if st != http.StatusSeeOther || p.lastLocation != "/login?next=%2Fusers" {
		t.Errorf("anonymous GET /users = %d → %q", st, p.lastLocation)
	}
	if st, body := p.get("/login"); st != 200 || !strings.Contains(body, `type="password"`) {
		t.Errorf("login page = %d", st)
	}
	if st, _, _ := p.post("/login", url.Values{"email": {"admin@siteline.local"}, "password": {"wrong password"}}, false); st != 401 {
		t.Errorf("wrong password on the form = %d, want 401", st)
	}
}

func cloneValues(v url.Values) url.Values {
	out := url.Values{}
	for k, vs := range v {
		out[k] = append([]string(nil), vs...)
	}
	return out
}

func TestStaticAssetsAreVersionedAndCached(t *testing.T) {
	tn := startNode(t, Config{})
	p := &page{browser: tn.anon()}
	_, login := p.get("/login")
	assets := regexp.MustCompile(`(?:href|src)="(/static/[^"]+)"`).FindAllStringSubmatch(login, -1)
	if len(assets) < 3 {
		t.Fatalf("login page links %d assets", len(assets))
	}
	for _, m := range assets {
		if !regexp.MustCompile(`\.[0-9a-f]{8}\.(css|js|svg)$`).MatchString(m[1]) {
			t.Errorf("asset %s has no content hash in its name", m[1])
		}
		req, _ := http.NewRequest("GET", tn.url+m[1], nil)
		resp, err := noRedirect.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 || !strings.Contains(resp.Header.Get("Cache-Control"), "immutable") {
			t.Errorf("GET %s = %d, Cache-Control %q", m[1], resp.StatusCode, resp.Header.Get("Cache-Control"))
		}
	}
	if st, _ := p.get("/static/app.00000000.css"); st != 404 {
		t.Errorf("unknown asset version = %d, want 404", st)
	}
}

func TestPhonebookViewerCannotEdit(t *testing.T) {
	tn := startNode(t, Config{})
	api := tn.admin()
	// A role that may read the phonebook but not edit it.
	var u userJSON
	api.do("POST", "/api/v1/users", web.UserInput{Email: "viewer@plant.example", Password: "viewer's password", Roles: []string{}}, &u)
	rule := policy.Grant(tn.n.OrgID(), policy.UserSubject(u.ID), policy.ContactList)
	if err := tn.n.raft.Propose(t.Context(), storage.Command{Changes: []storage.Change{{Op: storage.OpAddPolicy, Rules: []storage.PolicyRule{rule}}}}); err != nil {
		t.Fatal(err)
	}
	p := tn.uiLogin("viewer@plant.example", "viewer's password")
	if st, body := p.get("/contacts"); st != 200 || strings.Contains(body, `method="post" action="/contacts"`) {
		t.Errorf("viewer GET /contacts = %d (or shows the add form)", st)
	}
	st, body, _ := p.post("/contacts", url.Values{"name": {"Sneaky"}}, true)
	if st != 403 || !strings.Contains(body, policy.PhonebookEditor) {
		t.Errorf("viewer POST /contacts = %d, want 403 naming %s", st, policy.PhonebookEditor)
	}
	cs, _ := tn.n.store.Contacts(t.Context(), tn.n.OrgID())
	if len(cs) != 0 {
		t.Errorf("refused form created %d contacts", len(cs))
	}
}

func TestOpenRedirectRefusedAtLogin(t *testing.T) {
	tn := startNode(t, Config{})
	for next, want := range map[string]string{"/teams": "/teams", "//evil.example/x": "/", "https://evil.example/": "/"} {
		p := &page{browser: tn.anon()}
		form := url.Values{"email": {tn.cfg.Organisation.AdminEmail}, "password": {tn.password}, "next": {next}}
		if st, _, loc := p.post("/login", form, false); st != http.StatusSeeOther || loc != want {
			t.Errorf("login with next=%q → %d %q, want %q", next, st, loc, want)
		}
	}
}
