package web

import (
	"context"
	"image"
	"io"
	"math"
	"strconv"
	"strings"

	_ "image/gif" // the sizes of snapshots
	_ "image/jpeg"
	_ "image/png"

	"siteline/storage"
	"siteline/storage/annotation"
)

// The drawing on a snapshot, as the session page shows it: an SVG laid
// over the image, in the image's pixels, with the same shapes, widths
// and proportions the call page painted on its canvas (calltools.js).
// It is drawn on the server, so the page shows it without scripts.

// drawing is the SVG over one snapshot. Its viewBox is W×H, the image's
// pixels, when they are known; else a unit box stretched over the image.
type drawing struct {
	W, H   int
	Fit    string // preserveAspectRatio of the full view; thumbnails crop as their image does
	Shapes []shape
}

// shape is one stroke: a path drawn with a line (Width) or filled, or a
// text. Every number is already written out; Color is #rrggbb.
type shape struct {
	D     string
	Color string
	Width string
	Fill  bool
	Text  string
	X, Y  string
	Size  string
}

// fallbackSize is the box of a drawing over an image whose size could not
// be read: strokes keep their place, their widths are approximate.
const fallbackSize = 1000

// drawStrokes turns the visible strokes into shapes over a w×h image
// (0, 0: size unknown). A stroke of an unknown tool, without its points
// or with a colour that is not #rrggbb is left out: what ends up in the
// page's markup is numbers and a checked colour, plus a text the
// template escapes.
func drawStrokes(strokes []annotation.Stroke, w, h int) *drawing {
	strokes = annotation.Visible(strokes)
	d := &drawing{W: w, H: h, Fit: "xMidYMid meet"}
	if w <= 0 || h <= 0 {
		d.W, d.H, d.Fit = fallbackSize, fallbackSize, "none"
	}
	W, H := float64(d.W), float64(d.H)
	at := func(p [2]float64) (float64, float64) { return p[0] * W, p[1] * H }
	for _, s := range strokes {
		if !storage.ValidColor(s.Color) || len(s.Points) == 0 || !finite(s) {
			continue
		}
		lw := math.Max(1, s.Width*W)
		sh := shape{Color: strings.ToLower(s.Color), Width: num(lw)}
		switch s.Tool {
		case "pen":
			var b strings.Builder
			for i, p := range s.Points {
				x, y := at(p)
				if i == 0 {
					b.WriteString("M" + num(x) + " " + num(y))
				} else {
					b.WriteString("L" + num(x) + " " + num(y))
				}
			}
			if len(s.Points) == 1 {
				b.WriteString("h0.1") // a dot, as a round cap draws it
			}
			sh.D = b.String()
		case "arrow":
			if len(s.Points) != 2 {
				continue
			}
			x0, y0 := at(s.Points[0])
			x1, y1 := at(s.Points[1])
			a := math.Atan2(y1-y0, x1-x0)
			head := math.Max(lw*4, 12)
			sh.D = "M" + num(x0) + " " + num(y0) + "L" + num(x1) + " " + num(y1)
			d.Shapes = append(d.Shapes, sh)
			sh = shape{Color: sh.Color, Fill: true, D: "M" + num(x1) + " " + num(y1) +
				"L" + num(x1-head*math.Cos(a-0.45)) + " " + num(y1-head*math.Sin(a-0.45)) +
				"L" + num(x1-head*math.Cos(a+0.45)) + " " + num(y1-head*math.Sin(a+0.45)) + "Z"}
		case "circle":
			if len(s.Points) != 2 {
				continue
			}
			x0, y0 := at(s.Points[0])
			x1, y1 := at(s.Points[1])
			cx, cy := (x0+x1)/2, (y0+y1)/2
			rx, ry := math.Max(math.Abs(x1-x0)/2, 1), math.Max(math.Abs(y1-y0)/2, 1)
			arc := "A" + num(rx) + " " + num(ry) + " 0 1 0 "
			sh.D = "M" + num(cx-rx) + " " + num(cy) + arc + num(cx+rx) + " " + num(cy) + arc + num(cx-rx) + " " + num(cy) + "Z"
		case "text":
			text := strings.TrimSpace(s.Text)
			if text == "" {
				continue
			}
			if r := []rune(text); len(r) > 500 {
				text = string(r[:500])
			}
			x, y := at(s.Points[0])
			sh.Text, sh.X, sh.Y, sh.Size = text, num(x), num(y), num(math.Max(14, s.Width*W*6))
		default:
			continue
		}
		d.Shapes = append(d.Shapes, sh)
	}
	if len(d.Shapes) == 0 {
		return nil
	}
	return d
}

// Thumb is the drawing over a thumbnail, whose image fills its box and
// is cropped to it (object-fit: cover): the drawing is cropped alike.
func (d *drawing) Thumb() drawing {
	t := *d
	if t.Fit != "none" {
		t.Fit = "xMidYMid slice"
	}
	return t
}

// finite reports whether a stroke's numbers are all finite.
func finite(s annotation.Stroke) bool {
	ok := func(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }
	if !ok(s.Width) {
		return false
	}
	for _, p := range s.Points {
		if !ok(p[0]) || !ok(p[1]) {
			return false
		}
	}
	return true
}

func num(v float64) string { return strconv.FormatFloat(math.Round(v*10)/10, 'f', -1, 64) }

// imageSize reads a snapshot's width and height in pixels from the first
// bytes of its image; 0, 0 when they cannot be read.
func (s *Server) imageSize(ctx context.Context, a Actor, id string) (int, int) {
	_, b, err := s.deps.Media.OpenMedia(ctx, a, id)
	if err != nil {
		return 0, 0
	}
	defer b.Close()
	cfg, _, err := image.DecodeConfig(io.NewSectionReader(b, 0, 1<<20))
	if err != nil {
		return 0, 0
	}
	return cfg.Width, cfg.Height
}
