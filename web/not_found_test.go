package web

import (
	"html"
	"net/http"
	"strings"
	"testing"

	"siteline/policy"
)

// A page that does not exist answers a 404 page in the layout that says
// so in people's words; the API answers JSON.
func TestUnknownPageIsAProperNotFoundPage(t *testing.T) {
	s, d := newTestServer(t)
	d.addUser("u1", adminEmail, testPass, policy.HomeDashboardAccess)
	b := &browser{t: t, s: s}
	for _, who := range []string{"anonymous", "logged in"} {
		if who == "logged in" {
			b.login(adminEmail, testPass)
		}
		got := b.page("/dashboard")
		body := html.UnescapeString(got.body)
		if got.status != http.StatusNotFound || !strings.Contains(body, "<h2>Not found</h2>") ||
			!strings.Contains(body, "There is no page at /dashboard.") || strings.Contains(body, "no route") {
			t.Errorf("%s: GET /dashboard = %d\n%s", who, got.status, body)
		}
	}
	got := b.api("GET", APIPrefix+"/nothing-here", "")
	if e := errorBody(t, got); got.status != http.StatusNotFound || e.Code != "not_found" || !strings.Contains(e.Error, "GET /api/v1/nothing-here") {
		t.Errorf("GET of an unknown API path = %d %+v", got.status, e)
	}
}

// Deleted media opened from the session page (a download link) answers a
// page that says it is no longer available, not a bare 410; the API still
// answers JSON.
func TestDeletedMediaOpenedInTheBrowserIsAPage(t *testing.T) {
	s, d := newTestServer(t, func(deps *Deps) { deps.Media = &mediaFake{} })
	d.addUser("u1", adminEmail, testPass, policy.CallLogs, policy.SeeAllCallLogs, policy.DownloadMedia)
	b := &browser{t: t, s: s}
	b.login(adminEmail, testPass)
	got := b.page(APIPrefix + "/media/m-snap?download=1")
	body := html.UnescapeString(got.body)
	if got.status != http.StatusGone || !strings.Contains(body, "<h2>No longer available</h2>") ||
		!strings.Contains(body, "media m-snap was deleted") || strings.Contains(body, ">410<") {
		t.Errorf("deleted media in the browser = %d\n%s", got.status, body)
	}
	if got := b.api("GET", APIPrefix+"/media/m-snap", ""); got.status != http.StatusGone || errorBody(t, got).Code != "gone" {
		t.Errorf("deleted media on the API = %d %s", got.status, got.body)
	}
}
