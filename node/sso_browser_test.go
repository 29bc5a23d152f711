package node

import (
	"net"
	"strconv"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"siteline/policy"
	"siteline/storage"
	"siteline/web"
)

// TestSSOBrowser: a person clicks "Sign in with <company>" on the login
// page, logs in at the company's OpenID provider and lands in the
// backoffice with the role the mapping gives their group.
func TestSSOBrowser(t *testing.T) {
	// Browsers keep the __Host- Secure cookies on http://localhost only,
	// so the node's public address (which the provider redirects back
	// to) is localhost.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
	ln.Close()
	cfg := testConfig(t, shortTempDir(t))
	cfg.HTTP.Listen = "127.0.0.1:" + port
	cfg.HTTP.PublicURL = "http://localhost:" + port
	tn := startNode(t, cfg)
	base := cfg.HTTP.PublicURL
	o := startOP(t, base+"/sso/"+tn.n.OrgID()+"/oidc/callback")
	o.setGroups("u1", "plant-admins")
	in := web.SSOInput{Company: "Acme Plants", OIDCIssuer: o.issuer, OIDCClientID: "siteline", OIDCClientSecret: "client secret",
		Mapping: []storage.SSOMapping{{Group: "plant-admins", Roles: []string{policy.RoleAdministrator}}}}
	if st := tn.admin().do("PUT", "/api/v1/organisation/sso", in, nil); st != 200 {
		t.Fatalf("save SSO settings: status %d", st)
	}

	tab := newChromium(t)
	if err := chromedp.Do(tab,
		chromedp.Navigate(base+"/login"),
		chromedp.WaitVisible(chromedp.CSS(`a.sso-button`)),
		chromedp.Click(chromedp.CSS(`a.sso-button`)),
		chromedp.WaitVisible(chromedp.CSS(`#username`)),
		chromedp.SendKeys(chromedp.CSS(`#username`), "ada"),
		chromedp.SendKeys(chromedp.CSS(`#password`), opPassword),
		chromedp.Click(chromedp.CSS(`button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS(`.sidebar`)),
	); err != nil {
		t.Fatalf("sign in with Acme Plants: %v", err)
	}
	who, err := chromedp.Run(tab, chromedp.Evaluate[string](`document.querySelector('.me-text').textContent`))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(who, "Ada Lovelace") {
		t.Fatalf("the backoffice shows %q, not Ada Lovelace", who)
	}
	// The mapped administrator role shows the administration, single
	// sign-on settings included.
	admin, err := chromedp.Run(tab, chromedp.Evaluate[bool](`document.querySelector('nav a[href="/users"]') !== null && document.querySelector('nav a[href="/sso-settings"]') !== null`))
	if err != nil || !admin {
		t.Fatalf("Ada sees the administration = %v, %v; want the administrator's", admin, err)
	}
	if err := chromedp.Do(tab, chromedp.Navigate(base+"/sso-settings"), chromedp.WaitVisible(chromedp.CSS(`#sso-company`))); err != nil {
		t.Fatalf("settings page: %v", err)
	}
	if company, err := chromedp.Run(tab, chromedp.Evaluate[string](`document.querySelector('#sso-company').value`)); err != nil || company != "Acme Plants" {
		t.Fatalf("settings page shows company %q, %v", company, err)
	}
	if err := chromedp.Do(tab,
		chromedp.Click(chromedp.CSS(`form[action="/sso-settings/scim-token"] button`)),
		chromedp.WaitVisible(chromedp.CSS(`#scim-token`)),
	); err != nil {
		t.Fatalf("make a SCIM token: %v", err)
	}
	token, err := chromedp.Run(tab, chromedp.Evaluate[string](`document.querySelector('#scim-token').textContent`))
	if err != nil || !strings.HasPrefix(token, "scim_") {
		t.Fatalf("SCIM token shown %q, %v", token, err)
	}
	if err := tn.n.admin.CheckSCIMToken(t.Context(), tn.n.OrgID(), token); err != nil {
		t.Fatalf("the token shown is not the organisation's: %v", err)
	}
}
