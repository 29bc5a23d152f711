package node

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/heapprofiler"
	"github.com/chromedp/cdproto/network"
	cdpruntime "github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"siteline/storage"
	"siteline/web"
)

var (
	screenshots = flag.Bool("screenshots", false, "TestCallBrowser: write the call page's screenshots to docs/screenshots")
	callSoak    = flag.Duration("call-soak", 0, "TestCallBrowser: stay this long in the call and log each page's JavaScript heap (the figure in docs/benchmarks.md)")
)

// jsHeap returns the page's used JavaScript heap, after a collection.
func jsHeap(ctx context.Context) (float64, error) {
	if err := chromedp.Do(ctx, chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		_, err := cdp.Call(ctx, t, heapprofiler.CollectGarbage, cdp.Empty{})
		return err
	})); err != nil {
		return 0, err
	}
	u, err := chromedp.Run(ctx, func(ctx context.Context, t *chromedp.Target) (cdpruntime.GetHeapUsageResult, error) {
		return cdp.Call(ctx, t, cdpruntime.GetHeapUsage, cdp.Empty{})
	})
	return u.UsedSize, err
}

// newCallChromium starts a Chromium for a call page (mediaChromium).
func newCallChromium(t *testing.T) context.Context {
	return startChromium(t, 2*time.Minute+*callSoak, mediaChromium...)
}

// netLog records a tab's requests: those that left localhost, and the
// bytes transferred.
type netLog struct {
	mu       sync.Mutex
	external []string
	bytes    float64
	requests int
}

func watchNetwork(t *testing.T, ctx context.Context) *netLog {
	t.Helper()
	nl := &netLog{}
	err := chromedp.Listen(ctx, func(ev any) {
		switch ev := ev.(type) {
		case *network.EventRequestWillBeSent:
			u := ev.Request.URL
			if !strings.HasPrefix(u, "http://localhost:") && !strings.HasPrefix(u, "ws://localhost:") &&
				!strings.HasPrefix(u, "data:") && !strings.HasPrefix(u, "blob:") {
				nl.mu.Lock()
				nl.external = append(nl.external, u)
				nl.mu.Unlock()
			}
		case *network.EventLoadingFinished:
			nl.mu.Lock()
			nl.bytes += ev.EncodedDataLength
			nl.requests++
			nl.mu.Unlock()
		}
	})
	if err != nil {
		t.Fatalf("listen to the network: %v", err)
	}
	return nl
}

func (nl *netLog) reset() {
	nl.mu.Lock()
	nl.bytes, nl.requests = 0, 0
	nl.mu.Unlock()
}

// mediaStats is what a page receives, from getStats on its subscribe
// connection.
type mediaStats struct {
	Frames     int64 `json:"frames"`
	AudioPkts  int64 `json:"audioPackets"`
	AudioBytes int64 `json:"audioBytes"`
}

const statsJS = `(async () => {
  const pc = window.sitelineCall && window.sitelineCall.sub;
  const out = {frames: 0, audioPackets: 0, audioBytes: 0};
  if (!pc) return out;
  (await pc.getStats()).forEach(r => {
    if (r.type !== "inbound-rtp") return;
    if (r.kind === "video") out.frames += r.framesDecoded || 0;
    if (r.kind === "audio") { out.audioPackets += r.packetsReceived || 0; out.audioBytes += r.bytesReceived || 0; }
  });
  return out;
})()`

func readStats(ctx context.Context) (mediaStats, error) {
	return chromedp.Run(ctx, chromedp.Evaluate[mediaStats](statsJS, chromedp.EvalAwaitPromise))
}

// waitMedia waits until the page decodes remote video and receives remote
// audio, then until both have grown: media flows, not one stray frame.
func waitMedia(t *testing.T, ctx context.Context, who string) mediaStats {
	t.Helper()
	var first mediaStats
	deadline := time.Now().Add(20 * time.Second)
	for {
		s, err := readStats(ctx)
		if err != nil {
			t.Fatalf("%s: getStats: %v", who, err)
		}
		if first.Frames == 0 && s.Frames > 0 && s.AudioPkts > 0 {
			first = s
		} else if first.Frames > 0 && s.Frames > first.Frames && s.AudioPkts > first.AudioPkts && s.AudioBytes > first.AudioBytes {
			return s
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: remote media not flowing within 20s: first %+v, now %+v", who, first, s)
		}
		time.Sleep(100 * time.Millisecond) // poll interval
	}
}

