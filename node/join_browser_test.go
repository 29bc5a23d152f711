package node

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"siteline/storage"
	"siteline/web"
)

// TestGuestJoinPageBrowser: a guest opens an invitation link in Chromium.
// The page names the organisation, who invites them, the call and its
// goal, and fills in the name the inviter typed; the camera and
// microphone check shows their picture and a moving level; a refused
// permission is explained; Join without the terms ticked says what to do;
// with them ticked the guest is on the call page and joins the call.
func TestGuestJoinPageBrowser(t *testing.T) {
	cn := startCallNode(t)
	base := strings.Replace(cn.url, "127.0.0.1", "localhost", 1) // Secure cookies on http://localhost
	var call storage.Session
	if st := cn.tech.do("POST", "/api/v1/calls", web.CallInput{Name: "Pump 4 seal", Goal: "Stop the leak at the flange"}, &call); st != 201 {
		t.Fatalf("create call = %d", st)
	}
	var inv web.InvitationOut
	if st := cn.tech.do("POST", "/api/v1/calls/"+call.ID+"/invitations", web.InviteInput{Channel: "link", Name: "Gina Guest"}, &inv); st != 201 {
		t.Fatalf("invite = %d", st)
	}
	link := base + "/join/" + tokenOf(t, inv.Link)
	tab := startChromium(t, 2*time.Minute, mediaChromium...)

	text := func(sel string) string {
		t.Helper()
		s, err := chromedp.Run(tab, chromedp.Evaluate[string](`(document.querySelector('`+sel+`') || {textContent: ""}).textContent.replace(/\s+/g, " ").trim()`))
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	if err := chromedp.Do(tab, chromedp.Navigate(link), chromedp.WaitVisible(chromedp.CSS(`#join-form`))); err != nil {
		t.Fatalf("open the link: %v", err)
	}
	org := cn.cfg.Organisation.Name
	for sel, want := range map[string]string{
		`.join-brand`: org,
		`#join-title`: "Pump 4 seal",
		`#join-who`:   "Tom Tech from " + org + " invites you to join this video call.",
		`.join-goal`:  "Stop the leak at the flange",
	} {
		if got := text(sel); !strings.Contains(got, want) {
			t.Errorf("%s reads %q, want %q", sel, got, want)
		}
	}
	name, err := chromedp.Run(tab, chromedp.Evaluate[string](`document.querySelector("#name").value`))
	if err != nil || name != "Gina Guest" {
		t.Errorf("the name field holds %q (%v), want the name the inviter typed", name, err)
	}
	// A desktop browser is not offered the app.
	if deep, _ := chromedp.Run(tab, chromedp.Evaluate[bool](`document.querySelector("#deep-link") !== null`)); deep {
		t.Error("a desktop browser is offered the app's deep link")
	}

	// The camera and microphone check: a picture and a level that moves.
	if err := chromedp.Do(tab, chromedp.Click(chromedp.CSS(`#jc-start`)),
		chromedp.WaitVisible(chromedp.CSS(`body[data-check="ok"] #jc-video`))); err != nil {
		t.Fatalf("camera check: %v (status %q)", err, text(`#jc-status`))
	}
	if _, err := chromedp.Run(tab, chromedp.Poll[bool](`document.querySelector("#jc-video").videoWidth > 0 && +document.querySelector("#jc-meter").getAttribute("aria-valuenow") > 0`,
		chromedp.WithPollingTimeout(10*time.Second))); err != nil {
		t.Fatalf("no picture or no microphone level: %v", err)
	}
	// A refused permission is explained, with what to do.
	if _, err := chromedp.Run(tab, chromedp.Evaluate[bool](`navigator.mediaDevices.getUserMedia = () => Promise.reject(new DOMException("denied", "NotAllowedError")); true`)); err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(tab, chromedp.Click(chromedp.CSS(`#jc-start`)), chromedp.WaitVisible(chromedp.CSS(`#jc-status.bad`))); err != nil {
		t.Fatalf("refused permission: %v", err)
	}
	if got := text(`#jc-status`); !strings.Contains(got, "allow the camera and the microphone") {
		t.Errorf("refused permission explained as %q", got)
	}

	// Join without ticking the terms: a message that says what to do, the
	// name kept.
	if err := chromedp.Do(tab, chromedp.Click(chromedp.CSS(`#join-submit`)), chromedp.WaitVisible(chromedp.CSS(`.join-terms.invalid`))); err != nil {
		t.Fatalf("join without the terms: %v", err)
	}
	if got := text(`#join-form [role=alert]`); got != "To join the call, tick “I accept the terms of use” below the terms. You can read them in full first." {
		t.Errorf("without the terms the page says %q", got)
	}
	if name, _ := chromedp.Run(tab, chromedp.Evaluate[string](`document.querySelector("#name").value`)); name != "Gina Guest" {
		t.Errorf("after the error the name field holds %q", name)
	}
	// The terms in full, one link away.
	href, err := chromedp.Run(tab, chromedp.Evaluate[string](`document.querySelector("#terms-link").getAttribute("href")`))
	if err != nil || href != "/join/"+tokenOf(t, inv.Link)+"/terms" {
		t.Fatalf("terms link = %q, %v", href, err)
	}
	if err := chromedp.Do(tab, chromedp.Navigate(base+href), chromedp.WaitVisible(chromedp.CSS(`#terms-text`))); err != nil {
		t.Fatalf("terms page: %v", err)
	}
	if got := text(`#terms-text`); !strings.Contains(got, "recorded") {
		t.Errorf("the terms page reads %q", got)
	}

	// With the terms ticked the guest reaches the call page and joins.
	if err := chromedp.Do(tab, chromedp.Navigate(link), chromedp.WaitVisible(chromedp.CSS(`#join-form`)), chromedp.Click(chromedp.CSS(`#accept`)), chromedp.Click(chromedp.CSS(`#join-submit`)),
		chromedp.WaitVisible(chromedp.CSS(`body[data-ready="true"] #join:not([disabled])`)),
		chromedp.Click(chromedp.CSS(`#join`)),
		chromedp.WaitVisible(chromedp.CSS(`body[data-state="incall"] #grid`))); err != nil {
		t.Fatalf("the guest joins: %v", err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		parts, err := cn.n.Store().SessionParticipants(context.Background(), call.ID)
		if err == nil && len(parts) == 1 && strings.HasPrefix(parts[0].DisplayName, "Gina Guest") && parts[0].UserKind == storage.UserGuestDesktop {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("participants %+v, %v; want Gina Guest from a desktop browser", parts, err)
		}
		time.Sleep(50 * time.Millisecond) // poll interval
	}

}
