package pdf

import (
	"fmt"
	"io"
	"strings"
	"time"

	"codeberg.org/go-pdf/fpdf"
	"golang.org/x/image/font/gofont/gobold"
	"golang.org/x/image/font/gofont/goregular"
)

// Page geometry, in millimetres (A4 portrait).
const (
	pageW   = 210.0
	pageH   = 297.0
	marginL = 18.0
	marginR = 18.0
	marginT = 22.0
	marginB = 20.0
	bodyW   = pageW - marginL - marginR
	// bottom is the lowest y content may reach.
	bottom = pageH - marginB
)

// rgb is a colour of the page's palette.
type rgb struct{ r, g, b int }

var (
	ink    = rgb{31, 41, 51}    // body text
	muted  = rgb{97, 110, 124}  // labels, captions, times
	accent = rgb{29, 78, 216}   // headings
	rule   = rgb{208, 215, 222} // lines
	shade  = rgb{243, 245, 248} // table header and zebra rows
	grey   = rgb{156, 163, 175} // a label with no valid colour
)

// font is the family name the Go fonts are registered under.
const font = "Go"

// doc is one report being written: the PDF and what every page repeats.
type doc struct {
	pdf *fpdf.Fpdf
	s   Summary
	loc *time.Location
}

// Render writes s as a PDF to w. It fails only when the PDF cannot be
// made or written; data it cannot show (an image that does not decode, a
// stroke of an unknown tool) is noted or left out, not an error.
func Render(w io.Writer, s Summary) error {
	d := &doc{pdf: fpdf.New("P", "mm", "A4", ""), s: s, loc: s.Location}
	if d.loc == nil {
		d.loc = time.UTC
	}
	p := d.pdf
	p.AddUTF8FontFromBytes(font, "", goregular.TTF)
	p.AddUTF8FontFromBytes(font, "B", gobold.TTF)
	p.SetMargins(marginL, marginT, marginR)
	p.SetAutoPageBreak(true, marginB)
	p.SetTitle(oneLine(d.title()), true)
	p.SetSubject("Session report", true)
	p.SetAuthor(s.Organisation, true)
	p.SetCreator("Siteline", true)
	// Fixed dates keep the bytes of a report a function of its summary.
	stamp := s.Generated
	if stamp.IsZero() {
		stamp = s.Session.Start
	}
	p.SetCreationDate(stamp)
	p.SetModificationDate(stamp)
	p.AliasNbPages("{nb}")
	p.SetHeaderFunc(d.header)
	p.SetFooterFunc(d.footer)
	p.AddPage()

	d.cover()
	d.participants()
	d.timeline()
	d.chat()
	d.snapshots()
	d.serviceReport()

	if err := p.Error(); err != nil {
		return fmt.Errorf("make session report: %w", err)
	}
	if err := p.Output(w); err != nil {
		return fmt.Errorf("write session report: %w", err)
	}
	return nil
}

func (d *doc) title() string {
	if t := strings.TrimSpace(d.s.Session.Name); t != "" {
		return t
	}
	return "Untitled call"
}

func (d *doc) header() {
	p := d.pdf
	p.SetY(9)
	d.font("B", 9, ink)
	p.CellFormat(bodyW/2, 5, oneLine(d.s.Organisation), "", 0, "L", false, 0, "")
	d.font("", 9, muted)
	p.CellFormat(bodyW/2, 5, "Session report", "", 1, "R", false, 0, "")
	d.line(marginL, 15, pageW-marginR, 15, rule, 0.3)
	p.SetY(marginT)
}

func (d *doc) footer() {
	p := d.pdf
	d.line(marginL, pageH-14, pageW-marginR, pageH-14, rule, 0.3)
	p.SetXY(marginL, pageH-13)
	d.font("", 8, muted)
	left := d.title()
	if !d.s.Generated.IsZero() {
		left += " · generated " + d.when(d.s.Generated)
	}
	p.CellFormat(bodyW*0.75, 5, oneLine(left), "", 0, "L", false, 0, "")
	p.CellFormat(bodyW*0.25, 5, fmt.Sprintf("Page %d of {nb}", p.PageNo()), "", 0, "R", false, 0, "")
}

