package pdf

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"image/jpeg"
	"math"
	"strings"

	_ "image/gif" // snapshot formats
	_ "image/png"

	"codeberg.org/go-pdf/fpdf"
	_ "golang.org/x/image/bmp"
	_ "golang.org/x/image/webp"

	"siteline/storage/annotation"
)

// Snapshot layout, in millimetres: an image is at most the body's width
// and imageMaxH high, so two fit on a page.
const (
	imageMaxH = 112.0
	captionH  = 11.0
)

// maxPixels bounds the images a report decodes (4096×4096, above any
// video frame's size): more is not a snapshot, and decoding it would take
// the memory a decompression bomb is made to take.
const maxPixels = 4096 * 4096

// errTooLarge: an image with more pixels than maxPixels.
var errTooLarge = errors.New("the image is too large to print")

// picture is a snapshot's image as the PDF embeds it.
type picture struct {
	data []byte // JPEG
	w, h int    // pixels
}

// preparePicture turns a snapshot's bytes into a JPEG the PDF can embed:
// a JPEG as it is, anything else decoded and encoded, flattened on white.
func preparePicture(b []byte) (picture, error) {
	if len(b) == 0 {
		return picture{}, errors.New("the image is missing")
	}
	cfg, format, err := image.DecodeConfig(bytes.NewReader(b))
	if err != nil {
		return picture{}, fmt.Errorf("the image could not be read: %w", err)
	}
	if cfg.Width <= 0 || cfg.Height <= 0 {
		return picture{}, errors.New("the image has no pixels")
	}
	if cfg.Width*cfg.Height > maxPixels {
		return picture{}, fmt.Errorf("%w (%d×%d pixels)", errTooLarge, cfg.Width, cfg.Height)
	}
	if format == "jpeg" {
		switch cfg.ColorModel {
		case color.GrayModel, color.YCbCrModel, color.CMYKModel:
			return picture{data: b, w: cfg.Width, h: cfg.Height}, nil
		}
	}
	img, _, err := image.Decode(bytes.NewReader(b))
	if err != nil {
		return picture{}, fmt.Errorf("the image could not be read: %w", err)
	}
	r := img.Bounds()
	flat := image.NewRGBA(image.Rect(0, 0, r.Dx(), r.Dy()))
	draw.Draw(flat, flat.Bounds(), image.White, image.Point{}, draw.Src)
	draw.Draw(flat, flat.Bounds(), img, r.Min, draw.Over)
	var out bytes.Buffer
	if err := jpeg.Encode(&out, flat, &jpeg.Options{Quality: 90}); err != nil {
		return picture{}, fmt.Errorf("encode the image: %w", err)
	}
	return picture{data: out.Bytes(), w: r.Dx(), h: r.Dy()}, nil
}

func (d *doc) snapshots() {
	if len(d.s.Snapshots) == 0 {
		return
	}
	d.heading("Snapshots")
	for i, s := range d.s.Snapshots {
		d.snapshot(i, s)
	}
}

// snapshot prints one snapshot: its caption, then the image with its
// strokes over it, or a note where the image cannot be shown.
func (d *doc) snapshot(i int, s Snapshot) {
	p := d.pdf
	pic, err := preparePicture(s.Image)
	w, h := bodyW, 20.0
	if err == nil {
		w, h = fit(pic.w, pic.h, bodyW, imageMaxH)
	}
	d.room(captionH + h + 6)

	title := s.Title
	if title == "" {
		title = fmt.Sprintf("Snapshot %d", i+1)
	}
	d.font("B", 10.5, ink)
	p.CellFormat(bodyW, 5.5, oneLine(title), "", 1, "L", false, 0, "")
	d.font("", 8.5, muted)
	p.CellFormat(bodyW, 4.5, oneLine(d.caption(s)), "", 1, "L", false, 0, "")
	p.Ln(1)
	x, y := marginL+(bodyW-w)/2, p.GetY()

	if err != nil {
		d.line(marginL, y, pageW-marginR, y, rule, 0.3)
		p.SetFillColor(shade.r, shade.g, shade.b)
		p.Rect(marginL, y, bodyW, h, "F")
		p.SetXY(marginL+4, y+4)
		d.font("", 9.5, muted)
		msg := clean(err.Error())
		p.MultiCell(bodyW-8, 5, strings.ToUpper(msg[:1])+msg[1:]+".", "", "L", false)
		p.SetXY(marginL, y+h+6)
		return
	}
	name := fmt.Sprintf("snapshot-%d", i)
	opts := fpdf.ImageOptions{ImageType: "JPG"}
	p.RegisterImageOptionsReader(name, opts, bytes.NewReader(pic.data))
	p.ImageOptions(name, x, y, w, h, false, opts, 0, "")
	p.SetDrawColor(rule.r, rule.g, rule.b)
	p.SetLineWidth(0.2)
	p.Rect(x, y, w, h, "D")
	d.strokes(s.Strokes, x, y, w, h, float64(pic.w))
	p.SetXY(marginL, y+h+6)
}

