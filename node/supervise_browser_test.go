package node

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"siteline/media/client"
	"siteline/media/signal"
)

// The member's call page shows the indicator the server sends while the
// lead sits in and coaches, and takes it down when the lead leaves.
func TestMemberPageShowsTheSupervisionIndicator(t *testing.T) {
	cn := startCallNode(t)
	base := strings.Replace(cn.url, "127.0.0.1", "localhost", 1)
	lead, leadB := cn.user(t, "lead@plant.example", "Lea Lead", "regular", "team_lead")
	member, memberB := cn.user(t, "member@plant.example", "Max Member", "regular")
	cn.team(t, "Line 3", lead.ID, member.ID)
	call := cn.createCall(t, memberB)

	page := newCallChromium(t)
	if err := chromedp.Do(page, browserLogin(base, "member@plant.example", "member@plant.example password 1")); err != nil {
		t.Fatalf("member logs in: %v", err)
	}
	joinCall(t, page, base, call.ID, "member", false)

	sup, err := cn.tryJoin(t, leadB, call.ID, client.JoinOptions{Hidden: true, Monitor: member.ID})
	if err != nil {
		t.Fatalf("sit in: %v", err)
	}
	banner := func(want string) {
		t.Helper()
		got, err := chromedp.Run(page, chromedp.Poll[string](
			`(() => { const b = document.querySelector("#monitor-banner"); return !b.hidden && b.textContent === `+
				"`"+want+"`"+` ? b.textContent : false })()`,
			chromedp.WithPollingTimeout(10*time.Second)))
		if err != nil || got != want {
			t.Fatalf("banner = %q, %v; want %q", got, err, want)
		}
	}
	banner("Your lead Lea Lead is listening")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := sup.Send(ctx, signal.Message{Type: signal.TypeCoach, Coaching: true}); err != nil {
		t.Fatal(err)
	}
	banner("Lea Lead is coaching you")
	_ = sup.Close()
	if _, err := chromedp.Run(page, chromedp.Poll[bool](`document.querySelector("#monitor-banner").hidden`,
		chromedp.WithPollingTimeout(10*time.Second))); err != nil {
		t.Fatalf("banner still shown after the lead left: %v", err)
	}
}

// A lead sitting in hands the session to another member of the team by
// picking them by name on the call page: the session's owner becomes
// that member. The picker lists the team's people and queues, not ids.
func TestSupervisorTransfersByNameFromTheCallPage(t *testing.T) {
	cn := startCallNode(t)
	base := strings.Replace(cn.url, "127.0.0.1", "localhost", 1)
	lead, _ := cn.user(t, "lead@plant.example", "Lea Lead", "regular", "team_lead")
	member, memberB := cn.user(t, "member@plant.example", "Max Member", "regular")
	other, _ := cn.user(t, "other@plant.example", "Mia Other", "regular")
	cn.team(t, "Line 3", lead.ID, member.ID, other.ID)
	call := cn.createCall(t, memberB)
	mc := cn.join(t, memberB, call.ID, "Max", client.Config{})
	defer mc.Close()

	page := newCallChromium(t)
	if err := chromedp.Do(page, browserLogin(base, "lead@plant.example", "lead@plant.example password 1")); err != nil {
		t.Fatalf("lead logs in: %v", err)
	}
	if err := chromedp.Do(page,
		chromedp.Navigate(base+"/calls/"+call.ID+"?sitin="+member.ID),
		chromedp.WaitVisible(chromedp.CSS(`body[data-ready="true"] #join:not([disabled])`)),
		chromedp.Click(chromedp.CSS(`#join`)),
		chromedp.WaitVisible(chromedp.CSS(`body[data-state="incall"] #sup-bar`)),
	); err != nil {
		t.Fatalf("lead sits in: %v", err)
	}
	options, err := chromedp.Run(page, chromedp.Evaluate[[]string](`[...document.querySelectorAll("#transfer-to option")].map(o => o.textContent)`))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(options, "Mia Other") || !slices.Contains(options, "Line 3 (queue)") || slices.Contains(options, "Lea Lead") {
		t.Fatalf("transfer choices = %q, want the team's people by name (not the lead) and its queue", options)
	}
	if _, err := chromedp.Run(page, chromedp.Evaluate[bool](`window.confirm = () => false; true`)); err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(page,
		chromedp.SetValue(chromedp.CSS(`#transfer-to`), "user:"+other.ID),
		chromedp.Click(chromedp.CSS(`#btn-transfer`)),
	); err != nil {
		t.Fatalf("transfer: %v", err)
	}
	eventually(t, 10*time.Second, "Mia to own the session", func() bool {
		s, err := cn.n.store.Session(context.Background(), call.ID)
		return err == nil && s.Owner() == other.ID
	})
}