// cover is the first part: the session's name, its facts, labels, notes.
func (d *doc) cover() {
	p := d.pdf
	s := d.s.Session
	d.font("B", 20, ink)
	p.MultiCell(bodyW, 9, clean(d.title()), "", "L", false)
	if s.Goal != "" {
		d.font("", 11, muted)
		p.MultiCell(bodyW, 5.5, clean(s.Goal), "", "L", false)
	}
	p.Ln(4)

	facts := []Field{
		{"Organisation", d.s.Organisation},
		{"Site", s.Site},
		{"Started by", s.Owner},
		{"Kind", s.Kind},
		{"Status", s.Status},
		{"Started", d.when(s.Start)},
	}
	if !s.End.IsZero() {
		facts = append(facts, Field{"Ended", d.when(s.End)}, Field{"Duration", duration(s.End.Sub(s.Start))})
	}
	facts = append(facts, Field{"Outcome", s.Outcome})
	if s.TimeToSolve > 0 {
		facts = append(facts, Field{"Time to solve", duration(s.TimeToSolve)})
	}
	facts = append(facts, Field{"Session id", s.ID})
	d.fields(facts)

	if len(d.s.Labels) > 0 {
		d.heading("Labels")
		d.labels()
	}
	if strings.TrimSpace(s.Notes) != "" {
		d.heading("Notes")
		d.font("", 10, ink)
		p.MultiCell(bodyW, 5, clean(s.Notes), "", "L", false)
	}
}

// fields prints name/value pairs in two columns, leaving out empty values.
func (d *doc) fields(fs []Field) {
	p := d.pdf
	const nameW = 38.0
	for _, f := range fs {
		if strings.TrimSpace(f.Value) == "" {
			continue
		}
		d.font("", 10, ink)
		lines := p.SplitText(clean(f.Value), bodyW-nameW)
		d.room(float64(len(lines)) * 5.5)
		y := p.GetY()
		d.font("B", 9.5, muted)
		p.SetXY(marginL, y)
		p.CellFormat(nameW, 5.5, oneLine(f.Name), "", 0, "L", false, 0, "")
		d.font("", 10, ink)
		p.SetXY(marginL+nameW, y)
		p.MultiCell(bodyW-nameW, 5.5, clean(f.Value), "", "L", false)
	}
}

// labels prints each label as a filled tag in its colour.
func (d *doc) labels() {
	p := d.pdf
	const h, gap, pad = 6.5, 2.5, 3.0
	d.font("B", 9, ink)
	x, y := marginL, p.GetY()+1
	for _, l := range d.s.Labels {
		text := oneLine(l.Name)
		if l.Group != "" {
			text = oneLine(l.Group) + ": " + text
		}
		w := p.GetStringWidth(text) + 2*pad
		if w > bodyW {
			w = bodyW
		}
		if x+w > pageW-marginR {
			x, y = marginL, y+h+gap
		}
		if y+h > bottom {
			p.AddPage()
			x, y = marginL, p.GetY()
		}
		c, ok := parseColor(l.Color)
		if !ok {
			c = grey
		}
		p.SetFillColor(c.r, c.g, c.b)
		p.RoundedRect(x, y, w, h, 1.6, "1234", "F")
		fg := rgb{255, 255, 255}
		if luminance(c) > 0.6 {
			fg = ink
		}
		p.SetTextColor(fg.r, fg.g, fg.b)
		p.SetXY(x, y)
		p.CellFormat(w, h, text, "", 0, "C", false, 0, "")
		x += w + gap
	}
	p.SetXY(marginL, y+h+2)
}

func (d *doc) participants() {
	d.heading("Participants")
	if len(d.s.Participants) == 0 {
		d.note("Nobody joined this call.")
		return
	}
	rows := make([][]string, 0, len(d.s.Participants))
	for _, pt := range d.s.Participants {
		left, stayed := "still in the call", ""
		if !pt.Left.IsZero() {
			left, stayed = d.clock(pt.Left), duration(pt.Left.Sub(pt.Joined))
		}
		rows = append(rows, []string{pt.Name, pt.Role, pt.Kind, pt.Device, d.clock(pt.Joined), left, stayed})
	}
	d.table([]column{
		{"Name", 38}, {"Role", 24}, {"Kind", 28}, {"Device", 18}, {"Joined", 22}, {"Left", 22}, {"Stayed", 22},
	}, rows)
}

func (d *doc) timeline() {
	if len(d.s.Events) == 0 {
		return
	}
	d.heading("Timeline")
	rows := make([][]string, 0, len(d.s.Events))
	for _, e := range d.s.Events {
		rows = append(rows, []string{d.clock(e.At), e.Who, e.Text})
	}
	d.table([]column{{"Time", 22}, {"Who", 40}, {"What", bodyW - 62}}, rows)
}

func (d *doc) chat() {
	d.heading("Chat")
	if len(d.s.Chat) == 0 {
		d.note("No chat messages.")
		return
	}
	rows := make([][]string, 0, len(d.s.Chat))
	for _, c := range d.s.Chat {
		rows = append(rows, []string{d.clock(c.At), c.Who, c.Text})
	}
	d.table([]column{{"Time", 22}, {"From", 40}, {"Message", bodyW - 62}}, rows)
}

