package pdf_test

import (
	"bytes"
	"flag"
	"fmt"
	"image"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"siteline/internal/testutil"
	"siteline/node/pdf"
)

// The tests below read the reports with poppler (Debian's poppler-utils),
// an implementation of PDF that is not ours: what it extracts is what a
// reader's search and copy will find.

// poppler runs one of poppler's tools on the PDF in file and returns its
// output; a missing tool fails the test.
func poppler(t *testing.T, tool string, args ...string) string {
	t.Helper()
	path, err := exec.LookPath(tool)
	if err != nil {
		t.Fatalf("%s not found (%v): install Debian's poppler-utils", tool, err)
	}
	out, err := exec.Command(path, args...).Output()
	if err != nil {
		var stderr []byte
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = ee.Stderr
		}
		t.Fatalf("%s %v: %v\n%s", tool, args, err, stderr)
	}
	return string(out)
}

func writePDF(t *testing.T, s pdf.Summary) string {
	t.Helper()
	file := filepath.Join(t.TempDir(), "report.pdf")
	if err := os.WriteFile(file, render(t, s), 0o600); err != nil {
		t.Fatal(err)
	}
	return file
}

var update = flag.Bool("update", false, "rewrite testdata/report.txt from the rendered report")

// TestReportTextGolden compares the text of the fixture's report, line by
// line as pdftotext reads it (blank lines and indentation left out), with
// testdata/report.txt: a change of wording, order or page layout shows in
// the diff and is accepted with -update.
func TestReportTextGolden(t *testing.T) {
	testutil.System(t)
	file := writePDF(t, summary(t, 3))
	var lines []string
	for _, l := range strings.Split(poppler(t, "pdftotext", "-enc", "UTF-8", file, "-"), "\n") {
		if l = strings.Join(strings.Fields(l), " "); l != "" {
			lines = append(lines, l)
		}
	}
	got := strings.Join(lines, "\n") + "\n"
	golden := filepath.Join("testdata", "report.txt")
	if *update {
		if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run with -update to write it)", err)
	}
	if got != string(want) {
		gl, wl := strings.Split(got, "\n"), strings.Split(string(want), "\n")
		for i := range max(len(gl), len(wl)) {
			var g, w string
			if i < len(gl) {
				g = gl[i]
			}
			if i < len(wl) {
				w = wl[i]
			}
			if g != w {
				t.Fatalf("the report's text differs from %s at line %d:\n got %q\nwant %q\n(run with -update if the change is meant)", golden, i+1, g, w)
			}
		}
	}
}

// flat joins a text's lines and runs of spaces into single spaces.
func flat(s string) string { return strings.Join(strings.Fields(s), " ") }

func TestReportTextIsExtractable(t *testing.T) {
	testutil.System(t)
	s := summary(t, 3)
	file := writePDF(t, s)
	text := flat(poppler(t, "pdftotext", "-enc", "UTF-8", file, "-"))

	want := []string{
		s.Organisation, s.Session.Name, s.Session.Goal, "Plant Łódź", "Solved remotely", "38 min 00 s",
		"Equipment: Pumps", "Priority: Urgent", "The technician on site had the spare seal kit.",
		"joined the call (MOBILE)", "started recording",
		"Seal of pump P-101 replaced", "P-101 (Grundfos CR 32)", "Seal kit 96511844", s.Report.Text,
		"Snapshot 3 of the seal", "Ventil 2 prüfen", "4 annotation strokes",
	}
	for _, p := range s.Participants {
		want = append(want, p.Name, p.Role, p.Kind, p.Device)
	}
	for _, c := range s.Chat {
		want = append(want, c.Text)
	}
	for _, w := range want {
		if !strings.Contains(text, w) {
			t.Errorf("the extracted text lacks %q", w)
		}
	}
	if t.Failed() {
		t.Logf("extracted text:\n%s", text)
	}

	info := poppler(t, "pdfinfo", file)
	pages := field(t, info, "Pages")
	// The layout of this summary: the cover with participants and
	// timeline, the chat with the first snapshot, two snapshots, the
	// service report.
	if pages != 4 {
		t.Errorf("pdfinfo: %d pages, want 4", pages)
	}
	for n := 1; n <= pages; n++ {
		if footer := fmt.Sprintf("Page %d of %d", n, pages); !strings.Contains(text, footer) {
			t.Errorf("the extracted text lacks the footer %q", footer)
		}
	}
	if !strings.Contains(info, "Title: "+s.Session.Name) && !strings.Contains(flat(info), "Title: "+s.Session.Name) {
		t.Errorf("pdfinfo shows no title %q:\n%s", s.Session.Name, info)
	}
}

func TestReportEmbedsEverySnapshotAtItsSize(t *testing.T) {
	testutil.System(t)
	file := writePDF(t, summary(t, 3))
	list := poppler(t, "pdfimages", "-list", file)
	var rows []string
	for _, l := range strings.Split(list, "\n") {
		if f := strings.Fields(l); len(f) > 5 && f[2] == "image" {
			rows = append(rows, l)
			if f[3] != "640" || f[4] != "360" {
				t.Errorf("image %s×%s, want the snapshots' 640×360: %s", f[3], f[4], l)
			}
		}
	}
	if len(rows) != 3 {
		t.Errorf("pdfimages lists %d images, want 3:\n%s", len(rows), list)
	}
}

