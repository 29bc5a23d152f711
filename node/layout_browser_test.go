package node

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"

	"siteline/storage"
	"siteline/web"
)

// axeScript is axe-core, vendored from npm into the test data (not into
// the product's assets): testdata/axe/README.md says which version.
const axeScript = "testdata/axe/axe-4.14.1.min.js"

// screen is a viewport the layout test opens every page at.
type screen struct{ w, h int64 }

// layoutScreens: two common phones in portrait and a laptop.
var layoutScreens = []screen{{360, 740}, {390, 844}, {1280, 800}}

// layoutPage is a page the layout test opens, with the controls a person
// must reach on it without scrolling sideways.
type layoutPage struct {
	name    string
	path    string   // opened when not empty; else the page is the one already open
	ready   string   // CSS selector visible when the page is ready
	primary []string // controls inside the viewport at every width
	phone   []string // more of them, on phones only
	fixed   bool     // a page that does not scroll (the call): controls must be on screen as it is
	before  string   // JavaScript run before the checks (open the chat, say)
	after   string   // JavaScript run after the checks
	shot    string   // file name of its phone screenshot (with -screenshots)
}

// layoutCheckJS measures a page: its width against the window's, and
// each primary control's box against the viewport and the boxes of the
// scrolling containers it is in. A control of a scrolling page is first
// brought into view vertically, as a thumb would.
const layoutCheckJS = `((selectors, fixed) => {
  const out = {scrollWidth: document.documentElement.scrollWidth, innerWidth: window.innerWidth, problems: []};
  for (const sel of selectors) {
    const el = document.querySelector(sel);
    if (!el) { out.problems.push(sel + " is missing"); continue; }
    if (!fixed) {
      const r = el.getBoundingClientRect();
      window.scrollBy(0, r.top - window.innerHeight / 2);
    }
    const r = el.getBoundingClientRect();
    const box = "[" + Math.round(r.left) + "," + Math.round(r.top) + " " + Math.round(r.width) + "x" + Math.round(r.height) + "]";
    if (r.width === 0 || r.height === 0) { out.problems.push(sel + " is not shown"); continue; }
    if (r.left < -1 || r.top < -1 || r.right > window.innerWidth + 1 || r.bottom > window.innerHeight + 1) {
      out.problems.push(sel + " " + box + " is outside the " + window.innerWidth + "x" + window.innerHeight + " viewport");
      continue;
    }
    if (fixed) {
      const hit = document.elementFromPoint(r.left + r.width / 2, r.top + r.height / 2);
      if (hit && hit !== el && !el.contains(hit)) {
        out.problems.push(sel + " " + box + " is covered by " + hit.tagName.toLowerCase() + (hit.id ? "#" + hit.id : ""));
        continue;
      }
    }
    for (let p = el.parentElement; p && p !== document.body; p = p.parentElement) {
      const st = getComputedStyle(p);
      if (st.overflowX === "visible" && st.overflowY === "visible") continue;
      const c = p.getBoundingClientRect();
      if (r.left < c.left - 1 || r.right > c.right + 1 || r.top < c.top - 1 || r.bottom > c.bottom + 1) {
        out.problems.push(sel + " " + box + " is clipped by " + p.tagName.toLowerCase() + (p.id ? "#" + p.id : "") + (p.className ? "." + String(p.className).split(" ").join(".") : ""));
        break;
      }
    }
  }
  // A select too narrow for a short choice shows it cut ("Any sta").
  const ctx = document.createElement("canvas").getContext("2d");
  for (const el of document.querySelectorAll("select")) {
    const r = el.getBoundingClientRect();
    if (r.width === 0 || el.selectedIndex < 0) continue;
    const st = getComputedStyle(el);
    ctx.font = st.font;
    const text = ctx.measureText(el.options[el.selectedIndex].text).width;
    const room = el.clientWidth - parseFloat(st.paddingLeft) - 20; // the arrow
    if (text > room && el.options[el.selectedIndex].text.length <= 24) out.problems.push("select#" + el.id + " is " + Math.round(el.clientWidth) + " px wide and cuts “" + el.options[el.selectedIndex].text + "”");
  }
  window.scrollTo(0, 0);
  return out;
})`

type layoutResult struct {
	ScrollWidth int      `json:"scrollWidth"`
	InnerWidth  int      `json:"innerWidth"`
	Problems    []string `json:"problems"`
}

// axeRunJS runs axe-core on the page and lists its serious and critical
// violations as "rule (impact): target: summary".
const axeRunJS = `axe.run(document, {resultTypes: ["violations"]}).then(r => r.violations
  .filter(v => v.impact === "serious" || v.impact === "critical")
  .flatMap(v => v.nodes.map(n => v.id + " (" + v.impact + "): " + n.target.join(" ") + ": " + (n.failureSummary || v.help).split("\n").join(" "))))`

