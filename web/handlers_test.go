package web

import (
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"siteline/policy"
	"siteline/storage"
)

func decodeBody(t *testing.T, a answer, v any) {
	t.Helper()
	if err := json.Unmarshal([]byte(a.body), v); err != nil {
		t.Fatalf("decode %q: %v", a.body, err)
	}
}

func errorBody(t *testing.T, a answer) ErrorBody {
	t.Helper()
	var e ErrorBody
	decodeBody(t, a, &e)
	return e
}

// concrete fills a route's parameters.
func concrete(path string) string {
	return apiParam.ReplaceAllString(path, "x$1")
}

func TestNewNamesTheMissingDependencies(t *testing.T) {
	deps := fakeDeps(newFakeData())
	deps.Users, deps.Policy = nil, nil
	_, err := New(testConfig(), deps)
	if err == nil || !strings.Contains(err.Error(), "Users") || !strings.Contains(err.Error(), "Policy") {
		t.Fatalf("New without Users and Policy = %v, want an error naming both", err)
	}
}

// A service the node runs without has no routes: its paths answer 404 like
// any unknown path, before any login is asked for, and the OpenAPI
// document does not list them. Given the service, they are served again.
func TestRoutesOfAbsentServicesAreNotServed(t *testing.T) {
	paths := []struct{ method, path string }{
		{"POST", APIPrefix + "/calls"},
		{"GET", APIPrefix + "/cluster"},
		{"GET", APIPrefix + "/invitations"},
		{"GET", APIPrefix + "/sessions"},
		{"GET", APIPrefix + "/waiting-calls"},
		{"GET", APIPrefix + "/media/{id}"},
		{"GET", APIPrefix + "/member-invitations"},
		{"POST", APIPrefix + "/contacts/import"},
	}
	openAPIPaths := func(s *Server) map[string]map[string]any {
		b := &browser{t: t, s: s}
		got := b.api("GET", APIPrefix+"/openapi.json", "")
		if got.status != http.StatusOK {
			t.Fatalf("openapi = %d", got.status)
		}
		var doc struct {
			Paths map[string]map[string]any `json:"paths"`
		}
		decodeBody(t, got, &doc)
		return doc.Paths
	}

	without, _ := newTestServer(t)
	doc := openAPIPaths(without)
	anon := &browser{t: t, s: without}
	for _, p := range paths {
		if _, ok := doc[p.path][strings.ToLower(p.method)]; ok {
			t.Errorf("OpenAPI lists %s %s of a service the server does not have", p.method, p.path)
		}
		got := anon.api(p.method, concrete(strings.NewReplacer("{", ":", "}", "").Replace(p.path)), "")
		if e := errorBody(t, got); got.status != http.StatusNotFound || e.Code != "not_found" {
			t.Errorf("%s %s without its service = %d %+v, want 404 not_found", p.method, p.path, got.status, e)
		}
	}
	if got := anon.page("/calls/c1"); got.status != http.StatusNotFound || !strings.Contains(got.body, "Not found") {
		t.Errorf("call page without the call service = %d, want the 404 page", got.status)
	}

	with, _ := newTestServer(t, withServices)
	doc = openAPIPaths(with)
	anon = &browser{t: t, s: with}
	for _, p := range paths {
		if _, ok := doc[p.path][strings.ToLower(p.method)]; !ok {
			t.Errorf("OpenAPI does not list %s %s, which the server serves", p.method, p.path)
		}
		got := anon.api(p.method, concrete(strings.NewReplacer("{", ":", "}", "").Replace(p.path)), "")
		if got.status != http.StatusUnauthorized {
			t.Errorf("anonymous %s %s with its service = %d, want 401", p.method, p.path, got.status)
		}
	}
}