func (d *doc) serviceReport() {
	r := d.s.Report
	if r == nil {
		return
	}
	d.heading("Service report")
	p := d.pdf
	if r.Title != "" {
		d.font("B", 12, ink)
		p.MultiCell(bodyW, 6, clean(r.Title), "", "L", false)
		p.Ln(1)
	}
	fs := []Field{{"Written by", r.Author}}
	if !r.Written.IsZero() {
		fs = append(fs, Field{"Written", d.when(r.Written)})
	}
	d.fields(append(fs, r.Fields...))
	if strings.TrimSpace(r.Text) != "" {
		p.Ln(2)
		d.font("", 10, ink)
		p.MultiCell(bodyW, 5, clean(r.Text), "", "L", false)
	}
}

// heading starts a section, on a new page when fewer than 30 mm are left.
func (d *doc) heading(text string) {
	p := d.pdf
	if p.GetY() > marginT+1 {
		p.Ln(5)
	}
	d.room(30)
	p.Bookmark(text, 0, -1)
	d.font("B", 13, accent)
	p.CellFormat(bodyW, 7, text, "", 1, "L", false, 0, "")
	y := p.GetY()
	d.line(marginL, y, pageW-marginR, y, rule, 0.4)
	p.SetY(y + 2.5)
}

func (d *doc) note(text string) {
	d.font("", 10, muted)
	d.pdf.MultiCell(bodyW, 5, text, "", "L", false)
}

// room starts a new page unless h millimetres are left on this one.
func (d *doc) room(h float64) {
	if d.pdf.GetY()+h > bottom {
		d.pdf.AddPage()
	}
}

func (d *doc) font(style string, size float64, c rgb) {
	d.pdf.SetFont(font, style, size)
	d.pdf.SetTextColor(c.r, c.g, c.b)
}

func (d *doc) line(x1, y1, x2, y2 float64, c rgb, w float64) {
	d.pdf.SetDrawColor(c.r, c.g, c.b)
	d.pdf.SetLineWidth(w)
	d.pdf.Line(x1, y1, x2, y2)
}

// when prints a date and time in the report's zone.
func (d *doc) when(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.In(d.loc).Format("2 Jan 2006, 15:04:05 MST")
}

// clock prints a time of day, with the date when it is not the session's
// first day.
func (d *doc) clock(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	t = t.In(d.loc)
	start := d.s.Session.Start.In(d.loc)
	if y, m, dd := t.Date(); y == start.Year() && m == start.Month() && dd == start.Day() {
		return t.Format("15:04:05")
	}
	return t.Format("2 Jan 15:04")
}

// duration writes 1 h 04 min, 3 min 12 s, 45 s.
func duration(d time.Duration) string {
	d = d.Round(time.Second)
	switch {
	case d < 0:
		return ""
	case d >= time.Hour:
		return fmt.Sprintf("%d h %02d min", int(d.Hours()), int(d.Minutes())%60)
	case d >= time.Minute:
		return fmt.Sprintf("%d min %02d s", int(d.Minutes()), int(d.Seconds())%60)
	}
	return fmt.Sprintf("%d s", int(d.Seconds()))
}

// clean makes text printable: line ends to \n, tabs to spaces, other
// control characters dropped.
func clean(s string) string {
	s = strings.ReplaceAll(s, "\r\n", "\n")
	return strings.Map(func(r rune) rune {
		switch {
		case r == '\n':
			return r
		case r == '\t' || r == '\r':
			return ' '
		case r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0):
			return -1
		}
		return r
	}, s)
}

// oneLine is clean text on one line, for a cell that does not wrap.
func oneLine(s string) string { return strings.ReplaceAll(clean(s), "\n", " ") }

// parseColor reads #rrggbb.
func parseColor(s string) (rgb, bool) {
	var c rgb
	if len(s) != 7 || s[0] != '#' {
		return c, false
	}
	var v [3]int
	for i := range 3 {
		n := 0
		for _, ch := range s[1+2*i : 3+2*i] {
			n <<= 4
			switch {
			case '0' <= ch && ch <= '9':
				n |= int(ch - '0')
			case 'a' <= ch && ch <= 'f':
				n |= int(ch-'a') + 10
			case 'A' <= ch && ch <= 'F':
				n |= int(ch-'A') + 10
			default:
				return c, false
			}
		}
		v[i] = n
	}
	return rgb{v[0], v[1], v[2]}, true
}

// luminance is the colour's relative brightness, 0 to 1.
func luminance(c rgb) float64 {
	return (0.2126*float64(c.r) + 0.7152*float64(c.g) + 0.0722*float64(c.b)) / 255
}
