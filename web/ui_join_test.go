package web

import (
	"context"
	"html"
	"net/http"
	"strings"
	"testing"

	"siteline/storage"
)

// joinInvites answers for one live link and records redemptions.
type joinInvites struct {
	Invites
	info     JoinInfo
	redeemed []RedeemInput
}

const joinToken = "tok-live"

func (j *joinInvites) Inspect(_ context.Context, token string) (JoinInfo, error) {
	if token != joinToken {
		return JoinInfo{}, &DeadLinkError{Reason: "unknown", Message: "This link does not exist."}
	}
	return j.info, nil
}

func (j *joinInvites) Redeem(_ context.Context, token string, in RedeemInput) (storage.Guest, error) {
	j.redeemed = append(j.redeemed, in)
	return storage.Guest{}, &DeadLinkError{Reason: "used", Message: "This link has already been used."}
}

// The join page names the organisation, the inviter, the call and its
// goal, fills in the invitee's name, links the terms in full and offers
// the app only on a phone; Join without the terms ticked answers 400 in
// words a guest understands, keeps the name and redeems nothing.
func TestJoinPage(t *testing.T) {
	inv := &joinInvites{info: JoinInfo{Kind: storage.SessionConference, OrgName: "Acme Industries", CallName: "Pump 4 seal",
		Goal: "Stop the leak at the flange", InviterName: "Tom Tech", InviteeName: "Gina Guest", TermsVersion: "2025-01", Terms: "The call may be recorded."}}
	s, _ := newTestServer(t, func(d *Deps) { d.Invites = inv })
	b := &browser{t: t, s: s}

	desktop := b.send("GET", "/join/"+joinToken, "", "", "Accept", "text/html", "User-Agent", "Mozilla/5.0 (X11; Linux x86_64) Chrome/130")
	page := html.UnescapeString(desktop.body)
	for _, want := range []string{"Acme Industries", "Tom Tech", "Pump 4 seal", "Stop the leak at the flange", `value="Gina Guest"`,
		`href="/join/` + joinToken + `/terms"`, "The call may be recorded.", "Test camera and microphone", "Join the call"} {
		if !strings.Contains(page, want) {
			t.Errorf("join page lacks %q", want)
		}
	}
	if desktop.status != http.StatusOK || strings.Contains(page, "siteline://") {
		t.Errorf("desktop join page = %d, deep link shown: %v", desktop.status, strings.Contains(page, "siteline://"))
	}
	phone := b.send("GET", "/join/"+joinToken, "", "", "Accept", "text/html", "User-Agent", "Mozilla/5.0 (Linux; Android 14) Mobile Safari")
	if !strings.Contains(phone.body, `href="siteline://join/`+joinToken+`"`) {
		t.Errorf("a phone is not offered the app")
	}

	a := b.send("POST", "/join/"+joinToken, "application/x-www-form-urlencoded", "name=Gina+G&kind=guest_desktop", "Accept", "text/html")
	page = html.UnescapeString(a.body)
	if a.status != http.StatusBadRequest || !strings.Contains(page, termsNotAccepted) || !strings.Contains(page, `value="Gina G"`) {
		t.Errorf("join without the terms = %d, message shown %v, name kept %v", a.status, strings.Contains(page, termsNotAccepted), strings.Contains(page, `value="Gina G"`))
	}
	if len(inv.redeemed) != 0 {
		t.Errorf("join without the terms redeemed the link: %+v", inv.redeemed)
	}

	terms := b.send("GET", "/join/"+joinToken+"/terms", "", "", "Accept", "text/html")
	if terms.status != http.StatusOK || !strings.Contains(terms.body, "The call may be recorded.") || !strings.Contains(terms.body, "2025-01") {
		t.Errorf("terms page = %d:\n%s", terms.status, terms.body)
	}
	if dead := b.send("GET", "/join/other/terms", "", "", "Accept", "text/html"); dead.status != http.StatusNotFound || !strings.Contains(dead.body, "This link does not exist.") {
		t.Errorf("terms of an unknown link = %d", dead.status)
	}
}