// joinCall clicks Join on a loaded call page and returns the time from the
// click to the first remote video frame, as the page measured it.
func joinCall(t *testing.T, ctx context.Context, base, callID, who string, waitFrame bool) time.Duration {
	t.Helper()
	if err := chromedp.Do(ctx,
		chromedp.Navigate(base+"/calls/"+callID),
		chromedp.WaitVisible(chromedp.CSS(`body[data-ready="true"] #join:not([disabled])`)),
		chromedp.Click(chromedp.CSS(`#join`)),
		chromedp.WaitVisible(chromedp.CSS(`body[data-state="incall"] #grid`)),
	); err != nil {
		t.Fatalf("%s joins: %v", who, err)
	}
	if !waitFrame {
		return 0
	}
	ms, err := chromedp.Run(ctx, chromedp.Poll[float64](
		`window.sitelineCall.firstFrameAt && window.sitelineCall.firstFrameAt - window.sitelineCall.joinClickedAt`,
		chromedp.WithPollingTimeout(20*time.Second)))
	if err != nil {
		t.Fatalf("%s: no remote frame: %v\npage: %s", who, err, callDiagnosis(ctx))
	}
	return time.Duration(ms * float64(time.Millisecond))
}

// diagnoseJS describes a call page's connections, for failure messages.
const diagnoseJS = `(async () => {
  const c = window.sitelineCall || {};
  const out = {peers: [...(c.peers || new Map()).values()].map(p => ({id: p.id, tracks: p.stream.getTracks().map(t => t.kind + ":" + t.readyState + (t.muted ? ":muted" : "")), cls: p.tile.className, paused: p.video.paused, ready: p.video.readyState}))};
  for (const [name, pc] of [["pub", c.pub], ["sub", c.sub]]) {
    if (!pc) continue;
    const d = {conn: pc.connectionState, ice: pc.iceConnectionState, sig: pc.signalingState,
      transceivers: pc.getTransceivers().map(t => (t.mid || "-") + ":" + t.currentDirection + ":" + t.receiver.track.kind), inbound: []};
    (await pc.getStats()).forEach(r => { if (r.type === "inbound-rtp") d.inbound.push(r.kind + " pkts=" + r.packetsReceived + " frames=" + (r.framesDecoded || 0)); });
    out[name] = d;
  }
  return JSON.stringify(out);
})()`

func callDiagnosis(ctx context.Context) string {
	s, err := chromedp.Run(ctx, chromedp.Evaluate[string](diagnoseJS, chromedp.EvalAwaitPromise))
	if err != nil {
		return err.Error()
	}
	return s
}

