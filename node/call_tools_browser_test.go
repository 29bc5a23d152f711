package node

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/at-wat/ebml-go"
	"github.com/at-wat/ebml-go/webm"
	"github.com/chromedp/cdproto/input"
	"github.com/chromedp/chromedp"

	"siteline/storage"
)

// checkCallTools drives the in-call tools between two pages already in
// call callID: a (tech) and b (expert). The expert freezes the tech's
// video and draws an arrow that appears on the tech's page; the tech
// shares a file the expert downloads byte-identical, and which leaves both
// pages when it is deleted; the expert records a
// few seconds and the WebM file the node keeps parses with a duration
// within 20% of the wall time.
func checkCallTools(t *testing.T, cn *callNode, a, b context.Context, callID string) {
	t.Helper()

	// Freeze frame: the snapshot opens for both; a stroke appears live.
	if err := chromedp.Do(b, chromedp.Click(chromedp.CSS(`#btn-snapshot`))); err != nil {
		t.Fatalf("expert takes a snapshot: %v", err)
	}
	for who, ctx := range map[string]context.Context{"tech": a, "expert": b} {
		if _, err := chromedp.Run(ctx, chromedp.Poll[bool](`!!(window.sitelineBoard.media && window.sitelineBoard.img && document.querySelector("#board").open)`,
			chromedp.WithPollingTimeout(15*time.Second))); err != nil {
			t.Fatalf("%s: the snapshot did not open: %v", who, err)
		}
	}
	if err := chromedp.Do(b, chromedp.Click(chromedp.CSS(`#board-tools [data-tool="arrow"]`))); err != nil {
		t.Fatal(err)
	}
	box, err := chromedp.Run(b, chromedp.Evaluate[[]float64](`(() => { const r = document.querySelector("#board-canvas").getBoundingClientRect(); return [r.left, r.top, r.width, r.height]; })()`))
	if err != nil {
		t.Fatal(err)
	}
	x0, y0 := box[0]+box[2]*0.2, box[1]+box[3]*0.2
	x1, y1 := box[0]+box[2]*0.6, box[1]+box[3]*0.7
	if err := chromedp.Do(b,
		chromedp.MouseEvent(input.DispatchMouseEventTypeMousePressed, x0, y0, chromedp.ButtonLeft, chromedp.ClickCount(1)),
		chromedp.MouseEvent(input.DispatchMouseEventTypeMouseMoved, (x0+x1)/2, (y0+y1)/2, chromedp.ButtonLeft),
		chromedp.MouseEvent(input.DispatchMouseEventTypeMouseMoved, x1, y1, chromedp.ButtonLeft),
		chromedp.MouseEvent(input.DispatchMouseEventTypeMouseReleased, x1, y1, chromedp.ButtonLeft, chromedp.ClickCount(1)),
	); err != nil {
		t.Fatalf("expert draws: %v", err)
	}
	if _, err := chromedp.Run(a, chromedp.Poll[bool](`window.sitelineBoard.strokes.some(s => s.tool === "arrow" && s.points[1][0] > 0.5)`,
		chromedp.WithPollingTimeout(10*time.Second))); err != nil {
		t.Fatalf("tech: the expert's arrow did not arrive: %v", err)
	}
	if *screenshots {
		buf, err := chromedp.Run(a, chromedp.FullScreenshot(100))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join("..", "docs", "screenshots", "call-annotate.png"), buf, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := chromedp.Do(a, chromedp.Click(chromedp.CSS(`#board-close`))); err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(b, chromedp.Click(chromedp.CSS(`#board-close`))); err != nil {
		t.Fatal(err)
	}
	eventKinds := func() map[string]int {
		evs, err := cn.n.Store().SessionEvents(context.Background(), callID)
		if err != nil {
			t.Fatal(err)
		}
		kinds := map[string]int{}
		for _, ev := range evs {
			kinds[ev.Kind]++
		}
		return kinds
	}
	if k := eventKinds(); k[storage.EventAnnotation] != 1 || k["snapshot"] != 1 {
		t.Fatalf("session events %v: want one snapshot and one annotation", k)
	}

	// A file shared by the tech downloads byte-identical at the expert's.
	content := make([]byte, 300<<10)
	if _, err := rand.Read(content); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "pump-4-manual.pdf")
	if err := os.WriteFile(path, content, 0o600); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(content)
	if err := chromedp.Do(a, chromedp.SetUploadFiles(chromedp.CSS(`#file-input`), []string{path}, chromedp.NodeReady)); err != nil {
		t.Fatalf("tech shares a file: %v", err)
	}
	if _, err := chromedp.Run(b, chromedp.Poll[bool](`[...document.querySelectorAll("#chat-log li.media a.file")].some(a => a.textContent === "pump-4-manual.pdf")`,
		chromedp.WithPollingTimeout(15*time.Second))); err != nil {
		t.Fatalf("expert: the shared file did not arrive: %v", err)
	}
	got, err := chromedp.Run(b, chromedp.Evaluate[string](`(async () => {
  const a = [...document.querySelectorAll("#chat-log li.media a.file")].find(a => a.textContent === "pump-4-manual.pdf");
  const res = await fetch(a.href, {credentials: "same-origin"});
  if (!res.ok) return "HTTP " + res.status;
  const d = await crypto.subtle.digest("SHA-256", await res.arrayBuffer());
  return [...new Uint8Array(d)].map(x => x.toString(16).padStart(2, "0")).join("");
})()`, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatalf("expert downloads the file: %v", err)
	}
	if got != hex.EncodeToString(sum[:]) {
		t.Fatalf("expert downloaded %s, want the file's sha256 %x", got, sum)
	}
	// Deleted from the API, the file leaves both pages without a reload.
	mediaID, err := chromedp.Run(b, chromedp.Evaluate[string](`[...document.querySelectorAll("#chat-log li.media")].find(li => li.querySelector("a.file")?.textContent === "pump-4-manual.pdf").dataset.media`))
	if err != nil || mediaID == "" {
		t.Fatalf("the file's media id on the expert's page: %q, %v", mediaID, err)
	}
	if st := cn.admin.do("DELETE", "/api/v1/media/"+mediaID, nil, nil); st != 200 {
		t.Fatalf("delete the file = %d", st)
	}
	for who, ctx := range map[string]context.Context{"tech": a, "expert": b} {
		if _, err := chromedp.Run(ctx, chromedp.Poll[bool](`!document.querySelector('#chat-log li.media[data-media="`+mediaID+`"]')`,
			chromedp.WithPollingTimeout(15*time.Second))); err != nil {
			t.Fatalf("%s: the deleted file stays on the page: %v", who, err)
		}
	}

	// Recording: everyone sees the indicator; the file plays for as long
	// as the recording ran.
	if err := chromedp.Do(b, chromedp.Click(chromedp.CSS(`#btn-record`))); err != nil {
		t.Fatal(err)
	}
	started := time.Now()
	for who, ctx := range map[string]context.Context{"tech": a, "expert": b} {
		if err := chromedp.Do(ctx, chromedp.WaitVisible(chromedp.CSS(`#rec-indicator`))); err != nil {
			t.Fatalf("%s: no recording indicator: %v", who, err)
		}
	}
	// Four seconds of video reach the expert: 120 more frames decoded.
	s0, err := readStats(b)
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for s, _ := readStats(b); s.Frames < s0.Frames+120; s, _ = readStats(b) {
		if time.Now().After(deadline) {
			t.Fatalf("video stalled while recording: %+v then %+v", s0, s)
		}
		time.Sleep(100 * time.Millisecond) // poll interval
	}
	if err := chromedp.Do(b, chromedp.Click(chromedp.CSS(`#btn-record`))); err != nil {
		t.Fatal(err)
	}
	wall := time.Since(started)
	if err := chromedp.Do(a, chromedp.WaitNotVisible(chromedp.CSS(`#rec-indicator`))); err != nil {
		t.Fatalf("tech: the indicator stayed: %v", err)
	}
	// One file per publisher, each holding its camera and microphone.
	var recs []storage.Recording
	deadline = time.Now().Add(30 * time.Second)
	for len(recs) < 2 {
		if recs, err = cn.n.store.SessionRecordings(context.Background(), callID); err != nil {
			t.Fatal(err)
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d recordings stored 30 s after stopping, want one per publisher", len(recs))
		}
		time.Sleep(100 * time.Millisecond) // poll interval
	}
	for _, r := range recs {
		// The expert's page fetches each like any participant.
		b64, err := chromedp.Run(b, chromedp.Evaluate[string](`(async () => {
  const res = await fetch("/api/v1/recordings/`+r.ID+`", {credentials: "same-origin"});
  if (!res.ok) return "HTTP " + res.status;
  const buf = new Uint8Array(await res.arrayBuffer());
  let s = "";
  for (let i = 0; i < buf.length; i += 8192) s += String.fromCharCode(...buf.subarray(i, i + 8192));
  return btoa(s);
})()`, chromedp.EvalAwaitPromise))
		if err != nil {
			t.Fatal(err)
		}
		data, err := base64.StdEncoding.DecodeString(b64)
		if err != nil {
			t.Fatalf("fetch recording %s: %.40s", r.Name, b64)
		}
		var f struct {
			Header  webm.EBMLHeader `ebml:"EBML"`
			Segment webm.Segment    `ebml:"Segment"`
		}
		if err := ebml.Unmarshal(bytes.NewReader(data), &f); err != nil {
			t.Fatalf("recording %s (%d bytes) does not parse as WebM: %v", r.Name, len(data), err)
		}
		d := time.Duration(f.Segment.Info.Duration*float64(f.Segment.Info.TimecodeScale)) * time.Nanosecond
		tracks := len(f.Segment.Tracks.TrackEntry)
		if f.Header.DocType != "webm" || tracks != 2 || d < wall*8/10 || d > wall*12/10 {
			t.Fatalf("recording %s: doc type %q, %d tracks, duration %v; recording ran %v", r.Name, f.Header.DocType, tracks, d, wall)
		}
		t.Logf("recording %s of %v: %d bytes, duration %v, %d tracks", r.Name, wall, len(data), d, tracks)
	}
}
