package node

import (
	"context"
	"net/url"
	"strings"
	"testing"

	"siteline/media/client"
	"siteline/storage"
	"siteline/web"
)

// Names refuse NUL, the other C0 and C1 controls and the bidirectional
// overrides and isolates, wherever a name is given: users, teams, label
// groups, labels, contacts, tokens, calls, invitees, service requests,
// guests, files. The error names the field and the character, and nothing
// is changed (issue 13, item 26).
func TestNamesRefuseControlAndBidiCharacters(t *testing.T) {
	in := startInviteNode(t, nil)
	admin := in.admin
	call := in.createCall(t, in.tech)
	var group storage.LabelGroup
	if st := admin.do("POST", "/api/v1/label-groups", map[string]string{"name": "Line", "color": "#112233"}, &group); st != 201 {
		t.Fatalf("create label group = %d", st)
	}
	inv := in.invite(t, in.tech, call.ID, web.InviteInput{Channel: "link"})
	tech := in.join(t, in.tech, call.ID, "Tom", client.Config{})

	evil := []struct{ value, says string }{
		{"invoice\u202Efdp.exe", "U+202E, a bidirectional override"},
		{"left\u202Aembed", "U+202A, a bidirectional override"},
		{"first\u2066isolate\u2069", "U+2066, a bidirectional override"},
		{"nul\x00byte", "U+0000, a control character"},
		{"bell\x07", "U+0007, a control character"},
		{"next\u0085line", "U+0085, a control character"},
		{"csi\u009b", "U+009B, a control character"},
	}
	requests := []struct {
		what, method, path, field string
		body                      func(v string) any
	}{
		{"user", "POST", "/api/v1/users", "name", func(v string) any {
			return web.UserInput{Email: "x@plant.example", Name: v, Password: "a long password 123", Roles: []string{"regular"}}
		}},
		{"team", "POST", "/api/v1/teams", "name", func(v string) any { return map[string]string{"name": v} }},
		{"label group", "POST", "/api/v1/label-groups", "name", func(v string) any { return map[string]string{"name": v, "color": "#112233"} }},
		{"label", "POST", "/api/v1/labels", "name", func(v string) any { return map[string]string{"name": v, "group_id": group.ID} }},
		{"contact", "POST", "/api/v1/contacts", "name", func(v string) any { return map[string]string{"name": v, "phone": "+49 30 1234"} }},
		{"token", "POST", "/api/v1/tokens", "name", func(v string) any { return map[string]string{"name": v} }},
		{"call", "POST", "/api/v1/calls", "name", func(v string) any { return web.CallInput{Name: v} }},
		{"invitee", "POST", "/api/v1/calls/" + call.ID + "/invitations", "name", func(v string) any { return web.InviteInput{Channel: "link", Name: v} }},
		{"service request", "POST", "/api/v1/service-requests", "subject", func(v string) any {
			return web.ServiceRequestInput{InviteInput: web.InviteInput{Channel: "link"}, Subject: v}
		}},
		{"guest", "POST", "/api/v1/join/" + tokenOf(t, inv.Link), "name", func(v string) any {
			return web.RedeemInput{AcceptTerms: true, Name: v, Kind: storage.UserGuestDesktop}
		}},
	}
	for _, r := range requests {
		for _, e := range evil {
			b := admin
			if r.what == "guest" {
				b = in.anon()
			} else if r.what == "invitee" || r.what == "service request" {
				b = in.tech
			}
			var got web.ErrorBody
			st := b.do(r.method, r.path, r.body(e.value), &got)
			if st != 400 || !strings.HasPrefix(got.Error, r.field+" ") || !strings.Contains(got.Error, e.says) {
				t.Errorf("%s named %q = %d %q, want 400 naming %s and saying %q", r.what, e.value, st, got.Error, r.field, e.says)
			}
		}
	}
	// A file name, sent as it is (RFC 2231), and one that is not UTF-8,
	// which JSON cannot carry.
	for _, e := range append(evil, struct{ value, says string }{"bad\xffutf8", "not valid UTF-8"}) {
		form := "--x\r\nContent-Disposition: form-data; name=\"participant\"\r\n\r\n" + tech.ID() + "\r\n" +
			"--x\r\nContent-Disposition: form-data; name=\"file\"; filename*=utf-8''" + url.PathEscape(e.value) + "\r\n\r\nbytes\r\n--x--\r\n"
		st, body := in.tech.raw("POST", "/api/v1/calls/"+call.ID+"/media", "multipart/form-data; boundary=x", strings.NewReader(form))
		if got := apiError(t, body); st != 400 || !strings.HasPrefix(got.Error, "file name ") || !strings.Contains(got.Error, e.says) {
			t.Errorf("file named %q = %d %q, want 400 naming the file name and saying %q", e.value, st, got.Error, e.says)
		}
	}

	// Nothing was created, and plain names, accents and right-to-left
	// scripts included, still pass.
	ctx := context.Background()
	if media, err := in.n.store.SessionMedia(ctx, call.ID); err != nil || len(media) != 0 {
		t.Errorf("media stored: %d, %v", len(media), err)
	}
	var teams []storage.Team
	admin.do("GET", "/api/v1/teams", nil, &teams)
	if len(teams) != 0 {
		t.Errorf("teams created: %+v", teams)
	}
	for _, name := range []string{"Équipe de nuit", "فريق الليل", "צוות לילה"} {
		if st := admin.do("POST", "/api/v1/teams", map[string]string{"name": name}, nil); st != 201 {
			t.Errorf("team %q = %d", name, st)
		}
	}
}
