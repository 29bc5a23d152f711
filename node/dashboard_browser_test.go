package node

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"siteline/storage"
)

// TestDashboardBrowser: in Chromium, the dashboards of calls made on the
// node draw their charts, the outcome filter changes the numbers and goes
// into the URL, a chart's CSV downloads, and a row opens the history
// filtered to it.
func TestDashboardBrowser(t *testing.T) {
	tn := startNode(t, Config{})
	base := strings.Replace(tn.url, "127.0.0.1", "localhost", 1)
	ids := recordCalls(t, tn, 4)
	solved := time.Now().UTC()
	if _, err := tn.n.store.SetSessionOutcome(context.Background(), ids[2], storage.OutcomeSolved, &solved,
		storage.Version{At: solved, Origin: "test"}); err != nil {
		t.Fatal(err)
	}
	tab := newChromium(t)
	text := func(sel string) string {
		t.Helper()
		v, err := chromedp.Run(tab, chromedp.Evaluate[string](`document.querySelector(`+strconv.Quote(sel)+`)?.textContent.trim() ?? ""`))
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	if err := chromedp.Do(tab,
		browserLogin(base, tn.cfg.Organisation.AdminEmail, tn.password),
		chromedp.Navigate(base+"/dashboard"),
		chromedp.WaitVisible(chromedp.CSS(`#dash[data-drawn]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-chart="sessions"] canvas`)),
	); err != nil {
		t.Fatalf("open the dashboards: %v", err)
	}
	if got := text("#dash-sessions"); got != "4" {
		t.Errorf("sessions = %q, want 4", got)
	}
	drawn, err := chromedp.Run(tab, chromedp.Evaluate[int](`document.querySelectorAll(".dash-chart canvas").length`))
	if err != nil || drawn < 4 {
		t.Errorf("charts drawn = %d (%v), want one per chart with data", drawn, err)
	}

	if err := chromedp.Do(tab,
		chromedp.SetValue(chromedp.CSS(`#d-outcome`), storage.OutcomeSolved),
		chromedp.Click(chromedp.CSS(`.dash-filters button[type=submit]`)),
		// The page the filter loads marks the outcome selected.
		chromedp.WaitReady(chromedp.CSS(`#d-outcome option[value="solved"][selected]`)),
		chromedp.WaitVisible(chromedp.CSS(`#dash[data-drawn]`)),
	); err != nil {
		t.Fatalf("filter by outcome: %v", err)
	}
	search, err := chromedp.Run(tab, chromedp.Evaluate[string](`location.search`))
	if err != nil || !strings.Contains(search, "outcome=solved") {
		t.Errorf("the URL after filtering = %q (%v), want the outcome in it", search, err)
	}
	if got := text("#dash-sessions"); got != "1" {
		t.Errorf("sessions of outcome solved = %q, want 1", got)
	}

	csv, err := chromedp.Run(tab, chromedp.Evaluate[string](
		`fetch(document.querySelector('[data-export="outcomes-csv"]').href).then(async r => r.status + " " + r.headers.get("content-disposition") + "\n" + await r.text())`,
		chromedp.EvalAwaitPromise))
	if err != nil || !strings.HasPrefix(csv, "200 attachment") || !strings.Contains(csv, "\nOutcome,Sessions\nSolved,1\n") {
		t.Errorf("the outcomes' CSV = %q (%v)", csv, err)
	}

	if err := chromedp.Do(tab,
		chromedp.Click(chromedp.CSS(`#chart-outcomes tbody a`)),
		chromedp.WaitVisible(chromedp.CSS(`table.history`)),
	); err != nil {
		t.Fatalf("open the history from a row: %v", err)
	}
	rows, err := chromedp.Run(tab, chromedp.Evaluate[string](
		`[...document.querySelectorAll("table.history tbody tr strong")].map(e => e.textContent).join(",") + " @ " + location.pathname`))
	if err != nil || rows != "Pump 2 @ /sessions" {
		t.Errorf("the history the row opened = %q (%v), want Pump 2 alone", rows, err)
	}
}