// caption words when, by whom and of whom a snapshot was taken.
func (d *doc) caption(s Snapshot) string {
	var parts []string
	if !s.At.IsZero() {
		parts = append(parts, d.clock(s.At))
	}
	if s.By != "" {
		parts = append(parts, "taken by "+s.By)
	}
	if s.Of != "" {
		parts = append(parts, "of "+s.Of+"'s video")
	}
	if n := len(annotation.Visible(s.Strokes)); n == 1 {
		parts = append(parts, "1 annotation stroke")
	} else if n > 1 {
		parts = append(parts, fmt.Sprintf("%d annotation strokes", n))
	}
	if s.Note != "" {
		parts = append(parts, s.Note)
	}
	return strings.Join(parts, " · ")
}

// fit scales a w×h image into maxW×maxH millimetres, keeping its shape.
func fit(w, h int, maxW, maxH float64) (float64, float64) {
	scale := math.Min(maxW/float64(w), maxH/float64(h))
	return float64(w) * scale, float64(h) * scale
}

// strokes draws the visible strokes as vector paths over an image placed
// at x,y, w×h millimetres, that is imgW pixels wide, clipped to it: the
// same shapes, in the same proportions, as the call page paints.
func (d *doc) strokes(strokes []Stroke, x, y, w, h, imgW float64) {
	strokes = annotation.Visible(strokes)
	if len(strokes) == 0 {
		return
	}
	p := d.pdf
	mm := w / imgW // millimetres per image pixel
	at := func(pt [2]float64) (float64, float64) { return x + pt[0]*w, y + pt[1]*h }
	p.ClipRect(x, y, w, h, false)
	p.SetLineCapStyle("round")
	p.SetLineJoinStyle("round")
	for _, s := range strokes {
		c, ok := parseColor(s.Color)
		if !ok || len(s.Points) == 0 {
			continue
		}
		lw := math.Max(1, s.Width*imgW) * mm
		p.SetDrawColor(c.r, c.g, c.b)
		p.SetFillColor(c.r, c.g, c.b)
		p.SetLineWidth(lw)
		switch s.Tool {
		case "pen":
			if len(s.Points) == 1 {
				px, py := at(s.Points[0])
				p.Circle(px, py, lw/2, "F")
				continue
			}
			p.MoveTo(at(s.Points[0]))
			for _, pt := range s.Points[1:] {
				p.LineTo(at(pt))
			}
			p.DrawPath("D")
		case "arrow":
			if len(s.Points) != 2 {
				continue
			}
			x0, y0 := at(s.Points[0])
			x1, y1 := at(s.Points[1])
			p.Line(x0, y0, x1, y1)
			a := math.Atan2(y1-y0, x1-x0)
			head := math.Max(lw*4, 12*mm)
			p.Polygon([]fpdf.PointType{
				{X: x1, Y: y1},
				{X: x1 - head*math.Cos(a-0.45), Y: y1 - head*math.Sin(a-0.45)},
				{X: x1 - head*math.Cos(a+0.45), Y: y1 - head*math.Sin(a+0.45)},
			}, "F")
		case "circle":
			if len(s.Points) != 2 {
				continue
			}
			x0, y0 := at(s.Points[0])
			x1, y1 := at(s.Points[1])
			rx, ry := math.Abs(x1-x0)/2, math.Abs(y1-y0)/2
			p.Ellipse((x0+x1)/2, (y0+y1)/2, math.Max(rx, mm), math.Max(ry, mm), 0, "D")
		case "text":
			text := strings.TrimSpace(oneLine(s.Text))
			if text == "" {
				continue
			}
			size := math.Max(14, s.Width*imgW*6) * mm // millimetres
			px, py := at(s.Points[0])
			p.SetFont(font, "B", size/25.4*72)
			// A dark halo keeps the text legible on any picture, as the
			// shadow does in the call.
			p.SetAlpha(0.45, "Normal")
			p.SetTextColor(0, 0, 0)
			p.Text(px+size*0.04, py+size*0.84, text)
			p.SetAlpha(1, "Normal")
			p.SetTextColor(c.r, c.g, c.b)
			p.Text(px, py+size*0.8, text)
		}
	}
	p.ClipEnd()
	// The clip's end restores the state the PDF had before it; these tell
	// fpdf, whose record of colours, widths and fonts it leaves behind, by
	// setting each anew.
	p.SetLineCapStyle("butt")
	p.SetLineJoinStyle("miter")
	p.SetDrawColor(rule.r, rule.g, rule.b)
	p.SetFillColor(255, 255, 255)
	p.SetLineWidth(0.2)
	p.SetFont(font, "", 1)
}