// checkLayout opens the page (when it has a path), then at each screen
// size checks it fits and its primary controls are reachable, and runs
// axe-core at a phone's width and a laptop's.
func checkLayout(t *testing.T, tab context.Context, base, axe string, p layoutPage) {
	t.Helper()
	if p.path != "" {
		if err := chromedp.Do(tab, chromedp.EmulateViewport(1280, 800), chromedp.Navigate(base+p.path)); err != nil {
			t.Fatalf("%s: open %s: %v", p.name, p.path, err)
		}
	}
	if err := chromedp.Do(tab, chromedp.WaitVisible(chromedp.CSS(p.ready))); err != nil {
		t.Fatalf("%s: %s never shown: %v", p.name, p.ready, err)
	}
	if p.before != "" {
		if _, err := chromedp.Run(tab, chromedp.Evaluate[bool](p.before+`; true`)); err != nil {
			t.Fatalf("%s: %v", p.name, err)
		}
	}
	for _, s := range layoutScreens {
		controls := p.primary
		if s.w < 600 {
			controls = append(append([]string(nil), controls...), p.phone...)
		}
		sels, _ := json.Marshal(controls)
		if err := chromedp.Do(tab, chromedp.EmulateViewport(s.w, s.h)); err != nil {
			t.Fatal(err)
		}
		// The layout settles after a resize: poll until it fits, then
		// report what does not.
		js := fmt.Sprintf(`%s(%s, %v)`, layoutCheckJS, sels, p.fixed)
		var res layoutResult
		_, _ = chromedp.Run(tab, chromedp.Poll[bool](fmt.Sprintf(`(r => r.scrollWidth <= r.innerWidth && r.problems.length === 0)(%s)`, js),
			chromedp.WithPollingTimeout(time.Second)))
		res, err := chromedp.Run(tab, chromedp.Evaluate[layoutResult](js))
		if err != nil {
			t.Fatalf("%s at %d px: %v", p.name, s.w, err)
		}
		if res.ScrollWidth > res.InnerWidth {
			t.Errorf("%s at %d px: the page is %d px wide, wider than the %d px window; widest: %s",
				p.name, s.w, res.ScrollWidth, res.InnerWidth, widest(tab))
		}
		for _, pr := range res.Problems {
			t.Errorf("%s at %d px: %s", p.name, s.w, pr)
		}
		if s.w == 390 && *screenshots && p.shot != "" {
			buf, err := chromedp.Run(tab, chromedp.CaptureScreenshot())
			if err != nil {
				t.Fatalf("screenshot %s: %v", p.shot, err)
			}
			if err := os.WriteFile(filepath.Join("..", "docs", "screenshots", p.shot), buf, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		if s.w == 390 || s.w == 1280 {
			for _, v := range runAxe(t, tab, axe) {
				t.Errorf("%s at %d px: accessibility: %s", p.name, s.w, v)
			}
		}
		if s.w == 390 { // the dark theme, at a phone's width
			if err := chromedp.Do(tab, colorScheme("dark")); err != nil {
				t.Fatalf("%s: dark theme: %v", p.name, err)
			}
			for _, v := range runAxe(t, tab, axe) {
				t.Errorf("%s at %d px, dark theme: accessibility: %s", p.name, s.w, v)
			}
			if err := chromedp.Do(tab, colorScheme("light")); err != nil {
				t.Fatalf("%s: light theme: %v", p.name, err)
			}
		}
	}
	if err := chromedp.Do(tab, chromedp.EmulateViewport(1280, 800)); err != nil {
		t.Fatal(err)
	}
	if p.after != "" {
		if _, err := chromedp.Run(tab, chromedp.Evaluate[bool](p.after+`; true`)); err != nil {
			t.Fatalf("%s: %v", p.name, err)
		}
	}
}

// runAxe runs axe-core on the page and returns its serious and critical
// violations.
func runAxe(t *testing.T, tab context.Context, axe string) []string {
	t.Helper()
	violations, err := chromedp.Run(tab, chromedp.Evaluate[[]string](
		`(window.axe ? Promise.resolve() : Promise.resolve((0, eval)(`+axe+`))).then(() => `+axeRunJS+`)`, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatalf("axe-core: %v", err)
	}
	return violations
}

// colorScheme makes the page see prefers-color-scheme as scheme, and
// waits for the colours' transitions to end (axe-core would measure the
// contrast of a colour halfway).
func colorScheme(scheme string) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		_, err := cdp.Call(ctx, t, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{
			Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: scheme}}})
		if err != nil {
			return err
		}
		_, err = chromedp.Poll[bool](`document.getAnimations().every(a => !(a instanceof CSSTransition) || a.playState !== "running")`,
			chromedp.WithPollingTimeout(5*time.Second))(ctx, t)
		return err
	})
}