// Every route that is not public wants a login, and every route with a
// permission refuses a user without it with 403 naming it, as JSON on the
// API and as a page in the backoffice, and changes nothing.
func TestEveryRouteWantsLoginAndItsPermission(t *testing.T) {
	s, d, _, nobody := loggedIn(t, withServices)
	anon := &browser{t: t, s: s}
	var checked int
	for _, r := range s.routes {
		if r.public {
			continue
		}
		path := concrete(r.path)
		name := r.method + " " + r.path
		switch {
		case !r.page:
			got := anon.send(r.method, path, "application/json", "{}", "Accept", "application/json")
			if e := errorBody(t, got); got.status != http.StatusUnauthorized || e.Code != "unauthenticated" {
				t.Errorf("anonymous %s = %d %+v, want 401 unauthenticated", name, got.status, e)
			}
		case r.method == "GET":
			got := anon.page(path)
			if loc := got.header.Get("Location"); got.status != http.StatusSeeOther || !strings.HasPrefix(loc, "/login?next=") {
				t.Errorf("anonymous %s = %d to %q, want a redirect to the login page", name, got.status, loc)
			}
		default:
			got := anon.form(path, url.Values{})
			if got.status != http.StatusUnauthorized || !strings.Contains(got.body, "Please log in") {
				t.Errorf("anonymous %s = %d, want the 401 page", name, got.status)
			}
		}

		if r.perm == "" || r.open {
			continue
		}
		checked++
		if r.page {
			var got answer
			if r.method == "GET" {
				got = nobody.page(path)
			} else {
				got = nobody.form(path, url.Values{})
			}
			if got.status != http.StatusForbidden || !strings.Contains(got.body, "You need the permission "+r.perm) {
				t.Errorf("%s without roles = %d, want the 403 page naming %s", name, got.status, r.perm)
			}
			continue
		}
		got := nobody.api(r.method, path, "{}")
		if e := errorBody(t, got); got.status != http.StatusForbidden || e.Code != "forbidden" || e.Permission != r.perm {
			t.Errorf("%s without roles = %d %+v, want 403 naming %s", name, got.status, e, r.perm)
		}
	}
	if checked < 60 {
		t.Errorf("only %d routes carry a permission", checked)
	}
	if ch := d.changed(); len(ch) > 0 {
		t.Errorf("refused requests changed %v", ch)
	}
}

// The error page of a denial says what the missing permission allows, from
// the catalogue.
func TestDeniedPageExplainsThePermission(t *testing.T) {
	_, _, _, nobody := loggedIn(t)
	p, ok := policy.Lookup(policy.AdminTeams)
	if !ok {
		t.Fatalf("%s is not in the catalogue", policy.AdminTeams)
	}
	got := nobody.page("/teams")
	if got.status != http.StatusForbidden || !strings.Contains(html.UnescapeString(got.body), p.Meaning) {
		t.Errorf("GET /teams without roles = %d, want the 403 page saying %q", got.status, p.Meaning)
	}
}

