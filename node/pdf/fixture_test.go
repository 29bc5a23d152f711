package pdf_test

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"image/gif"
	"image/jpeg"
	"image/png"
	"testing"
	"time"

	"siteline/node/pdf"
)

var t0 = time.Date(2026, 11, 30, 9, 15, 0, 0, time.UTC)

// frame draws a w×h test picture: a gradient with a dark "pipe" across
// it, so a stroke drawn over it is visible in a rendered page.
func frame(w, h int, alpha uint8) *image.NRGBA {
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			c := color.NRGBA{uint8(40 + 150*x/w), uint8(60 + 120*y/h), 140, alpha}
			if y > h/3 && y < h/2 {
				c = color.NRGBA{50, 50, 60, alpha}
			}
			img.SetNRGBA(x, y, c)
		}
	}
	return img
}

func encode(t testing.TB, format string, img image.Image) []byte {
	t.Helper()
	var b bytes.Buffer
	var err error
	switch format {
	case "png":
		err = png.Encode(&b, img)
	case "jpeg":
		err = jpeg.Encode(&b, img, &jpeg.Options{Quality: 85})
	case "gif":
		err = gif.Encode(&b, img, nil)
	}
	if err != nil {
		t.Fatalf("encode %s: %v", format, err)
	}
	return b.Bytes()
}

// strokes is one of each tool the call page has, and a Clear that wipes
// the first stroke.
func strokes(n int) []pdf.Stroke {
	return []pdf.Stroke{
		{Tool: "pen", Color: "#ff0000", Width: 0.006, Points: [][2]float64{{0.9, 0.9}, {0.95, 0.95}}},
		{Clear: true},
		{Tool: "pen", Color: "#ef4444", Width: 0.006, Points: [][2]float64{{0.1, 0.1}, {0.2, 0.15}, {0.3, 0.2}, {0.35, 0.4}}},
		{Tool: "arrow", Color: "#22c55e", Width: 0.006, Points: [][2]float64{{0.6, 0.8}, {0.5, 0.45}}},
		{Tool: "circle", Color: "#3b82f6", Width: 0.006, Points: [][2]float64{{0.4, 0.3}, {0.7, 0.6}}},
		{Tool: "text", Color: "#facc15", Width: 0.005, Points: [][2]float64{{0.05, 0.75}}, Text: fmt.Sprintf("Ventil %d prüfen", n)},
	}
}

// summary is a session with three participants (one a guest), a chat in
// three scripts, n snapshots (PNG with alpha, JPEG, GIF in turn), labels
// and a service report.
func summary(t testing.TB, n int) pdf.Summary {
	t.Helper()
	end := t0.Add(47*time.Minute + 12*time.Second)
	s := pdf.Summary{
		Organisation: "Nordwerk Anlagenbau GmbH",
		Session: pdf.Session{
			ID: "s-42", Name: "Pump P-101 leaking at the seal", Goal: "Find the leak and decide on a repair",
			Site: "Plant Łódź", Owner: "Jürgen Weiß", Kind: "Service request", Status: "Ended",
			Start: t0, End: end, Outcome: "Solved remotely", TimeToSolve: 38 * time.Minute,
			Notes: "The technician on site had the spare seal kit.\nNo second visit needed.",
		},
		Labels: []pdf.Label{
			{Name: "Pumps", Group: "Equipment", Color: "#2563eb"},
			{Name: "Urgent", Group: "Priority", Color: "#fde047"},
			{Name: "no colour", Color: "blue"},
		},
		Participants: []pdf.Participant{
			{Name: "Jürgen Weiß", Role: "Expert", Kind: "Registered user", Device: "desktop", Joined: t0, Left: end},
			{Name: "Zoë Łukasiewicz", Role: "Technician", Kind: "Guest (app)", Device: "mobile", Joined: t0.Add(time.Minute), Left: end},
			{Name: "Дмитрий Соколов", Role: "Supervisor", Kind: "Registered user", Device: "glasses", Joined: t0.Add(5 * time.Minute)},
		},
		Events: []pdf.Event{
			{At: t0, Who: "Jürgen Weiß", Text: "joined the call (DESKTOP)"},
			{At: t0.Add(time.Minute), Who: "Zoë Łukasiewicz", Text: "joined the call (MOBILE)"},
			{At: t0.Add(20 * time.Minute), Who: "Zoë Łukasiewicz", Text: "started recording"},
			{At: end, Who: "Jürgen Weiß", Text: "ended the call"},
		},
		Chat: []pdf.ChatLine{
			{At: t0.Add(2 * time.Minute), Who: "Jürgen Weiß", Text: "Können Sie die Dichtung zeigen?"},
			{At: t0.Add(3 * time.Minute), Who: "Zoë Łukasiewicz", Text: "Oui, voilà — c'est réglé"},
			{At: t0.Add(6 * time.Minute), Who: "Дмитрий Соколов", Text: "Привет, видно клапан?"},
		},
		Report: &pdf.ServiceReport{
			Title: "Seal of pump P-101 replaced", Author: "Jürgen Weiß", Written: end.Add(10 * time.Minute),
			Fields: []pdf.Field{{Name: "Asset", Value: "P-101 (Grundfos CR 32)"}, {Name: "Parts used", Value: "Seal kit 96511844"}},
			Text:   "Mechanical seal worn; replaced under guidance. Pressure test at 3,5 bar held for ten minutes.",
		},
		Generated: end.Add(time.Hour),
	}
	formats := []string{"png", "jpeg", "gif"}
	for i := range n {
		alpha := uint8(255)
		if i%3 == 0 {
			alpha = 230
		}
		s.Snapshots = append(s.Snapshots, pdf.Snapshot{
			Title: fmt.Sprintf("Snapshot %d of the seal", i+1), At: t0.Add(time.Duration(10+i) * time.Minute),
			By: "Jürgen Weiß", Of: "Zoë Łukasiewicz",
			Image:   encode(t, formats[i%3], frame(640, 360, alpha)),
			Strokes: strokes(i + 1),
		})
	}
	return s
}
