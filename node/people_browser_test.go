package node

import (
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"siteline/internal/testutil"
)

// TestBrowserInvitedMemberActivatesAndIsListed: in Chromium an
// administrator invites a member from the users page; the e-mail reaches
// the SMTP server; a second browser opens the link from the e-mail, sets a
// password and lands logged in; the members list then shows the member as
// active with their last login, and the CSV export carries them.
func TestBrowserInvitedMemberActivatesAndIsListed(t *testing.T) {
	tn, box := startMailNode(t)
	// Browsers keep the __Host- Secure cookie on http://localhost.
	base := strings.Replace(tn.url, "127.0.0.1", "localhost", 1)
	adminTab := newChromium(t)
	const nina = "nina@plant.example"
	row := `#users-table tr[data-member="` + nina + `"]`
	if err := chromedp.Do(adminTab,
		browserLogin(base, tn.cfg.Organisation.AdminEmail, tn.password),
		chromedp.Navigate(base+"/users"),
		chromedp.WaitVisible(chromedp.CSS(`#inv-emails`)),
		chromedp.SendKeys(chromedp.CSS(`#inv-emails`), nina),
		chromedp.Click(chromedp.CSS(`form[action="/member-invitations"] button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS(row+`[data-status="invited"]`)),
	); err != nil {
		t.Fatalf("invite from the users page: %v", err)
	}

	var token string
	testutil.Eventually(t, 10*time.Second, "the invitation e-mail", func() bool {
		for _, m := range box.messages() {
			for _, to := range m.to {
				if to == nina {
					token = activationToken(t, box, nina)
					return true
				}
			}
		}
		return false
	})

	ninaTab, cancel := chromedp.NewContext(adminTab, chromedp.WithNewBrowserContext())
	defer cancel()
	if err := chromedp.Do(ninaTab,
		chromedp.Navigate(base+"/activate/"+token),
		chromedp.WaitVisible(chromedp.CSS(`#password`)),
		chromedp.SendKeys(chromedp.CSS(`#name`), "Nina Field"),
		chromedp.SendKeys(chromedp.CSS(`#password`), "nina's password 1"),
		chromedp.SendKeys(chromedp.CSS(`#confirm`), "nina's password 1"),
		chromedp.Click(chromedp.CSS(`form[action^="/activate/"] button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS(`.sidebar`)),
	); err != nil {
		t.Fatalf("activate from the e-mail's link: %v", err)
	}
	me, err := chromedp.Run(ninaTab, chromedp.Evaluate[string](
		`fetch("/api/v1/me", {headers: {Accept: "application/json"}}).then(r => r.json()).then(m => m.user.email)`, chromedp.EvalAwaitPromise))
	if err != nil || me != nina {
		t.Fatalf("after activation the browser is logged in as %q (%v), want %s", me, err, nina)
	}

	if err := chromedp.Do(adminTab,
		chromedp.Navigate(base+"/users?status=active&q=nina"),
		chromedp.WaitVisible(chromedp.CSS(row+`[data-status="active"]`)),
	); err != nil {
		t.Fatalf("the member is not listed as active: %v", err)
	}
	shown, err := chromedp.Run(adminTab, chromedp.Evaluate[string](
		`[...document.querySelectorAll("#users-table tr[data-member]")].map(r => r.dataset.member + " " + r.querySelector("[data-last-login]").textContent.trim()).join(";")`))
	if err != nil || !strings.HasPrefix(shown, nina+" ") || strings.Contains(shown, ";") || strings.HasSuffix(shown, " never") {
		t.Fatalf("the active members matching nina = %q (%v): want Nina alone, with her last login", shown, err)
	}
	exported, err := chromedp.Run(adminTab, chromedp.Evaluate[string](
		`fetch(document.querySelector("#members-export").href).then(r => r.text())`, chromedp.EvalAwaitPromise))
	if err != nil || !strings.HasPrefix(exported, "email,roles,teams,labels,") || !strings.Contains(exported, nina+",regular,,,Nina Field,active,") {
		t.Errorf("the export of the view = %q (%v)", exported, err)
	}
}