// One mapping for every answer: a domain error returned by a use case gives
// the same status to the API's JSON, to the error page and to a form shown
// again, with the API's code; only a wrong password is bad input (400) on a
// form.
func TestErrorsMapToTheSameStatusOnTheAPIAndPages(t *testing.T) {
	for _, tc := range []struct {
		err        error
		status     int
		code       string
		onForm     bool   // shown on the form, else on the error page
		formStatus int    // when it differs
		says       string // on the page
	}{
		{&storage.ValidationError{Field: "name", Problem: "is too long"}, 400, "invalid", true, 0, "Name is too long"},
		{fmt.Errorf("team Night shift: %w", storage.ErrConflict), 409, "conflict", true, 0, "Team Night shift"},
		{fmt.Errorf("team t9: %w", storage.ErrNotFound), 404, "not_found", false, 0, "team t9: not found"},
		{&storage.ForbiddenError{Permission: policy.AdminLabels}, 403, "forbidden", false, 0, "You need the permission " + policy.AdminLabels},
		{fmt.Errorf("propose: %w: no raft leader", storage.ErrFederationUnreachable), 503, "federation_unreachable", true, 0, "Headquarters cannot be reached from here"},
		{fmt.Errorf("propose: %w", storage.ErrOutcomeUnknown), 503, "outcome_unknown", true, 0, "may still be applied"},
		{&TooManyError{Reason: "too many changes", RetryAfter: 2 * time.Second}, 429, "rate_limited", true, 0, "Too many changes"},
		{storage.ErrUnauthenticated, 401, "unauthenticated", true, 400, "Not authenticated"},
		{errors.New("disk on fire"), 500, "internal", false, 0, "internal error"},
	} {
		t.Run(tc.code, func(t *testing.T) {
			_, d, admin, _ := loggedIn(t)
			d.fail = tc.err

			got := admin.api("POST", APIPrefix+"/teams", `{"name":"Night shift"}`)
			e := errorBody(t, got)
			if got.status != tc.status || e.Code != tc.code {
				t.Errorf("API = %d %+v, want %d %s", got.status, e, tc.status, tc.code)
			}
			var fb *storage.ForbiddenError
			if errors.As(tc.err, &fb) && e.Permission != fb.Permission {
				t.Errorf("API names permission %q, want %q", e.Permission, fb.Permission)
			}
			if tc.status == 500 && strings.Contains(got.body, "fire") {
				t.Errorf("API shows an internal error: %s", got.body)
			}

			page := admin.form("/teams", url.Values{"name": {"Night shift"}})
			want := tc.status
			if tc.formStatus != 0 {
				want = tc.formStatus
			}
			body := html.UnescapeString(page.body)
			if page.status != want || !strings.Contains(body, tc.says) {
				t.Errorf("form = %d, want %d saying %q", page.status, want, tc.says)
			}
			// A form shown again keeps what was typed; an error page has
			// no form.
			if kept := strings.Contains(body, `value="Night shift"`); kept != tc.onForm {
				t.Errorf("form shown again with the input: %v, want %v", kept, tc.onForm)
			}
			if tc.status == 429 && got.header.Get("Retry-After") != "2" {
				t.Errorf("Retry-After = %q on the API, want 2", got.header.Get("Retry-After"))
			}
			if ch := d.changed(); len(ch) > 0 {
				t.Errorf("a failed change was made: %v", ch)
			}
		})
	}
}

func TestDeadLinkErrorsAreMappedWithTheOthers(t *testing.T) {
	for reason, status := range map[string]int{"unknown": 404, "malformed": 404, "expired": 410, "revoked": 410} {
		he := toHTTP(fmt.Errorf("inspect link: %w", &DeadLinkError{Reason: reason, Message: "This link " + reason}))
		if he.Status != status || he.Code != "link_"+reason || he.Message != "This link "+reason {
			t.Errorf("dead link %s = %d %s %q, want %d link_%s with its own message", reason, he.Status, he.Code, he.Message, status, reason)
		}
		if _, _, ok := formError(&DeadLinkError{Reason: reason}); ok {
			t.Errorf("dead link %s is shown on a form; it has a page of its own", reason)
		}
	}
}

// A change with the session cookie needs the session's CSRF token and, when
// the browser names one, this origin; without them nothing changes.
func TestCSRFGuardsCookieChanges(t *testing.T) {
	_, d, admin, _ := loggedIn(t)
	create := `{"name":"Night shift"}`
	for _, tc := range []struct {
		name   string
		header []string
	}{
		{"no token", nil},
		{"wrong token", []string{CSRFHeader, "not-the-token"}},
		{"another site", []string{CSRFHeader, admin.csrf, "Origin", "https://evil.example"}},
	} {
		got := admin.send("POST", APIPrefix+"/teams", "application/json", create, tc.header...)
		if e := errorBody(t, got); got.status != http.StatusForbidden || e.Code != "csrf" {
			t.Errorf("API change with %s = %d %+v, want 403 csrf", tc.name, got.status, e)
		}
	}
	if got := admin.form("/teams", url.Values{"name": {"Night shift"}, "_csrf": {"not-the-token"}}); got.status != http.StatusForbidden {
		t.Errorf("form with a wrong token = %d, want 403", got.status)
	}
	if ch := d.changed(); len(ch) > 0 {
		t.Fatalf("refused changes were made: %v", ch)
	}

	if got := admin.page("/teams"); got.status != http.StatusOK {
		t.Errorf("GET needs no token: %d", got.status)
	}
	if got := admin.send("POST", APIPrefix+"/teams", "application/json", create, CSRFHeader, admin.csrf, "Origin", "http://example.com"); got.status != http.StatusCreated {
		t.Errorf("API change with the token from this origin = %d %s, want 201", got.status, got.body)
	}
	if got := admin.form("/teams", url.Values{"name": {"Day shift"}}); got.status != http.StatusSeeOther {
		t.Errorf("form with the token = %d, want 303", got.status)
	}
	if ch := d.changed(); len(ch) != 2 {
		t.Errorf("changes = %v, want the two teams", ch)
	}
}

