package node

import (
	"context"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"siteline/web"
)

// TestHistoryBrowser: in Chromium, an expert searches the history for a
// word said in one call's chat, finds that call alone, exports the
// search as CSV, opens the call, gives it its outcome and notes, and
// downloads its PDF report.
func TestHistoryBrowser(t *testing.T) {
	tn := startNode(t, Config{})
	// Browsers keep the __Host- Secure cookie on http://localhost.
	base := strings.Replace(tn.url, "127.0.0.1", "localhost", 1)
	ids := recordCalls(t, tn, 3) // "Pump 0".."Pump 2", chat "valve N closed"
	if st := tn.admin().do("POST", "/api/v1/sessions/"+ids[1]+"/reports",
		web.ReportInput{Fields: map[string]string{"fault": "Seal leaking"}, Body: "Replaced the seal."}, nil); st != 201 {
		t.Fatalf("write a report = %d", st)
	}
	tab := newChromium(t)
	if err := chromedp.Do(tab,
		browserLogin(base, tn.cfg.Organisation.AdminEmail, tn.password),
		chromedp.Navigate(base+"/sessions"),
		chromedp.WaitVisible(chromedp.CSS(`#h-q`)),
		chromedp.SetValue(chromedp.CSS(`#h-q`), "valve 1"),
		chromedp.Click(chromedp.CSS(`.history-search button`)),
		chromedp.WaitVisible(chromedp.CSS(`table.history`)),
	); err != nil {
		t.Fatalf("search the history: %v", err)
	}
	found, err := chromedp.Run(tab, chromedp.Evaluate[string](
		`[...document.querySelectorAll("table.history tbody tr strong")].map(e => e.textContent).join(",") + " @ " + location.search`))
	if err != nil || found != "Pump 1 @ ?q=valve+1" {
		t.Fatalf("the search for a chat line found %q (%v), want Pump 1 alone, with the query in the URL", found, err)
	}
	csvHead, err := chromedp.Run(tab, chromedp.Evaluate[string](
		`fetch(document.querySelector("#export-csv").href).then(r => r.text()).then(t => t.split("\n").filter(l => l).map(l => l.split(",")[0]).join(" "))`,
		chromedp.EvalAwaitPromise))
	if err != nil || csvHead != "id "+ids[1] {
		t.Errorf("the CSV export of the search = %q (%v), want its header and %s", csvHead, err, ids[1])
	}

	if err := chromedp.Do(tab,
		chromedp.Click(chromedp.CSS(`table.history tbody tr a[href^="/sessions/`+ids[1]+`"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#session-pdf`)),
		chromedp.WaitVisible(chromedp.CSS(`#reports`)),
	); err != nil {
		t.Fatalf("open the session: %v", err)
	}
	// The expert gives the call its outcome and notes on its page.
	if err := chromedp.Do(tab,
		chromedp.SetValue(chromedp.CSS(`#sf-outcome`), "solved"),
		chromedp.SetValue(chromedp.CSS(`#sf-notes`), "Seal replaced, belt to order"),
		chromedp.Click(chromedp.CSS(`#sf-save`)),
		// The page after the save, not the one the form was on.
		chromedp.WaitVisible(chromedp.Search(`//div[@class="flash"]/span[text()="Session saved."]`)),
	); err != nil {
		t.Fatalf("save the outcome and notes: %v", err)
	}
	fields, err := tn.n.store.SessionSummary(context.Background(), tn.n.OrgID(), ids[1])
	if err != nil || fields.Outcome != "solved" || fields.Notes != "Seal replaced, belt to order" || fields.Name != "Pump 1" {
		t.Errorf("the call's fields after the form: %+v, %v", fields, err)
	}
	pdf, err := chromedp.Run(tab, chromedp.Evaluate[string](
		`fetch(document.querySelector("#session-pdf").href).then(async r => r.status + " " + r.headers.get("content-type") + " " + (await r.text()).slice(0, 5))`,
		chromedp.EvalAwaitPromise))
	if err != nil || pdf != "200 application/pdf %PDF-" {
		t.Errorf("the session's PDF from its page = %q (%v)", pdf, err)
	}
}
