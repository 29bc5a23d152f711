package pdf_test

import (
	"bytes"
	"strings"
	"testing"

	"siteline/node/pdf"
)

func render(t testing.TB, s pdf.Summary) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := pdf.Render(&b, s); err != nil {
		t.Fatalf("Render: %v", err)
	}
	return b.Bytes()
}

// images counts the image objects of a PDF: their dictionaries are not
// compressed, only their streams.
func images(pdf []byte) int { return bytes.Count(pdf, []byte("/Subtype /Image")) }

func TestRenderWritesAPDFWithOneImagePerSnapshot(t *testing.T) {
	for _, n := range []int{0, 1, 3} {
		pdf := render(t, summary(t, n))
		if !bytes.HasPrefix(pdf, []byte("%PDF-1.")) {
			t.Fatalf("%d snapshots: output starts %q, not with %%PDF-1.", n, pdf[:min(len(pdf), 16)])
		}
		if !bytes.HasSuffix(bytes.TrimSpace(pdf), []byte("%%EOF")) {
			t.Fatalf("%d snapshots: output does not end with %%%%EOF", n)
		}
		if got := images(pdf); got != n {
			t.Errorf("%d snapshots: %d image objects in the PDF", n, got)
		}
	}
}

func TestRenderNotesASnapshotWhoseBytesDoNotDecode(t *testing.T) {
	s := summary(t, 2)
	s.Snapshots = append(s.Snapshots,
		pdf.Snapshot{Title: "Broken", Image: []byte("<svg>not a picture</svg>"), Strokes: strokes(9)},
		pdf.Snapshot{Title: "Missing"})
	pdf := render(t, s)
	if got := images(pdf); got != 2 {
		t.Errorf("%d image objects, want the 2 that decode", got)
	}
}

func TestRenderAcceptsAnEmptySummary(t *testing.T) {
	pdf := render(t, pdf.Summary{})
	if !bytes.HasPrefix(pdf, []byte("%PDF-")) || images(pdf) != 0 {
		t.Fatalf("empty summary: not a PDF without images (%d bytes)", len(pdf))
	}
}

func TestRenderPrintsAChatMessageLongerThanAPage(t *testing.T) {
	s := summary(t, 0)
	s.Chat = append(s.Chat, pdf.ChatLine{At: t0, Who: "Zoë", Text: strings.Repeat("Ölstand prüfen, Ventil schließen. ", 600)})
	short := render(t, summary(t, 0))
	long := render(t, s)
	if len(long) <= len(short) {
		t.Fatalf("a report with a long message is %d bytes, not more than the %d without it", len(long), len(short))
	}
}
