package node

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"siteline/storage"
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
	// The results page, once the search's submission has loaded it (the
	// unfiltered table is visible before).
	found, err := pollPage[string](tab,
		`location.search === "?q=valve+1" && document.readyState === "complete" &&
			[...document.querySelectorAll("table.history tbody tr strong")].map(e => e.textContent).join(",") + " @ " + location.search`,
		10*time.Second)
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

// addSnapshot stores a snapshot (a w×h PNG) of session sessionID, taken by
// participant, with the strokes drawn on it in the call as annotation
// events; and an image shared as a file.
func addSnapshot(t *testing.T, tn *testNode, sessionID, participant string, w, h int, strokes ...map[string]any) (storage.Media, storage.Media) {
	t.Helper()
	ctx := context.Background()
	var img bytes.Buffer
	pic := image.NewRGBA(image.Rect(0, 0, w, h))
	draw.Draw(pic, pic.Bounds(), image.NewUniform(color.RGBA{90, 110, 130, 255}), image.Point{}, draw.Src)
	if err := png.Encode(&img, pic); err != nil {
		t.Fatal(err)
	}
	var out []storage.Media
	for _, kind := range []string{storage.MediaSnapshot, storage.MediaFile} {
		b, err := tn.n.blobs.Put(bytes.NewReader(img.Bytes()), 0)
		if err != nil {
			t.Fatal(err)
		}
		now := time.Now().UTC()
		m := storage.Media{ID: newID(), SessionID: sessionID, OrgID: tn.n.OrgID(), Kind: kind, Name: kind + ".png",
			BlobKey: b.Key, ContentType: "image/png", Size: b.Size, SHA256: b.Key, Participant: participant, CreatedBy: "u", CreatedAt: now}
		ev := storage.SessionEvent{ID: newID(), SessionID: sessionID, At: now, Kind: kind, ActorID: "u",
			Payload: payload(map[string]any{"participant": participant, "media": m.ID, "file_name": m.Name})}
		if err := tn.n.store.AddMedia(ctx, m, ev); err != nil {
			t.Fatal(err)
		}
		out = append(out, m)
	}
	for _, s := range strokes {
		ev := storage.SessionEvent{ID: newID(), SessionID: sessionID, At: time.Now().UTC(), Kind: storage.EventAnnotation, ActorID: "u",
			Payload: payload(map[string]any{"participant": participant, "media": out[0].ID, "stroke": s})}
		if err := tn.n.store.AppendSessionEvent(ctx, ev); err != nil {
			t.Fatal(err)
		}
	}
	return out[0], out[1]
}