// TestCallBrowser: two users in two real Chromium instances start and join
// one call from the backoffice; each decodes the other's video and
// receives their audio; a chat message from one shows in the other's page
// and in the session's stored history; no request leaves the node.
func TestCallBrowser(t *testing.T) {
	cn := startCallNode(t)
	base := strings.Replace(cn.url, "127.0.0.1", "localhost", 1)
	if st := cn.admin.do("POST", "/api/v1/users", web.UserInput{Email: "expert@plant.example", Name: "Eve Expert",
		Password: "expert's password 1", Roles: []string{"regular"}}, nil); st != 201 {
		t.Fatalf("create expert = %d", st)
	}
	a, b := newCallChromium(t), newCallChromium(t)
	netA, netB := watchNetwork(t, a), watchNetwork(t, b)

	// Tom starts a call from the home page, naming it and its goal.
	const callName, callGoal = "Pump 4 seal", "Stop the leak at the flange"
	if err := chromedp.Do(a, browserLogin(base, "tech@plant.example", "tech's password 1"),
		chromedp.Click(chromedp.CSS(`#new-call`)),
		chromedp.WaitVisible(chromedp.CSS(`#new-call-dialog #nc-name`)),
		chromedp.SetValue(chromedp.CSS(`#nc-name`), callName),
		chromedp.SetValue(chromedp.CSS(`#nc-goal`), callGoal),
		chromedp.Click(chromedp.CSS(`#nc-start`)),
		chromedp.WaitVisible(chromedp.CSS(`body[data-ready="true"] #join`)),
	); err != nil {
		t.Fatalf("tech starts a call: %v", err)
	}
	loc, err := chromedp.Run(a, chromedp.Location())
	if err != nil || !strings.Contains(loc, "/calls/") {
		t.Fatalf("after New call the tech is at %q, %v", loc, err)
	}
	callID := loc[strings.LastIndex(loc, "/")+1:]
	if s, err := cn.n.Store().Session(context.Background(), callID); err != nil || s.Name != callName || s.Goal != callGoal {
		t.Fatalf("the call started from the dialog is %q / %q (%v), want %q / %q", s.Name, s.Goal, err, callName, callGoal)
	}
	if err := chromedp.Do(b, browserLogin(base, "expert@plant.example", "expert's password 1")); err != nil {
		t.Fatalf("expert logs in: %v", err)
	}

	joinCall(t, a, base, callID, "tech", false)
	netB.reset()
	took := joinCall(t, b, base, callID, "expert", true)
	netB.mu.Lock()
	weight, requests := netB.bytes, netB.requests
	netB.mu.Unlock()
	times := []time.Duration{took}

	sa := waitMedia(t, a, "tech")
	sb := waitMedia(t, b, "expert")
	t.Logf("tech receives %+v; expert receives %+v", sa, sb)

	// Tom writes in the chat; Eve sees it with his name.
	const text = "Seal on pump 4 is leaking at the flange"
	openChat := chromedp.Evaluate[bool](`document.body.classList.contains("chat-open") || (document.querySelector("#btn-chat").click(), true)`)
	if _, err := chromedp.Run(a, openChat); err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(a,
		chromedp.WaitVisible(chromedp.CSS(`#chat-input`)),
		chromedp.SetValue(chromedp.CSS(`#chat-input`), text),
		chromedp.Click(chromedp.CSS(`#chat-form .send`)),
	); err != nil {
		t.Fatalf("tech sends a chat message: %v", err)
	}
	author, err := chromedp.Run(b, chromedp.Poll[string](fmt.Sprintf(
		`(() => { const li = [...document.querySelectorAll("#chat-log li")].find(li => li.querySelector(".text")?.textContent === %q); return li ? li.querySelector(".meta b").textContent : ""; })()`, text),
		chromedp.WithPollingTimeout(10*time.Second)))
	if err != nil || author != "Tom Tech" {
		t.Fatalf("chat in the expert's page: author %q, %v; want Tom Tech", author, err)
	}
	evs, err := cn.n.Store().SessionEvents(context.Background(), callID)
	if err != nil {
		t.Fatal(err)
	}
	var kinds []string
	chatStored := false
	for _, ev := range evs {
		kinds = append(kinds, ev.Kind)
		var p map[string]string
		if ev.Kind == storage.EventChat && json.Unmarshal(ev.Payload, &p) == nil && p["text"] == text && p["name"] == "Tom Tech" {
			chatStored = true
		}
	}
	if !chatStored || slices.Index(kinds, storage.EventChat) < slices.Index(kinds, storage.EventJoined) {
		t.Fatalf("session events %v: chat %q by Tom Tech stored = %v", kinds, text, chatStored)
	}
	// Both joined from a desktop browser, as their User-Agent says.
	parts, err := cn.n.Store().SessionParticipants(context.Background(), callID)
	if err != nil || len(parts) < 2 {
		t.Fatalf("participants %+v, %v", parts, err)
	}
	for _, p := range parts {
		if p.DeviceKind != web.DeviceDesktop {
			t.Errorf("%s joined from device %q, want %q", p.DisplayName, p.DeviceKind, web.DeviceDesktop)
		}
	}

	checkCallTools(t, cn, a, b, callID)

	if *callSoak > 0 {
		before, err := jsHeap(a)
		if err != nil {
			t.Fatal(err)
		}
		s0, _ := readStats(b)
		t.Logf("staying %v in the call", *callSoak)
		<-time.After(*callSoak) // the measurement is the time spent in the call
		after, err := jsHeap(a)
		if err != nil {
			t.Fatal(err)
		}
		afterB, err := jsHeap(b)
		if err != nil {
			t.Fatal(err)
		}
		s1 := waitMedia(t, b, "expert")
		t.Logf("JavaScript heap: tech %.1f MB after the tools, %.1f MB %v later; expert %.1f MB; expert decoded %d frames meanwhile",
			before/1e6, after/1e6, *callSoak, afterB/1e6, s1.Frames-s0.Frames)
	}

	if *screenshots {
		dir := filepath.Join("..", "docs", "screenshots")
		if _, err := chromedp.Run(b, openChat); err != nil {
			t.Fatal(err)
		}
		shot := func(ctx context.Context, w, h int64, name string) {
			if err := chromedp.Do(ctx, chromedp.EmulateViewport(w, h)); err != nil {
				t.Fatalf("viewport for %s: %v", name, err)
			}
			buf, err := chromedp.Run(ctx, chromedp.FullScreenshot(100)) // 100: PNG
			if err != nil {
				t.Fatalf("screenshot %s: %v", name, err)
			}
			if err := os.WriteFile(filepath.Join(dir, name), buf, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		shot(b, 1280, 720, "call-desktop.png")
		if _, err := chromedp.Run(a, chromedp.Evaluate[bool](`document.querySelector("#chat-close").click(), true`)); err != nil {
			t.Fatal(err)
		}
		shot(a, 390, 844, "call-phone.png")
	}

	// Two more joins of Eve for the figure: leave, reload, join.
	for range 2 {
		if err := chromedp.Do(b, chromedp.Click(chromedp.CSS(`#btn-leave`)), chromedp.WaitVisible(chromedp.CSS(`#after`))); err != nil {
			t.Fatalf("expert leaves: %v", err)
		}
		times = append(times, joinCall(t, b, base, callID, "expert", true))
	}
	slices.Sort(times)
	t.Logf("join click to first remote frame: median %v (runs %v); call page weight %.1f KiB in %d requests",
		times[len(times)/2], times, weight/1024, requests)

	for who, nl := range map[string]*netLog{"tech": netA, "expert": netB} {
		nl.mu.Lock()
		if len(nl.external) > 0 {
			t.Errorf("%s's browser requested outside the node: %v", who, nl.external)
		}
		nl.mu.Unlock()
	}
}
