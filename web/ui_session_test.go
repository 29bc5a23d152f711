package web

import (
	"bytes"
	"context"
	"encoding/json"
	"image"
	"image/png"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"siteline/policy"
	"siteline/storage"
	"siteline/storage/annotation"
)

// sessionMedia is a Media that knows session s1: two people, three
// snapshots (one drawn on in the call, one drawn on with a colour that is
// not a colour, one never drawn on) and two files.
type sessionMedia struct {
	Media
	png []byte // every snapshot's bytes: 640×480
}

var t0 = time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)

func stroke(media string, s map[string]any) storage.SessionEvent {
	p, _ := json.Marshal(map[string]any{"participant": "p1", "media": media, "stroke": s})
	return storage.SessionEvent{Kind: storage.EventAnnotation, At: t0, Payload: p}
}

func (f sessionMedia) SessionDetail(_ context.Context, _ Actor, id string) (SessionDetail, error) {
	if id != "s1" {
		return SessionDetail{}, storage.ErrNotFound
	}
	left := t0.Add(12 * time.Minute)
	snap := func(id string) storage.Media {
		return storage.Media{ID: id, SessionID: "s1", Kind: storage.MediaSnapshot, Name: "Snapshot " + id, ContentType: "image/png", Participant: "p1", CreatedAt: t0}
	}
	return SessionDetail{
		Session: storage.Session{ID: "s1", Name: "Pump call", CreatedBy: "u1", Status: "ended", StartedAt: t0, EndedAt: &left},
		Participants: []storage.SessionParticipant{
			{ID: "p1", UserID: "u1", DisplayName: "Ada", UserKind: storage.UserRegular, DeviceKind: DeviceDesktop, JoinedAt: t0, LeftAt: &left},
			{ID: "p2", UserID: "g1", DisplayName: "Tom", UserKind: storage.UserGuestMobile, DeviceKind: DevicePhone, JoinedAt: t0.Add(time.Minute)},
		},
		Events: []storage.SessionEvent{
			stroke("m1", map[string]any{"tool": "pen", "color": "#EF4444", "width": 0.005, "points": [][2]float64{{0.1, 0.1}, {0.5, 0.25}}}),
			stroke("m1", map[string]any{"tool": "arrow", "color": "#22c55e", "width": 0.005, "points": [][2]float64{{0, 0}, {1, 1}}}),
			stroke("m1", map[string]any{"tool": "text", "color": "#3b82f6", "width": 0.005, "points": [][2]float64{{0.5, 0.5}}, "text": "<b>valve</b>"}),
			stroke("m2", map[string]any{"tool": "pen", "color": `#fff" onload="alert(1)`, "width": 0.005, "points": [][2]float64{{0.1, 0.1}, {0.2, 0.2}}}),
			stroke("m2", map[string]any{"tool": "pen", "color": "red", "width": 0.005, "points": [][2]float64{{0.1, 0.1}, {0.2, 0.2}}}),
		},
		Media: []storage.Media{snap("m1"), snap("m2"), snap("m3"),
			{ID: "f1", SessionID: "s1", Kind: storage.MediaFile, Name: "gauge.png", ContentType: "image/png", Size: 2048, Participant: "p2", CreatedAt: t0},
			{ID: "f2", SessionID: "s1", Kind: storage.MediaFile, Name: "manual.pdf", ContentType: "application/pdf", Size: 3 << 20, Participant: "p1", CreatedAt: t0},
		},
	}, nil
}

// bytesOf: every media's bytes are the PNG, but f9's, which
// are a page.
func (f sessionMedia) bytesOf(id string) []byte {
	if id == "f9" {
		return []byte("<html><script>alert(1)</script>")
	}
	return f.png
}

type readerBlob struct{ *bytes.Reader }

func (readerBlob) Close() error { return nil }

func (f sessionMedia) OpenMedia(_ context.Context, _ Actor, id string) (storage.Media, Blob, error) {
	b := f.bytesOf(id)
	return storage.Media{ID: id, Kind: storage.MediaFile, Name: id, Size: int64(len(b))}, readerBlob{bytes.NewReader(b)}, nil
}

func pngOf(t *testing.T, w, h int) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := png.Encode(&b, image.NewGray(image.Rect(0, 0, w, h))); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

var svgRe = regexp.MustCompile(`<svg class="drawing"[^>]*>.*?</svg>`)

