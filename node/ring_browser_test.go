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

// newMediaChromium starts a Chromium for a call page, with time for the
// whole ring.
func newMediaChromium(t *testing.T) context.Context {
	return startChromium(t, 3*time.Minute, mediaChromium...)
}

// decodedFramesJS sums the video frames a call page decoded from others.
const decodedFramesJS = `(async () => {
  const pc = window.sitelineCall && window.sitelineCall.sub;
  let frames = 0;
  if (pc) (await pc.getStats()).forEach(r => { if (r.type === "inbound-rtp" && r.kind === "video") frames += r.framesDecoded || 0; });
  return frames;
})()`

// waitDecoding waits until a call page decodes remote video, then until
// the count grows: video flows, not one stray frame.
func waitDecoding(t *testing.T, ctx context.Context, who string) int64 {
	t.Helper()
	var first, now int64
	deadline := time.Now().Add(30 * time.Second)
	for {
		n, err := chromedp.Run(ctx, chromedp.Evaluate[int64](decodedFramesJS, chromedp.EvalAwaitPromise))
		if err != nil {
			t.Fatalf("%s: getStats: %v", who, err)
		}
		now = n
		if first == 0 && now > 0 {
			first = now
		} else if first > 0 && now > first {
			return now
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: remote video not decoded and growing within 30s: first %d frames, now %d", who, first, now)
		}
		time.Sleep(100 * time.Millisecond) // poll interval
	}
}

// TestRingBrowser: an expert creates a service request in the backoffice
// and gets its link and QR code; a guest opens the link in another
// Chromium, accepts the terms and joins; the expert's page rings; the
// expert accepts and joins; the call is active and each page decodes the
// other's video.
func TestRingBrowser(t *testing.T) {
	tn := startNode(t, Config{})
	base := strings.Replace(tn.url, "127.0.0.1", "localhost", 1) // Secure cookies on http://localhost
	if st := tn.admin().do("POST", "/api/v1/users", web.UserInput{Email: "expert@plant.example", Name: "Eve Expert",
		Password: "expert's password 1", Roles: []string{"regular"}}, nil); st != 201 {
		t.Fatalf("create expert = %d", st)
	}
	expert, guest := newMediaChromium(t), newMediaChromium(t)

	// The expert creates a service request from the start page.
	if err := chromedp.Do(expert, browserLogin(base, "expert@plant.example", "expert's password 1"),
		chromedp.WaitVisible(chromedp.CSS(`#new-request`)),
		chromedp.Click(chromedp.CSS(`#new-request`)),
		chromedp.WaitVisible(chromedp.CSS(`#invite-dialog[open] #iv-subject`)),
		chromedp.SendKeys(chromedp.CSS(`#iv-subject`), "Press 7 stops with E42"),
		chromedp.SendKeys(chromedp.CSS(`#iv-name`), "Carl Customer"),
		chromedp.Click(chromedp.CSS(`label.iv-channel:has(input[value="link"])`)),
		chromedp.WaitNotVisible(chromedp.CSS(`#iv-to-field`)),
		chromedp.Click(chromedp.CSS(`#iv-submit`)),
		chromedp.WaitVisible(chromedp.CSS(`#iv-result #iv-link`)),
	); err != nil {
		t.Fatalf("expert creates a service request: %v", err)
	}
	link, err := chromedp.Run(expert, chromedp.Evaluate[string](`document.querySelector("#iv-link").value`))
	if err != nil || !strings.Contains(link, "/join/") {
		t.Fatalf("link shown = %q, %v", link, err)
	}
	qr, err := chromedp.Run(expert, chromedp.Poll[bool](
		`(() => { const i = document.querySelector("#iv-qr"); return i.src.startsWith("data:image/png;base64,") && i.complete && i.naturalWidth >= 21; })()`,
		chromedp.WithPollingTimeout(5*time.Second)))
	if err != nil || !qr {
		t.Fatalf("QR code of the link not shown: %v", err)
	}
	if err := chromedp.Do(expert,
		chromedp.Click(chromedp.CSS(`#iv-result .iv-foot [data-iv-close]`)),
		chromedp.WaitNotVisible(chromedp.CSS(`#invite-dialog`)),
		chromedp.WaitVisible(chromedp.CSS(`body[data-events="ready"]`)),
	); err != nil {
		t.Fatalf("expert closes the dialog: %v", err)
	}

	// The guest opens the link, accepts the terms and joins the call.
	if err := chromedp.Do(guest,
		chromedp.Navigate(strings.Replace(link, "127.0.0.1", "localhost", 1)),
		chromedp.WaitVisible(chromedp.CSS(`#name`)),
		chromedp.SetValue(chromedp.CSS(`#name`), "Carl Customer"), // the page fills in the name the expert typed
		chromedp.Click(chromedp.CSS(`input[name="accept"]`)),
		chromedp.Click(chromedp.CSS(`form[action^="/join/"] button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS(`body[data-ready="true"] #join:not([disabled])`)),
		chromedp.Click(chromedp.CSS(`#join`)),
		chromedp.WaitVisible(chromedp.CSS(`body[data-state="incall"] #grid`)),
	); err != nil {
		t.Fatalf("guest opens the link and joins: %v", err)
	}

	// The expert's page rings with the caller and the subject.
	if err := chromedp.Do(expert, chromedp.WaitVisible(chromedp.CSS(`.ring [data-ring-accept]`))); err != nil {
		t.Fatalf("the expert's page does not ring: %v", err)
	}
	type ringing struct {
		Call    string `json:"call"`
		Caller  string `json:"caller"`
		Subject string `json:"subject"`
		Waiting bool   `json:"waiting"`
	}
	r, err := chromedp.Run(expert, chromedp.Evaluate[ringing](`(() => { const r = document.querySelector(".ring"); return {
		call: r.dataset.call, caller: r.querySelector(".ring-caller").textContent, subject: r.querySelector(".ring-subject").textContent,
		waiting: document.querySelector('#waiting-calls tr[data-call="' + r.dataset.call + '"]') !== null}; })()`))
	if err != nil || r.Caller != "Carl Customer" || r.Subject != "Press 7 stops with E42" || !r.Waiting {
		t.Fatalf("ring panel = %+v, %v", r, err)
	}
	status := func() string {
		s, err := tn.n.store.Session(context.Background(), r.Call)
		if err != nil {
			t.Fatal(err)
		}
		return s.Status
	}
	if got := status(); got != storage.SessionRinging {
		t.Fatalf("call is %s while ringing", got)
	}

	// Accept opens the call page; joining answers the call.
	if err := chromedp.Do(expert,
		chromedp.Click(chromedp.CSS(`.ring [data-ring-accept]`)),
		chromedp.WaitVisible(chromedp.CSS(`body[data-ready="true"] #join:not([disabled])`)),
		chromedp.Click(chromedp.CSS(`#join`)),
		chromedp.WaitVisible(chromedp.CSS(`body[data-state="incall"] #grid`)),
	); err != nil {
		t.Fatalf("expert accepts and joins: %v", err)
	}
	if loc, err := chromedp.Run(expert, chromedp.Location()); err != nil || !strings.HasSuffix(loc, "/calls/"+r.Call) {
		t.Fatalf("Accept led to %q, %v", loc, err)
	}
	eventually(t, 10*time.Second, "call active", func() bool { return status() == storage.SessionActive })

	g := waitDecoding(t, guest, "guest")
	e := waitDecoding(t, expert, "expert")
	t.Logf("guest decoded %d frames of the expert's video, expert %d of the guest's", g, e)
}
