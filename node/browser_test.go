package node

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"siteline/policy"
	"siteline/web"
)

// chromiumPath is Debian's Chromium; CI installs it (.ci/run). The test
// installs nothing itself.
const chromiumPath = "/usr/bin/chromium"

// newChromium starts a headless Chromium with a fresh profile and returns
// a context for its first tab; more tabs with their own cookies come from
// chromedp.NewContext(ctx, chromedp.WithNewBrowserContext()).
func newChromium(t *testing.T) context.Context {
	return startChromium(t, 2*time.Minute)
}

// mediaChromium are the flags of a browser in a call: a fake camera and
// microphone, media allowed to play, and every host but localhost
// unresolvable, so that any request leaving the node fails.
var mediaChromium = []chromedp.ExecAllocatorOption{
	chromedp.Flag("use-fake-ui-for-media-stream", true),
	chromedp.Flag("use-fake-device-for-media-stream", true),
	chromedp.Flag("allow-loopback-in-peer-connection", true),
	chromedp.Flag("autoplay-policy", "no-user-gesture-required"),
	chromedp.Flag("host-resolver-rules", "MAP * ~NOTFOUND, EXCLUDE localhost"),
	chromedp.WindowSize(1280, 800),
}

// startChromium starts its own headless Chromium (own process, own
// profile) with the extra flags, for at most timeout.
func startChromium(t *testing.T, timeout time.Duration, extra ...chromedp.ExecAllocatorOption) context.Context {
	t.Helper()
	if _, err := os.Stat(chromiumPath); err != nil {
		t.Fatalf("end-to-end browser test needs Chromium at %s (apt-get install -y chromium): %v", chromiumPath, err)
	}
	opts := append([]chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromiumPath),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.UserDataDir(t.TempDir()),
	}, extra...)
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelCtx := chromedp.NewContext(alloc)
	bounded, cancelTimeout := context.WithTimeout(ctx, timeout)
	t.Cleanup(func() { cancelTimeout(); cancelCtx(); cancelAlloc() })
	if err := chromedp.Do(bounded); err != nil { // starts the browser
		t.Fatalf("start chromium: %v", err)
	}
	return bounded
}

// pollPage is chromedp.Poll that outlives a page load: a page that
// navigates while the expression is polled (a form's submission landing)
// ends the poll in the old page with an error, and it starts again in
// the new one, until timeout.
func pollPage[T any](tab context.Context, expr string, timeout time.Duration) (T, error) {
	deadline := time.Now().Add(timeout)
	for {
		v, err := chromedp.Run(tab, chromedp.Poll[T](expr, chromedp.WithPollingTimeout(time.Until(deadline))))
		if err == nil || !pageWentAway(err) || time.Until(deadline) <= 0 {
			return v, err
		}
	}
}

// pageWentAway tells the errors of an evaluation whose page was replaced.
func pageWentAway(err error) bool {
	msg := err.Error()
	return strings.Contains(msg, "navigated or closed") || strings.Contains(msg, "context was destroyed") ||
		strings.Contains(msg, "Cannot find context")
}

// browserLogin logs in through the login form.
func browserLogin(base, email, password string) chromedp.Action[chromedp.Void] {
	return chromedp.Steps(
		chromedp.Navigate(base+"/login"),
		chromedp.WaitVisible(chromedp.CSS(`#email`)),
		chromedp.SendKeys(chromedp.CSS(`#email`), email),
		chromedp.SendKeys(chromedp.CSS(`#password`), password),
		chromedp.Click(chromedp.CSS(`form[action="/login"] button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS(`.sidebar`)),
	)
}

// TestBrowserRevokeInMatrix: an administrator revokes a permission with a
// click in the policy matrix; the affected user's next page load no
// longer shows the feature and the API answers 403.
func TestBrowserRevokeInMatrix(t *testing.T) {
	tn := startNode(t, Config{})
	// Browsers keep the __Host- Secure cookie on http://localhost.
	base := strings.Replace(tn.url, "127.0.0.1", "localhost", 1)
	if st := tn.admin().do("POST", "/api/v1/users", web.UserInput{Email: "tech@plant.example", Password: "correct horse battery", Roles: []string{"regular"}}, nil); st != 201 {
		t.Fatalf("create user = %d", st)
	}
	adminTab := newChromium(t)
	techTab, cancel := chromedp.NewContext(adminTab, chromedp.WithNewBrowserContext())
	defer cancel()

	contactsLink := chromedp.Evaluate[bool](`document.querySelector('nav a[href="/contacts"]') !== null`)
	apiStatus := chromedp.Evaluate[int](`fetch("/api/v1/contacts", {headers: {Accept: "application/json"}}).then(r => r.status)`, chromedp.EvalAwaitPromise)
	if err := chromedp.Do(techTab, browserLogin(base, "tech@plant.example", "correct horse battery")); err != nil {
		t.Fatalf("tech logs in: %v", err)
	}
	if shown, err := chromedp.Run(techTab, contactsLink); err != nil || !shown {
		t.Fatalf("tech sees Contacts before the revoke = %v, %v", shown, err)
	}

	cell := `button[data-role="regular"][data-perm="` + policy.ContactList + `"]`
	if err := chromedp.Do(adminTab,
		browserLogin(base, tn.cfg.Organisation.AdminEmail, tn.password),
		chromedp.Navigate(base+"/policy"),
		chromedp.WaitVisible(chromedp.CSS(cell+`[data-granted="true"]`)),
		chromedp.ScrollIntoView(chromedp.CSS(cell)),
		chromedp.Click(chromedp.CSS(cell)),
		chromedp.WaitVisible(chromedp.CSS(cell+`[data-granted="false"]`)),
	); err != nil {
		t.Fatalf("administrator revokes in the matrix: %v", err)
	}

	if err := chromedp.Do(techTab, chromedp.Navigate(base+"/"), chromedp.WaitVisible(chromedp.CSS(`.sidebar`))); err != nil {
		t.Fatalf("tech reloads: %v", err)
	}
	if shown, err := chromedp.Run(techTab, contactsLink); err != nil || shown {
		t.Errorf("tech sees Contacts after the revoke = %v, %v", shown, err)
	}
	if status, err := chromedp.Run(techTab, apiStatus); err != nil || status != 403 {
		t.Errorf("GET /api/v1/contacts from the tech's page = %d, %v; want 403", status, err)
	}
}
