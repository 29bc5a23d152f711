package node

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// TestRingPages: the start page lists the expert's waiting calls and
// offers a new service request; the call page offers the invite dialog
// to users who may invite and a way to sign out to guests; leaving
// signs a guest out on the server.
func TestRingPages(t *testing.T) {
	rn := startRingNode(t)
	guest, callID := rn.open(t, rn.serviceRequest(t, rn.tech, "Press 7 jammed"), "Carl Customer")
	tech := rn.uiLogin("tech@plant.example", "tech's password 1")

	st, home := tech.get("/")
	if st != 200 || !strings.Contains(home, `id="new-request"`) || !strings.Contains(home, `id="invite-dialog"`) ||
		!strings.Contains(home, `<tr data-call="`+callID+`">`) || !strings.Contains(home, "Carl Customer") || !strings.Contains(home, "Ringing") {
		t.Fatalf("start page = %d, want the waiting call %s and the service-request dialog:\n%s", st, callID, home)
	}
	if st, contacts := tech.get("/contacts"); st != 200 || !strings.Contains(contacts, `id="invite-dialog"`) {
		t.Errorf("contacts page = %d, want the invite dialog", st)
	}
	if st, call := tech.get("/calls/" + callID); st != 200 || !strings.Contains(call, `id="btn-invite"`) || !strings.Contains(call, `data-invite="call" data-call="`+callID+`"`) ||
		strings.Contains(call, "guest-signout") {
		t.Errorf("expert's call page = %d, want the invite button and no guest sign-out", st)
	}

	gp := &page{browser: guest}
	st, call := gp.get("/calls/" + callID)
	if st != 200 || strings.Contains(call, `id="btn-invite"`) || strings.Contains(call, `id="invite-dialog"`) ||
		!strings.Contains(call, `form="guest-signout-form"`) || strings.Contains(call, `href="/">`) {
		t.Fatalf("guest's call page = %d, want sign-out and no invite, no way to the backoffice:\n%s", st, call)
	}
	// Leaving signs the guest out; the cookie no longer opens the call.
	cookie := gp.cookie
	st, bye, _ := gp.post("/calls/"+callID+"/leave", url.Values{}, true)
	if st != 200 || !strings.Contains(bye, "You left the call") {
		t.Fatalf("guest leaves = %d:\n%s", st, bye)
	}
	again := &page{browser: rn.anon()}
	again.cookie = cookie
	if st, _ := again.get("/calls/" + callID); st != http.StatusSeeOther {
		t.Errorf("the guest's old cookie opens the call page: %d, want a redirect to the login", st)
	}
	// A user leaving goes back to the start page, still logged in.
	tech.get("/calls/" + callID)
	if st, _, loc := tech.post("/calls/"+callID+"/leave", url.Values{}, true); st != http.StatusSeeOther || loc != "/" {
		t.Errorf("user leaves = %d to %q, want 303 to /", st, loc)
	}
	if st, _ := tech.get("/"); st != 200 {
		t.Errorf("user after leaving = %d", st)
	}
}