func TestReportSaysWhyASnapshotHasNoImage(t *testing.T) {
	testutil.System(t)
	s := summary(t, 1)
	s.Snapshots = append(s.Snapshots,
		pdf.Snapshot{Title: "Broken", Image: []byte("<svg>not a picture</svg>")},
		pdf.Snapshot{Title: "Forwarded", Note: "its image is not on this node"})
	file := writePDF(t, s)
	text := flat(poppler(t, "pdftotext", "-enc", "UTF-8", file, "-"))
	for _, w := range []string{"Broken", "The image could not be read", "Forwarded", "its image is not on this node", "The image is missing."} {
		if !strings.Contains(text, w) {
			t.Errorf("the extracted text lacks %q", w)
		}
	}
	if list := poppler(t, "pdfimages", "-list", file); strings.Count(list, " image ") != 1 {
		t.Errorf("pdfimages lists other than the one image that decodes:\n%s", list)
	}
}

// TestReportDrawsTheStrokesOverTheSnapshot renders the pages with
// poppler and looks for each stroke's colour: the visible strokes are
// there, the one a Clear wiped is not.
func TestReportDrawsTheStrokesOverTheSnapshot(t *testing.T) {
	testutil.System(t)
	s := pdf.Summary{Organisation: "Org", Session: pdf.Session{Name: "Strokes", Start: t0},
		Snapshots: []pdf.Snapshot{{Title: "one", Image: encode(t, "jpeg", frame(640, 360, 255)), Strokes: strokes(1)}}}
	file := writePDF(t, s)
	prefix := filepath.Join(t.TempDir(), "page")
	poppler(t, "pdftoppm", "-r", "100", "-png", file, prefix)
	pages, _ := filepath.Glob(prefix + "*.png")
	if len(pages) == 0 {
		t.Fatal("pdftoppm wrote no page")
	}
	counts := map[string]int{}
	colours := map[string][3]int{"pen": {0xef, 0x44, 0x44}, "arrow": {0x22, 0xc5, 0x5e}, "circle": {0x3b, 0x82, 0xf6},
		"text": {0xfa, 0xcc, 0x15}, "cleared": {0xff, 0x00, 0x00}}
	for _, pg := range pages {
		img := readPNG(t, pg)
		b := img.Bounds()
		for y := b.Min.Y; y < b.Max.Y; y++ {
			for x := b.Min.X; x < b.Max.X; x++ {
				r, g, bl, _ := img.At(x, y).RGBA()
				for name, c := range colours {
					if near(int(r>>8), c[0]) && near(int(g>>8), c[1]) && near(int(bl>>8), c[2]) {
						counts[name]++
					}
				}
			}
		}
	}
	for _, name := range []string{"pen", "arrow", "circle", "text"} {
		if counts[name] < 10 {
			t.Errorf("%d pixels in the %s stroke's colour, want at least 10", counts[name], name)
		}
	}
	if counts["cleared"] > 0 {
		t.Errorf("%d pixels in the colour of the stroke a Clear wiped", counts["cleared"])
	}
}

func TestReportPrintsAChatMessageLongerThanAPageWhole(t *testing.T) {
	testutil.System(t)
	s := summary(t, 0)
	long := strings.Repeat("Ölstand prüfen, Ventil schließen. ", 500) + "Ende der Nachricht."
	s.Chat = append(s.Chat, pdf.ChatLine{At: t0, Who: "Zoë", Text: long})
	file := writePDF(t, s)
	text := flat(poppler(t, "pdftotext", "-enc", "UTF-8", file, "-"))
	// Words, not sentences: a page break puts the footer and the next
	// page's header between two words of the message.
	for _, w := range []string{"Ölstand", "prüfen,", "Ventil", "schließen."} {
		if n := strings.Count(text, w); n != 500 {
			t.Errorf("%q appears %d times, not the message's 500", w, n)
		}
	}
	if !strings.Contains(text, "Ende der Nachricht.") {
		t.Error("the long message's last words are missing")
	}
	if pages := field(t, poppler(t, "pdfinfo", file), "Pages"); pages < 4 {
		t.Errorf("%d pages for a message of 17,000 characters", pages)
	}
}

func readPNG(t *testing.T, file string) image.Image {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("decode %s: %v", file, err)
	}
	return img
}

// near: within 10 levels of 255, so the blended edges of other colours
// do not count.
func near(a, b int) bool { return a-b <= 10 && b-a <= 10 }

// field reads a number from pdfinfo's "Name: value" lines.
func field(t *testing.T, info, name string) int {
	t.Helper()
	m := regexp.MustCompile(`(?m)^` + name + `:\s+(\d+)`).FindStringSubmatch(info)
	if m == nil {
		t.Fatalf("pdfinfo shows no %s:\n%s", name, info)
	}
	n, _ := strconv.Atoi(m[1])
	return n
}