// TestSessionSummaryBrowser: in Chromium, an expert filters the history
// by a label and finds the labelled call alone; its page shows the
// snapshot with the strokes drawn on it in the call, laid exactly over
// the image, on the thumbnail and full size, and an image file as a
// thumbnail. On a phone's screen the history, the session page and the
// service reports fit the width.
func TestSessionSummaryBrowser(t *testing.T) {
	tn := startNode(t, Config{})
	base := strings.Replace(tn.url, "127.0.0.1", "localhost", 1)
	ids := recordCalls(t, tn, 3)
	admin := tn.admin()
	var group storage.LabelGroup
	if st := admin.do("POST", "/api/v1/label-groups", map[string]string{"name": "Machine", "color": "#0f766e"}, &group); st != 201 {
		t.Fatalf("create a label group = %d", st)
	}
	var label storage.Label
	if st := admin.do("POST", "/api/v1/labels", map[string]string{"name": "Press 7", "group_id": group.ID}, &label); st != 201 {
		t.Fatalf("create a label = %d", st)
	}
	labels := []string{label.ID}
	if st := admin.do("PATCH", "/api/v1/sessions/"+ids[2], web.SessionFieldsInput{Labels: &labels}, nil); st != 200 {
		t.Fatalf("label the call = %d", st)
	}
	var report storage.ServiceReport
	if st := admin.do("POST", "/api/v1/sessions/"+ids[2]+"/reports",
		web.ReportInput{Fields: map[string]string{"fault": "Seal leaking on the discharge side of the pump"}, Body: "Replaced the seal."}, &report); st != 201 {
		t.Fatalf("write a report = %d", st)
	}
	snap, file := addSnapshot(t, tn, ids[2], ids[2]+"-p0", 640, 360,
		map[string]any{"tool": "pen", "color": "#ef4444", "width": 0.006, "points": [][2]float64{{0.1, 0.1}, {0.3, 0.2}, {0.5, 0.6}}},
		map[string]any{"tool": "circle", "color": "#22c55e", "width": 0.006, "points": [][2]float64{{0.6, 0.3}, {0.9, 0.8}}})

	tab := newChromium(t)
	if err := chromedp.Do(tab,
		browserLogin(base, tn.cfg.Organisation.AdminEmail, tn.password),
		chromedp.Navigate(base+"/sessions"),
		chromedp.WaitVisible(chromedp.CSS(`#h-label`)),
		chromedp.SetValue(chromedp.CSS(`#h-label`), label.ID),
		chromedp.Click(chromedp.Search(`//form[contains(@class,"history-filters")]//button[normalize-space()="Apply filters"]`)),
		chromedp.WaitVisible(chromedp.CSS(`table.history`)),
	); err != nil {
		t.Fatalf("filter the history by a label: %v", err)
	}
	// The filtered page, once the form's submission has loaded it (the
	// unfiltered table is visible before).
	found, err := pollPage[string](tab, fmt.Sprintf(
		`new URLSearchParams(location.search).get("label") === %q && document.readyState === "complete" &&
			[...document.querySelectorAll("table.history tbody tr strong")].map(e => e.textContent).join(",") + " @ " + new URLSearchParams(location.search).get("label")`,
		label.ID), 10*time.Second)
	if err != nil || found != "Pump 2 @ "+label.ID {
		t.Fatalf("the history filtered by the label shows %q (%v), want Pump 2 alone", found, err)
	}

	if err := chromedp.Do(tab,
		chromedp.Click(chromedp.CSS(`table.history tbody tr a[href^="/sessions/`+ids[2]+`"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#snapshots .thumb .drawing`)),
	); err != nil {
		t.Fatalf("open the session: %v", err)
	}
	// The thumbnail: the image loaded, the two strokes over it in their
	// colours, and an image file with its own thumbnail.
	const look = `(async (sel) => {
		const img = document.querySelector(sel + " img"), svg = document.querySelector(sel + " svg.drawing");
		img.scrollIntoView();
		await img.decode();
		const paths = [...svg.querySelectorAll("path")].map(p => p.getAttribute("stroke")).join(" ");
		const a = img.getBoundingClientRect(), b = svg.getBoundingClientRect();
		const same = Math.abs(a.left - b.left) < 1 && Math.abs(a.top - b.top) < 1 && Math.abs(a.width - b.width) < 1 && Math.abs(a.height - b.height) < 1;
		return img.naturalWidth + "x" + img.naturalHeight + " " + paths + " " + svg.getAttribute("viewBox") + (same ? " over the image" : " beside it");
	})`
	const want = "640x360 #ef4444 #22c55e 0 0 640 360 over the image"
	thumb, err := chromedp.Run(tab, chromedp.Evaluate[string](look+`("#snapshots .thumb a[href='#snapshot-`+snap.ID+`']")`, chromedp.EvalAwaitPromise))
	if err != nil || thumb != want {
		t.Errorf("the snapshot's thumbnail = %q (%v), want %q", thumb, err, want)
	}
	fileThumb, err := chromedp.Run(tab, chromedp.Evaluate[string](
		`(async () => { const img = document.querySelector("a.file-thumb[href='#file-`+file.ID+`'] img"); img.scrollIntoView(); await img.decode(); return img.naturalWidth + "x" + img.naturalHeight; })()`,
		chromedp.EvalAwaitPromise))
	if err != nil || fileThumb != "640x360" {
		t.Errorf("the image file's thumbnail = %q (%v)", fileThumb, err)
	}

	// A click opens it full size, the drawing still over the image.
	// Centred first: the bar on top of a narrow window covers what
	// scrolls under it.
	thumbLink := `#snapshots .thumb a[href="#snapshot-` + snap.ID + `"]`
	if err := chromedp.Do(tab,
		chromedp.Evaluate[chromedp.Void](`document.querySelector('`+thumbLink+`').scrollIntoView({block: "center"})`),
		chromedp.Click(chromedp.CSS(thumbLink)),
		chromedp.WaitVisible(chromedp.CSS(`#snapshot-`+snap.ID+` .snap-full svg.drawing`)),
	); err != nil {
		t.Fatalf("open the snapshot full size: %v", err)
	}
	full, err := chromedp.Run(tab, chromedp.Evaluate[string](look+`("#snapshot-`+snap.ID+` .snap-full")`, chromedp.EvalAwaitPromise))
	if err != nil || full != want {
		t.Errorf("the snapshot full size = %q (%v), want %q", full, err, want)
	}
	wide, err := chromedp.Run(tab, chromedp.Evaluate[float64](
		`document.querySelector("#snapshot-`+snap.ID+` .snap-full img").getBoundingClientRect().width`))
	if err != nil || wide < 400 {
		t.Errorf("the full-size snapshot is %v px wide (%v), want it larger than its thumbnail", wide, err)
	}

	if *screenshots {
		if err := chromedp.Do(tab, chromedp.EmulateViewport(1280, 900), chromedp.Navigate(base+"/sessions/"+ids[2]),
			chromedp.WaitVisible(chromedp.CSS(`#snapshots`))); err != nil {
			t.Fatal(err)
		}
		buf, err := chromedp.Run(tab, chromedp.FullScreenshot(100)) // 100: PNG
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join("..", "docs", "screenshots", "session-summary.png"), buf, 0o644); err != nil {
			t.Fatal(err)
		}
	}

	// A phone's screen: nothing runs past its right edge.
	if err := chromedp.Do(tab, chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile)); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{"/sessions", "/sessions?label=" + label.ID, "/sessions/" + ids[2], "/sessions/" + ids[2] + "#snapshot-" + snap.ID, "/reports", "/reports/" + report.ID} {
		if err := chromedp.Do(tab, chromedp.Navigate(base+path), chromedp.WaitVisible(chromedp.CSS(`main`))); err != nil {
			t.Fatalf("open %s on a phone: %v", path, err)
		}
		fit, err := chromedp.Run(tab, chromedp.Evaluate[string](`(() => {
			const w = 390, sw = document.documentElement.scrollWidth;
			if (sw <= w && innerWidth == w) return "fits " + w;
			const over = [...document.querySelectorAll("body *")].filter(e => e.getBoundingClientRect().right > w + 0.5 && !e.closest(".sidebar"))
				.map(e => e.tagName.toLowerCase() + (e.id ? "#" + e.id : "") + (e.className && e.className.baseVal === undefined ? "." + e.className.split(" ").join(".") : ""));
			return sw + " wide, " + innerWidth + " inner: " + over.slice(0, 12).join(" ");
		})()`))
		if err != nil || fit != "fits 390" {
			t.Errorf("%s on a 390 px phone: %s (%v)", path, fit, err)
		}
	}
}
