package node

import (
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"siteline/web"
)

// TestPhonebookBrowser: Ada's phonebook shows Bob offline, then online
// without a reload when Bob opens a page; she clicks Call; Bob's page rings with Ada's name; Bob declines and Ada's call page
// says so. A second call: Bob accepts and lands on the call's page at its
// node's public URL.
func TestPhonebookBrowser(t *testing.T) {
	cfg := testConfig(t, shortTempDir(t))
	addr := freeAddr(t, "127.0.0.1")
	cfg.HTTP.Listen = addr
	base := "http://localhost:" + addr[strings.LastIndex(addr, ":")+1:] // Secure cookies on http://localhost
	cfg.HTTP.PublicURL = base
	tn := startNode(t, cfg)
	var bob struct {
		ID string `json:"id"`
	}
	if st := tn.admin().do("POST", "/api/v1/users", web.UserInput{Email: "bob@plant.example", Name: "Bob Fitter",
		Password: "bob's password 1", Roles: []string{"regular"}}, &bob); st != 201 {
		t.Fatalf("create bob = %d", st)
	}
	ada, bobTab := newMediaChromium(t), startChromium(t, 2*time.Minute)
	row := `#internal-contacts tr[data-user="` + bob.ID + `"]`
	if err := chromedp.Do(ada, browserLogin(base, tn.cfg.Organisation.AdminEmail, tn.password),
		chromedp.Navigate(base+"/contacts?q=bob"),
		chromedp.WaitVisible(chromedp.CSS(`body[data-events="ready"]`)),
		chromedp.WaitVisible(chromedp.CSS(row+`[data-presence="offline"]`)),
	); err != nil {
		t.Fatalf("ada sees bob offline: %v", err)
	}
	if err := chromedp.Do(bobTab, browserLogin(base, "bob@plant.example", "bob's password 1"),
		chromedp.WaitVisible(chromedp.CSS(`body[data-events="ready"]`))); err != nil {
		t.Fatalf("bob logs in: %v", err)
	}
	if err := chromedp.Do(ada, chromedp.WaitVisible(chromedp.CSS(row+`[data-presence="online"] .badge-ok`))); err != nil {
		t.Fatalf("ada's phonebook does not show bob online without a reload: %v", err)
	}
	call := func() {
		t.Helper()
		if err := chromedp.Do(ada,
			chromedp.Navigate(base+"/contacts?q=bob"),
			chromedp.WaitVisible(chromedp.CSS(row+`[data-presence="online"]`)),
			chromedp.Click(chromedp.CSS(row+` [data-call-user]`)),
			chromedp.WaitVisible(chromedp.CSS(`body.call`)),
		); err != nil {
			t.Fatalf("ada calls bob from the phonebook: %v", err)
		}
		if err := chromedp.Do(bobTab, chromedp.WaitVisible(chromedp.CSS(`.ring [data-ring-accept]`))); err != nil {
			t.Fatalf("bob's page does not ring: %v", err)
		}
		caller, err := chromedp.Run(bobTab, chromedp.Evaluate[string](`document.querySelector(".ring .ring-caller").textContent`))
		if err != nil || caller == "" || caller == "A guest" {
			t.Fatalf("ring from %q, %v; want ada's name", caller, err)
		}
	}
	call()
	if err := chromedp.Do(bobTab,
		chromedp.Click(chromedp.CSS(`.ring [data-ring-decline]`)),
		chromedp.WaitNotPresent(chromedp.CSS(`.ring`)),
	); err != nil {
		t.Fatalf("bob declines: %v", err)
	}
	if err := chromedp.Do(ada, chromedp.WaitVisible(chromedp.CSS(`.ring-note[data-reason="declined"]`))); err != nil {
		t.Fatalf("ada's call page does not say bob declined: %v", err)
	}
	adaCall, err := chromedp.Run(ada, chromedp.Location())
	if err != nil {
		t.Fatal(err)
	}

	call()
	if err := chromedp.Do(bobTab,
		chromedp.Click(chromedp.CSS(`.ring [data-ring-accept]`)),
		chromedp.WaitVisible(chromedp.CSS(`body.call`)),
	); err != nil {
		t.Fatalf("bob accepts: %v", err)
	}
	loc, err := chromedp.Run(bobTab, chromedp.Location())
	if err != nil || !strings.HasPrefix(loc, base+"/calls/") || strings.Contains(adaCall, strings.TrimPrefix(loc, base)) {
		t.Fatalf("accept led bob to %q (%v); want the second call at %s", loc, err, base)
	}
}