// The session page draws a snapshot's strokes as an SVG over it, in the
// image's pixels, with the strokes' colours; a stroke whose colour is
// not #rrggbb is left out, so a snapshot with only such strokes, like
// one never drawn on, has no drawing. Participants show their part,
// guest kind and device; image files a thumbnail, PDFs an inline link.
func TestSessionPageDrawsTheSnapshotsStrokes(t *testing.T) {
	s, d := newTestServer(t, withServices, func(deps *Deps) {
		deps.Media, deps.Reports = sessionMedia{png: pngOf(t, 640, 480)}, nil
	})
	d.addUser("u1", adminEmail, testPass, policy.CallLogs)
	b := &browser{t: t, s: s}
	b.login(adminEmail, testPass)
	got := b.page("/sessions/s1")
	if got.status != http.StatusOK {
		t.Fatalf("GET /sessions/s1 = %d %s", got.status, got.body)
	}
	page := got.body

	// m1 has its drawing twice: on the thumbnail and in its full view.
	svgs := svgRe.FindAllString(page, -1)
	if len(svgs) != 2 {
		t.Fatalf("%d drawings on the page, want m1's thumbnail and full view:\n%s", len(svgs), strings.Join(svgs, "\n"))
	}
	thumb, full := svgs[0], svgs[1]
	for _, w := range []string{`viewBox="0 0 640 480"`, `preserveAspectRatio="xMidYMid slice"`,
		`<path d="M64 48L320 120" fill="none" stroke="#ef4444" stroke-width="3.2"/>`, // pen, lower-cased colour
		`<path d="M0 0L640 480" fill="none" stroke="#22c55e" stroke-width="3.2"/>`,   // arrow's shaft
		`fill="#22c55e"/>`, // its head
		`<text x="320" y="240" font-size="19.2" fill="#3b82f6">&lt;b&gt;valve&lt;/b&gt;</text>`,
	} {
		if !strings.Contains(thumb, w) {
			t.Errorf("the thumbnail's drawing lacks %s:\n%s", w, thumb)
		}
	}
	if !strings.Contains(full, `preserveAspectRatio="xMidYMid meet"`) || strings.Count(full, "<path") != 3 || strings.Count(full, "<text") != 1 {
		t.Errorf("the full view's drawing = %s", full)
	}
	if !strings.Contains(page, `<a href="#snapshot-m1"`) || !strings.Contains(page, `id="snapshot-m1"`) ||
		!strings.Contains(page, `width="640" height="480"`) {
		t.Error("the snapshot's thumbnail does not open its full view")
	}
	for _, bad := range []string{"onload", "alert(1)", `stroke="red"`, "<b>valve"} {
		if strings.Contains(page, bad) {
			t.Errorf("the page holds %q", bad)
		}
	}
	if !strings.Contains(page, "3 strokes") {
		t.Error("the thumbnail's caption does not count m1's strokes")
	}

	for _, w := range []string{
		`joined <time datetime="2026-03-02T09:00:00Z">09:00:00</time>`, `left <time datetime="2026-03-02T09:12:00Z">09:12:00</time>`,
		`role">host</span>`, `role">guest · mobile browser</span>`, `device">desktop browser</span>`, `device">phone</span>`,
		`<a class="file-thumb" href="#file-f1"`, `<img src="/api/v1/media/f1?inline=1"`, `id="file-f1"`,
		`href="/api/v1/media/f2?inline=1" target="_blank"`, "PDF document · 3 MiB",
	} {
		if !strings.Contains(page, w) {
			t.Errorf("the page lacks %s", w)
		}
	}
}

// A file is an attachment; ?inline=1 shows an image in the browser, for
// its preview, and nothing else.
func TestFilePreviewIsInlineForImagesAlone(t *testing.T) {
	s, d := newTestServer(t, withServices, func(deps *Deps) {
		deps.Media, deps.Reports = sessionMedia{png: pngOf(t, 8, 8)}, nil
	})
	d.addUser("u1", adminEmail, testPass, policy.CallLogs)
	b := &browser{t: t, s: s}
	b.login(adminEmail, testPass)
	for path, want := range map[string]string{
		"/api/v1/media/f1":                     "attachment image/png",
		"/api/v1/media/f1?inline=1":            "inline image/png",
		"/api/v1/media/f1?inline=1&download=1": "attachment image/png",
		"/api/v1/media/f9?inline=1":            "attachment application/octet-stream",
	} {
		got := b.send("GET", path, "", "")
		disposition, _, _ := strings.Cut(got.header.Get("Content-Disposition"), ";")
		if g := disposition + " " + got.header.Get("Content-Type"); got.status != http.StatusOK || g != want {
			t.Errorf("GET %s = %d %s, want %s", path, got.status, g, want)
		}
	}
}

// drawStrokes leaves out what it cannot draw and draws nothing when
// nothing is left.
func TestDrawStrokes(t *testing.T) {
	red := func(tool string, pts ...[2]float64) annotation.Stroke {
		return annotation.Stroke{Tool: tool, Color: "#ff0000", Width: 0.01, Points: pts}
	}
	if d := drawStrokes(nil, 100, 100); d != nil {
		t.Errorf("no strokes drew %+v", d)
	}
	for _, s := range []annotation.Stroke{
		{Tool: "pen", Color: "#ff0000"},                                    // no points
		{Tool: "pen", Color: "rgb(255,0,0)", Points: [][2]float64{{0, 0}}}, // not #rrggbb
		{Tool: "pen", Color: "#ff000", Points: [][2]float64{{0, 0}}},
		red("arrow", [2]float64{0, 0}), // an arrow needs two points
		red("circle", [2]float64{0, 0}),
		red("star", [2]float64{0, 0}, [2]float64{1, 1}),
		{Tool: "text", Color: "#ff0000", Points: [][2]float64{{0, 0}}, Text: "  "},
	} {
		if d := drawStrokes([]annotation.Stroke{s}, 100, 100); d != nil {
			t.Errorf("%+v drew %+v", s, d.Shapes)
		}
	}
	// A clear wipes what came before it.
	if d := drawStrokes([]annotation.Stroke{red("pen", [2]float64{0, 0}), {Clear: true}}, 100, 100); d != nil {
		t.Errorf("cleared strokes drew %+v", d.Shapes)
	}
	d := drawStrokes([]annotation.Stroke{red("pen", [2]float64{0.5, 0.5}), red("circle", [2]float64{0.2, 0.2}, [2]float64{0.6, 0.4})}, 200, 100)
	if d == nil || len(d.Shapes) != 2 || d.Shapes[0].D != "M100 50h0.1" || d.Shapes[0].Width != "2" ||
		d.Shapes[1].D != "M40 30A40 10 0 1 0 120 30A40 10 0 1 0 40 30Z" {
		t.Errorf("a dot and a circle drew %+v", d)
	}
	// An image of unknown size: a unit box stretched over it.
	if d := drawStrokes([]annotation.Stroke{red("pen", [2]float64{0.5, 0.5})}, 0, 0); d == nil || d.W != fallbackSize || d.Fit != "none" {
		t.Errorf("a drawing over an image of unknown size = %+v", d)
	}
}