// A lead clicks "See screen" on a member's card of the team dashboard;
// the member's page rings with who asks; the member accepts and shares
// (the screen, or the camera where the browser cannot share a screen);
// the lead's page shows the video, and the member's page says who is
// watching.
func TestLeadSeesAMembersScreenFromTheDashboard(t *testing.T) {
	// The links the node makes (the ring's, the watching page's) are at its
	// public URL, on localhost for the secure cookies.
	addr := freeAddr(t, "127.0.0.1")
	base := "http://localhost:" + addr[strings.LastIndex(addr, ":")+1:]
	cn := startCallNodeWith(t, func(c *Config) { c.HTTP.Listen, c.HTTP.PublicURL = addr, base })
	lead, _ := cn.user(t, "lead@plant.example", "Lea Lead", "regular", "team_lead")
	member, _ := cn.user(t, "member@plant.example", "Max Member", "regular")
	cn.team(t, "Line 3", lead.ID, member.ID)

	mem := newCallChromium(t)
	if err := chromedp.Do(mem, browserLogin(base, "member@plant.example", "member@plant.example password 1"),
		chromedp.Navigate(base+"/"), chromedp.WaitVisible(chromedp.CSS(`#content`))); err != nil {
		t.Fatalf("member logs in: %v", err)
	}
	sup := newCallChromium(t)
	if err := chromedp.Do(sup, browserLogin(base, "lead@plant.example", "lead@plant.example password 1"),
		chromedp.Navigate(base+"/supervision"),
		chromedp.WaitVisible(chromedp.CSS(`#sv-members [data-member="`+member.ID+`"] .sv-monitor`)),
		chromedp.Click(chromedp.CSS(`#sv-members [data-member="`+member.ID+`"] .sv-monitor`)),
		chromedp.WaitVisible(chromedp.CSS(`body[data-ready="true"] #join:not([disabled])`)),
	); err != nil {
		t.Fatalf("lead asks to see the screen: %v", err)
	}

	if err := chromedp.Do(mem, chromedp.WaitVisible(chromedp.CSS(`.ring [data-ring-accept]`))); err != nil {
		t.Fatalf("the member's page never rang: %v", err)
	}
	subject, err := chromedp.Run(mem, chromedp.Evaluate[string](`document.querySelector(".ring .ring-subject").textContent`))
	if err != nil || subject != "Lea Lead asks to see your screen" {
		t.Fatalf("ring says %q, %v", subject, err)
	}
	if err := chromedp.Do(mem, chromedp.Click(chromedp.CSS(`.ring [data-ring-accept]`)),
		chromedp.WaitVisible(chromedp.CSS(`body[data-ready="true"] #join:not([disabled])`))); err != nil {
		t.Fatalf("accept: %v", err)
	}
	label, err := chromedp.Run(mem, chromedp.Evaluate[string](`document.querySelector("#join span").textContent`))
	if err != nil || label != "Share my screen" {
		t.Fatalf("join button = %q, %v; want Share my screen", label, err)
	}
	if err := chromedp.Do(mem, chromedp.Click(chromedp.CSS(`#join`)),
		chromedp.WaitVisible(chromedp.CSS(`body[data-state="incall"] #grid`))); err != nil {
		t.Fatalf("member shares: %v", err)
	}
	if err := chromedp.Do(sup, chromedp.Click(chromedp.CSS(`#join`)),
		chromedp.WaitVisible(chromedp.CSS(`body[data-state="incall"] #sup-bar`))); err != nil {
		t.Fatalf("lead watches: %v", err)
	}
	if _, err := chromedp.Run(sup, chromedp.Poll[bool](`window.sitelineCall.firstFrameAt > 0`,
		chromedp.WithPollingTimeout(20*time.Second))); err != nil {
		t.Fatalf("the lead sees no frame: %v\npage: %s", err, callDiagnosis(sup))
	}
	banner, err := chromedp.Run(mem, chromedp.Poll[string](
		`(() => { const b = document.querySelector("#monitor-banner"); return !b.hidden && b.textContent.startsWith("Lea Lead is watching your") ? b.textContent : false })()`,
		chromedp.WithPollingTimeout(10*time.Second)))
	if err != nil {
		t.Fatalf("the member's page does not say who watches: %v", err)
	}
	t.Logf("member's indicator: %q", banner)
}
