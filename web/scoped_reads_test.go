package web

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"siteline/policy"
	"siteline/storage"
)

// listHistory lists no sessions: enough for the session list's filter to
// be checked.
type listHistory struct{}

func (listHistory) SearchSessions(context.Context, storage.SessionQuery) (storage.SessionPage, error) {
	return storage.SessionPage{}, nil
}

// idKinds is what the :id (or :user) of a route names, by the start of its
// path; the first match wins.
var idKinds = []struct{ prefix, kind string }{
	{APIPrefix + "/users/", "user"},
	{APIPrefix + "/teams/", "team"},
	{APIPrefix + "/policy/versions/", "version"},
	{"/users/", "user"},
	{"/teams/", "team"},
	{"/contacts/", "contact"},
	{"/policy/versions/", "version"},
}

// answeredElsewhere are the reads by id that a use case answers, not the
// organisation reads: the node scopes them, and its tests check it.
var answeredElsewhere = map[string]bool{
	"GET " + APIPrefix + "/policy/supervision/:user": true,
}

var routeParam = regexp.MustCompile(`:(\w+)`)

// fill puts ids into a route's parameters: :user takes a user's id, any
// other parameter the id of the kind the path names.
func fill(path, kind string, ids map[string]string) string {
	return routeParam.ReplaceAllStringFunc(path, func(p string) string {
		if p == ":user" {
			return ids["user"]
		}
		return ids[kind]
	})
}

// Every route that reads a record by its id answers the id of another
// organisation's record as it answers an id nobody has: 404, the same
// code, the same page; a form sent to it changes nothing. The same routes
// serve the caller's own records.
func TestAnotherOrganisationsIDsAreNotFound(t *testing.T) {
	s, d := newTestServer(t, func(deps *Deps) { deps.History = listHistory{} })
	d.addUser("root", "root@plant.example", testPass, policy.IDs()...)
	own := d.addOrgRecords(d.org.ID, "own")
	other := d.addOrgRecords("o2", "other")
	unknown := map[string]string{}
	for k := range own {
		unknown[k] = "unknown-" + k
	}
	b := &browser{t: t, s: s}
	b.login("root@plant.example", testPass)

	get := func(r route, path string) answer {
		if r.page {
			return b.page(path)
		}
		return b.api("GET", path, "")
	}
	// same reports whether two answers are the same but for the ids in
	// them.
	same := func(got, want answer, gotID, wantID string) bool {
		return got.status == want.status && strings.ReplaceAll(got.body, gotID, "ID") == strings.ReplaceAll(want.body, wantID, "ID")
	}

	var reads, forms int
	for _, r := range s.routes {
		if !strings.Contains(r.path, ":") {
			continue
		}
		name := r.method + " " + r.path
		kind := ""
		for _, k := range idKinds {
			if strings.HasPrefix(r.path, k.prefix) {
				kind = k.kind
				break
			}
		}
		switch {
		case r.method == "GET" && answeredElsewhere[name]:
			continue
		case r.method == "GET" && kind == "":
			t.Errorf("%s reads by id, and this test does not know what its id names", name)
			continue
		case r.method == "GET":
			reads++
			if got := get(r, fill(r.path, kind, own)); got.status != http.StatusOK {
				t.Errorf("%s of the caller's organisation = %d %s, want 200", name, got.status, got.body)
			}
		case !r.page || kind == "" || kind == "version":
			continue // a change the use case checks (the node's tests)
		default:
			forms++
		}
		// Each parameter in turn takes the other organisation's id, or an
		// unknown one; the others keep the caller's own.
		for _, p := range routeParam.FindAllString(r.path, -1) {
			pk := kind
			if p == ":user" {
				pk = "user"
			}
			ids := func(set map[string]string) map[string]string {
				m := map[string]string{}
				for k, v := range own {
					m[k] = v
				}
				if p == ":user" {
					m["user"] = set["user"]
				} else {
					m[kind] = set[kind]
				}
				return m
			}
			var foreign, absent answer
			if r.method == "GET" {
				foreign, absent = get(r, fill(r.path, kind, ids(other))), get(r, fill(r.path, kind, ids(unknown)))
			} else {
				foreign, absent = b.form(fill(r.path, kind, ids(other)), url.Values{}), b.form(fill(r.path, kind, ids(unknown)), url.Values{})
			}
			if foreign.status != http.StatusNotFound {
				t.Errorf("%s with %s of another organisation = %d %s, want 404", name, p, foreign.status, foreign.body)
			}
			if !same(foreign, absent, other[pk], unknown[pk]) {
				t.Errorf("%s answers another organisation's %s (%d) otherwise than an unknown one (%d)\n%s\n%s",
					name, p, foreign.status, absent.status, foreign.body, absent.body)
			}
			if !r.page && errorBody(t, foreign).Code != "not_found" {
				t.Errorf("%s with another organisation's %s: code %q, want not_found", name, p, errorBody(t, foreign).Code)
			}
		}
	}
	if reads < 7 || forms < 9 {
		t.Errorf("checked %d reads and %d forms by id, want at least 7 and 9", reads, forms)
	}

	// A member to add, named in the form, is read the same way.
	got := b.form("/teams/"+own["team"]+"/members", url.Values{"user_id": {other["user"]}})
	if got.status != http.StatusNotFound {
		t.Errorf("adding another organisation's user to a team = %d, want 404", got.status)
	}

	// The session list's site filter: another organisation's site is no
	// site of this one.
	for site, want := range map[string]int{own["site"]: 200, other["site"]: 400, unknown["site"]: 400} {
		got := b.api("GET", APIPrefix+"/sessions?site="+site, "")
		if got.status != want {
			t.Errorf("sessions of site %s = %d %s, want %d", site, got.status, got.body, want)
		}
		if want == 400 && !strings.Contains(got.body, "is not a site of this organisation") {
			t.Errorf("sessions of site %s: %s, want it to say the site is not this organisation's", site, got.body)
		}
	}
	if ch := d.changed(); len(ch) > 0 {
		t.Errorf("requests for another organisation's records changed %v", ch)
	}
}