// widest names, for the failure message, the outermost elements that stick
// out past the window's right edge (and are not clipped by a frame that
// fits), and the deepest element without which the page fits.
func widest(tab context.Context) string {
	s, err := chromedp.Run(tab, chromedp.Evaluate[string](`(() => {
  const iw = window.innerWidth + 1, out = [];
  const name = el => el.tagName.toLowerCase() + (el.id ? "#" + el.id : "") +
    (typeof el.className === "string" && el.className.trim() ? "." + el.className.trim().split(/\s+/).join(".") : "");
  for (const el of document.body.querySelectorAll("*")) {
    const r = el.getBoundingClientRect();
    if (r.right <= iw || r.width === 0) continue;
    if (el.parentElement && el.parentElement.getBoundingClientRect().right > iw) continue;
    let clipped = false;
    for (let p = el.parentElement; p && p !== document.body; p = p.parentElement) {
      if (getComputedStyle(p).overflowX !== "visible" && p.getBoundingClientRect().right <= iw) { clipped = true; break; }
    }
    if (clipped) continue;
    out.push(name(el.parentElement) + " > " + name(el) + " right=" + Math.round(r.right));
    if (out.length === 5) break;
  }
  // The deepest element without which the page fits.
  let culprit = "";
  for (const el of document.body.querySelectorAll("*")) {
    const d = el.style.display;
    el.style.display = "none";
    const w = document.documentElement.scrollWidth;
    el.style.display = d;
    if (w <= window.innerWidth) culprit = name(el.parentElement) + " > " + name(el);
  }
  if (culprit) out.push("without " + culprit + " the page fits");
  return out.join("; ");
})()`))
	if err != nil {
		return err.Error()
	}
	return s
}

