package node

import (
	"context"
	"os"
	"path/filepath"
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

	// The details of a busy member on hover, and the page on a 360 px
	// phone: nothing wider than the screen.
	if err := chromedp.Do(leadTab, chromedp.EmulateViewport(1280, 900)); err != nil {
		t.Fatal(err)
	}
	detail, err := chromedp.Run(leadTab, chromedp.Evaluate[string](`(() => {
		document.querySelector('`+card+`').dispatchEvent(new MouseEvent("mouseenter"));
		const p = document.querySelector("#sv-pop"); return p.hidden ? "" : p.textContent; })()`))
	if err != nil || !strings.Contains(detail, "Current session") || !strings.Contains(detail, "Calls today") || !strings.Contains(detail, "Average handling") {
		t.Fatalf("details of the busy member = %q, %v", detail, err)
	}
	if *screenshots {
		dashboardShot(t, leadTab, 1280, 900, "team-dashboard.png")
	}
	// Escape closes the details.
	if gone, err := chromedp.Run(leadTab, chromedp.Evaluate[bool](`document.dispatchEvent(new KeyboardEvent("keydown", {key: "Escape"})), document.querySelector("#sv-pop").hidden`)); err != nil || !gone {
		t.Fatalf("Escape leaves the details open (%v)", err)
	}
	if err := chromedp.Do(leadTab, chromedp.EmulateViewport(360, 740)); err != nil {
		t.Fatal(err)
	}
	if _, err := chromedp.Run(leadTab, chromedp.Poll[bool](`document.documentElement.scrollWidth <= 360`, chromedp.WithPollingTimeout(3*time.Second))); err != nil {
		wide, _ := chromedp.Run(leadTab, chromedp.Evaluate[int](`document.documentElement.scrollWidth`))
		t.Errorf("the dashboard is %d px wide on a 360 px phone (%v)", wide, err)
	}
	if *screenshots {
		dashboardShot(t, leadTab, 360, 740, "team-dashboard-phone.png")
	}
	if err := chromedp.Do(leadTab, chromedp.EmulateViewport(1280, 800)); err != nil {
		t.Fatal(err)
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

// dashboardShot writes a screenshot of the tab to docs/screenshots.
func dashboardShot(t *testing.T, tab context.Context, w, h int64, name string) {
	t.Helper()
	if err := chromedp.Do(tab, chromedp.EmulateViewport(w, h)); err != nil {
		t.Fatal(err)
	}
	buf, err := chromedp.Run(tab, chromedp.FullScreenshot(100)) // 100: PNG
	if err != nil {
		t.Fatalf("screenshot %s: %v", name, err)
	}
	if err := os.WriteFile(filepath.Join("..", "docs", "screenshots", name), buf, 0o644); err != nil {
		t.Fatal(err)
	}
}