// A form that fails is shown again with the message next to the field at
// fault and what was typed; one that succeeds redirects with a message for
// the next page.
func TestFormsShowTheirErrorsAndRedirectOnSuccess(t *testing.T) {
	_, d, admin, _ := loggedIn(t)

	got := admin.form("/teams", url.Values{"name": {"   "}})
	body := html.UnescapeString(got.body)
	if got.status != http.StatusBadRequest || !strings.Contains(body, "Name must not be empty") || !strings.Contains(body, `class="invalid"`) {
		t.Errorf("empty name = %d, want 400 with the message on the name field", got.status)
	}

	got = admin.form("/teams", url.Values{"name": {"Night shift"}})
	if got.status != http.StatusSeeOther || got.header.Get("Location") != "/teams/t1" {
		t.Fatalf("create = %d to %q, want 303 to /teams/t1", got.status, got.header.Get("Location"))
	}
	var flash string
	for _, c := range (&http.Response{Header: got.header}).Cookies() {
		if c.Name == flashCookie {
			flash, _ = url.QueryUnescape(c.Value)
		}
	}
	if flash != "Created team Night shift." {
		t.Errorf("flash = %q", flash)
	}
	if ch := d.changed(); len(ch) != 1 || ch[0] != "CreateTeam Night shift" {
		t.Errorf("changes = %v", ch)
	}

	// The message is shown once, on the next page.
	bare := &browser{t: t, s: admin.s}
	req := bare.send("GET", "/teams", "", "", "Accept", "text/html", "Cookie", flashCookie+"="+url.QueryEscape(flash)+"; "+SessionCookie+"="+admin.cookie)
	if req.status != http.StatusOK || !strings.Contains(html.UnescapeString(req.body), flash) {
		t.Errorf("next page = %d, want it to show %q", req.status, flash)
	}
}

func TestLoginForm(t *testing.T) {
	s, _, _, _ := loggedIn(t)
	b := &browser{t: t, s: s}

	if got := b.page("/login?next=/teams"); got.status != http.StatusOK || !strings.Contains(got.body, `name="password"`) {
		t.Fatalf("login page = %d", got.status)
	}

	got := b.form("/login", url.Values{"email": {adminEmail}, "password": {"wrong"}, "next": {"/teams"}})
	body := html.UnescapeString(got.body)
	if got.status != http.StatusUnauthorized || !strings.Contains(body, "Wrong e-mail or password.") || !strings.Contains(body, `value="`+adminEmail+`"`) {
		t.Errorf("wrong password = %d, want 401 saying so with the e-mail kept", got.status)
	}
	if strings.Contains(body, `value="wrong"`) {
		t.Error("the password typed is shown again")
	}
	if b.cookie != "" {
		t.Fatal("a failed login set a session")
	}

	got = b.form("/login", url.Values{"email": {adminEmail}, "password": {testPass}}, "Origin", "https://evil.example")
	if got.status != http.StatusForbidden || b.cookie != "" {
		t.Errorf("login from another site = %d, session set: %v; want 403 and none", got.status, b.cookie != "")
	}

	for next, want := range map[string]string{"/teams": "/teams", "//evil.example/": "/", "https://evil.example/": "/", "/logout": "/"} {
		b := &browser{t: t, s: s}
		got := b.form("/login", url.Values{"email": {adminEmail}, "password": {testPass}, "next": {next}})
		if got.status != http.StatusSeeOther || got.header.Get("Location") != want || b.cookie == "" {
			t.Errorf("login with next %q = %d to %q, session set: %v; want 303 to %s with a session", next, got.status, got.header.Get("Location"), b.cookie != "", want)
		}
		if got := b.page("/login"); got.status != http.StatusSeeOther {
			t.Errorf("login page once logged in = %d, want a redirect", got.status)
		}
	}
}
