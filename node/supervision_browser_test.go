package node

import (
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"siteline/media/client"
	"siteline/policy"
	"siteline/storage"
	"siteline/web"
)

// TestTeamDashboardBrowser: a lead opens the team dashboard; the member's
// own page (another browser) shows them available; the member joins a
// call and the lead's dashboard shows them busy, with the session and a
// sit-in link, within a second; the member leaves and the dashboard shows
// them available again within a second.
func TestTeamDashboardBrowser(t *testing.T) {
	cn := startCallNode(t)
	base := strings.Replace(cn.url, "127.0.0.1", "localhost", 1) // Secure cookies on http://localhost
	lead := createUser(t, cn.admin, "lead@plant.example", supervisionPassword, policy.RoleTeamLead)
	tech := createUser(t, cn.admin, "member@plant.example", supervisionPassword, policy.RoleRegular)
	techAPI := cn.login(tech.Email, supervisionPassword)
	var team storage.Team
	if st := cn.admin.do("POST", "/api/v1/teams", map[string]string{"name": "Line 3 maintenance"}, &team); st != 201 {
		t.Fatalf("create team = %d", st)
	}
	for _, m := range []struct {
		id   string
		role storage.TeamRole
	}{{lead.ID, storage.TeamLead}, {tech.ID, storage.TeamMember}} {
		if st := cn.admin.do("PUT", "/api/v1/teams/"+team.ID+"/members/"+m.id, map[string]any{"role": m.role}, nil); st != 204 && st != 200 {
			t.Fatalf("team member %s = %d", m.id, st)
		}
	}

	leadTab := newChromium(t)
	techTab, cancel := chromedp.NewContext(leadTab, chromedp.WithNewBrowserContext())
	defer cancel()
	card := `#sv-members [data-member="` + tech.ID + `"]`
	statusIs := func(status string) string {
		return `(() => { const c = document.querySelector('` + card + `'); return c !== null && c.dataset.status === "` + status + `"; })()`
	}
	// within waits until the lead's dashboard shows the status and returns
	// how long that took.
	within := func(status string) time.Duration {
		t.Helper()
		start := time.Now()
		ok, err := chromedp.Run(leadTab, chromedp.Poll[bool](statusIs(status), chromedp.WithPollingInterval(10*time.Millisecond), chromedp.WithPollingTimeout(10*time.Second)))
		if err != nil || !ok {
			t.Fatalf("the lead's dashboard does not show %s as %s: %v", tech.Email, status, err)
		}
		return time.Since(start)
	}

	if err := chromedp.Do(leadTab, browserLogin(base, lead.Email, supervisionPassword),
		chromedp.WaitVisible(chromedp.CSS(`nav a[href="/supervision"]`)),
		chromedp.Click(chromedp.CSS(`nav a[href="/supervision"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#sv[data-state="ready"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#sv-live.on`)),
	); err != nil {
		t.Fatalf("the lead opens the dashboard: %v", err)
	}
	if _, err := chromedp.Run(leadTab, chromedp.Poll[bool](statusIs(web.StatusOffline), chromedp.WithPollingTimeout(5*time.Second))); err != nil {
		t.Fatalf("the member shows offline before logging in: %v", err)
	}
	if err := chromedp.Do(techTab, browserLogin(base, tech.Email, supervisionPassword),
		chromedp.WaitVisible(chromedp.CSS(`body[data-events="ready"]`))); err != nil {
		t.Fatalf("the member opens the backoffice: %v", err)
	}
	within(web.StatusAvailable)

	call := cn.createCall(t, techAPI)
	c := cn.join(t, techAPI, call.ID, "Mia Member", client.Config{})
	busy := within(web.StatusBusy)
	if busy > time.Second {
		t.Errorf("busy shown %v after the call started, want within a second", busy)
	}
	sitIn, err := chromedp.Run(leadTab, chromedp.Evaluate[string](`document.querySelector('`+card+` a[data-sitin]').getAttribute("href")`))
	if err != nil || sitIn != "/calls/"+call.ID+"?sitin="+tech.ID {
		t.Fatalf("sit-in link = %q, %v", sitIn, err)
	}
	if _, err := chromedp.Run(leadTab, chromedp.Poll[bool](`document.querySelector('#sv-sessions [data-session="`+call.ID+`"]') !== null`,
		chromedp.WithPollingTimeout(5*time.Second))); err != nil {
		t.Fatalf("the call is not among the ongoing sessions: %v", err)
	}

	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	back := within(web.StatusAvailable)
	if back > time.Second {
		t.Errorf("available shown %v after the call ended for the member, want within a second", back)
	}
	t.Logf("dashboard showed busy %v after the join, available %v after the leave", busy, back)
	if _, err := chromedp.Run(leadTab, chromedp.Poll[bool](`document.querySelector('`+card+` .sv-meta').textContent === "1 call today"`,
		chromedp.WithPollingTimeout(5*time.Second))); err != nil {
		t.Fatalf("calls today not counted: %v", err)
	}
}