// TestLayoutBrowser: an administrator opens every page of the backoffice,
// the call page (before joining, in the call, with the chat open) and a
// guest's join page at 360, 390 and 1280 px. No page is wider than the
// window, every primary control is inside the viewport, and axe-core finds
// no serious or critical accessibility violation. With -screenshots the
// phone layouts (390 px) are written to docs/screenshots.
func TestLayoutBrowser(t *testing.T) {
	cn := startCallNode(t)
	base := strings.Replace(cn.url, "127.0.0.1", "localhost", 1) // Secure cookies on http://localhost
	axe, err := os.ReadFile(axeScript)
	if err != nil {
		t.Fatal(err)
	}
	axeJS, _ := json.Marshal(string(axe))

	// Something on every page: a call with a goal, a contact with long
	// notes, a team, a label, a guest link.
	admin := cn.admin
	call := cn.createCall(t, admin)
	var contact storage.Contact
	if st := admin.do("POST", "/api/v1/contacts", map[string]string{"name": "Ines Instrumentation", "company": "Valves & Controls International",
		"email": "ines.instrumentation@valves-controls.example", "phone": "+33 6 12 34 56 78", "notes": "Calibration of the pressure transmitters on line 3, weekdays only"}, &contact); st != 201 {
		t.Fatalf("create contact = %d", st)
	}
	var team storage.Team
	if st := admin.do("POST", "/api/v1/teams", map[string]string{"name": "Line 3 maintenance"}, &team); st != 201 {
		t.Fatalf("create team = %d", st)
	}
	var group storage.LabelGroup
	if st := admin.do("POST", "/api/v1/label-groups", map[string]string{"name": "Equipment", "color": "#0f766e"}, &group); st != 201 {
		t.Fatalf("create label group = %d", st)
	}
	if st := admin.do("POST", "/api/v1/labels", map[string]string{"group_id": group.ID, "name": "Pump"}, nil); st != 201 {
		t.Fatalf("create label = %d", st)
	}
	var inv web.InvitationOut
	if st := cn.tech.do("POST", "/api/v1/calls/"+cn.createCall(t, cn.tech).ID+"/invitations", web.InviteInput{Channel: "link"}, &inv); st != 201 {
		t.Fatalf("invite = %d", st)
	}
	adminID := cn.userID(t, cn.cfg.Organisation.AdminEmail)

	tab := startChromium(t, 4*time.Minute, mediaChromium...)
	if err := chromedp.Do(tab, browserLogin(base, cn.cfg.Organisation.AdminEmail, cn.password)); err != nil {
		t.Fatalf("administrator logs in: %v", err)
	}
	shell := []string{`.topbar h1`}
	pages := []layoutPage{
		{name: "home", path: "/", ready: `#content`, primary: append(shell, `#new-call`), shot: "phone-home.png"},
		{name: "sessions", path: "/sessions", ready: `#content`, primary: append(shell, `#h-status`), shot: "phone-sessions.png"},
		{name: "session", path: "/sessions/" + call.ID, ready: `#content`, primary: shell, shot: "phone-session.png"},
		{name: "contacts", path: "/contacts", ready: `#contacts-table`, primary: append(shell, `#q`,
			`#contacts-table a[href="/contacts/`+contact.ID+`"]`, `#contacts-table form[action="/contacts/`+contact.ID+`/delete"] button`), shot: "phone-contacts.png"},
		{name: "contact", path: "/contacts/" + contact.ID, ready: `#content`, primary: shell},
		{name: "users", path: "/users", ready: `#content`, primary: shell},
		{name: "user", path: "/users/" + adminID, ready: `#content`, primary: shell},
		{name: "teams", path: "/teams", ready: `#content`, primary: shell},
		{name: "team", path: "/teams/" + team.ID, ready: `#content`, primary: shell},
		{name: "labels", path: "/labels", ready: `#content`, primary: shell},
		{name: "outcomes and fields", path: "/history-settings", ready: `#content`, primary: shell},
		{name: "single sign-on", path: "/sso-settings", ready: `#mapping-table`, primary: shell},
		{name: "dashboards", path: "/dashboard", ready: `#dash[data-drawn]`, primary: append(shell, `#dash-history`), shot: "phone-dashboards.png"},
		{name: "policy", path: "/policy", ready: `#content`, primary: shell, shot: "phone-policy.png"},
		{name: "policy roles", path: "/policy/roles", ready: `#content`, primary: shell},
		{name: "policy check", path: "/policy/check", ready: `#content`, primary: shell},
		{name: "policy versions", path: "/policy/versions", ready: `#content`, primary: shell},
		{name: "audit log", path: "/audit", ready: `#content`, primary: shell},
		{name: "federation", path: "/cluster", ready: `#content`, primary: shell},
		{name: "reports", path: "/reports", ready: `#content`, primary: shell},
		{name: "team live", path: "/supervision", ready: `#sv[data-state="ready"]`, primary: shell, shot: "phone-team-live.png"},
		{name: "account", path: "/account", ready: `#content`, primary: shell},
		{name: "call, before joining", path: "/calls/" + call.ID, ready: `body[data-ready="true"] #join:not([disabled])`,
			primary: []string{`#join`, `#pre-mic`, `#pre-cam`}, shot: "phone-call-prejoin.png"},
	}
	for _, p := range pages {
		checkLayout(t, tab, base, string(axeJS), p)
	}

	if err := chromedp.Do(tab, chromedp.Click(chromedp.CSS(`#join`)),
		chromedp.WaitVisible(chromedp.CSS(`body[data-state="incall"] #grid`))); err != nil {
		t.Fatalf("administrator joins the call: %v", err)
	}
	// A wide window opens the chat on joining; the bar is checked without it.
	const closeChat = `document.body.classList.contains("chat-open") && document.querySelector("#chat-close").click()`
	inCall := []layoutPage{
		{name: "call", ready: `#grid`, fixed: true, before: closeChat, primary: []string{`#btn-mic`, `#btn-cam`, `#btn-leave`, `#btn-end`}, phone: []string{`#btn-more`}, shot: "phone-call.png"},
		{name: "call, more menu", ready: `#grid`, fixed: true, before: closeChat + `; document.querySelector("#btn-more").click()`,
			primary: []string{`#btn-chat`, `#btn-snapshot`, `#btn-file`, `#btn-record`}, after: `document.querySelector("#btn-more").click()`, shot: "phone-call-more.png"},
		{name: "call, chat open", ready: `#grid`, fixed: true, before: `document.body.classList.contains("chat-open") || document.querySelector("#btn-chat").click()`,
			primary: []string{`#chat-close`, `#chat-input`, `#chat-form .send`}, after: `document.querySelector("#chat-close").click()`, shot: "phone-call-chat.png"},
	}
	for _, p := range inCall {
		checkLayout(t, tab, base, string(axeJS), p)
	}

	// The guest's join page, as anyone opening the link sees it.
	checkLayout(t, tab, base, string(axeJS), layoutPage{name: "guest join page", path: "/join/" + tokenOf(t, inv.Link), ready: `#join-form`,
		primary: []string{`#name`, `#accept`, `#join-submit`}, shot: "phone-join.png"})
}
