package pdf

// column is one column of a table: its heading and width in millimetres.
type column struct {
	name  string
	width float64
}

// Table metrics, in millimetres.
const (
	cellLine = 4.6 // height of one line of text in a cell
	cellPad  = 1.4 // space above and below a row's text
	// maxRowLines is how many lines of a row are printed on one page:
	// 50 of them and the heading row fill 240 of a page's 255 mm.
	maxRowLines = 50
)

// table prints rows under a heading row, wrapping each cell's text within
// its column. A row that does not fit goes to the next page whole, under
// the heading row again.
func (d *doc) table(cols []column, rows [][]string) {
	d.tableHead(cols)
	p := d.pdf
	for i, row := range rows {
		d.font("", 9, ink)
		split := make([][]string, len(cols))
		lines := 1
		for c := range cols {
			text := ""
			if c < len(row) {
				text = clean(row[c])
			}
			split[c] = p.SplitText(text, cols[c].width)
			lines = max(lines, len(split[c]))
		}
		// A row longer than a page is printed in page-sized pieces.
		for first := 0; first < lines; first += maxRowLines {
			n := min(lines-first, maxRowLines)
			h := float64(n)*cellLine + 2*cellPad
			if p.GetY()+h > bottom {
				p.AddPage()
				d.tableHead(cols)
				d.font("", 9, ink)
			}
			y := p.GetY()
			if i%2 == 1 {
				p.SetFillColor(shade.r, shade.g, shade.b)
				p.Rect(marginL, y, bodyW, h, "F")
			}
			x := marginL
			for c, col := range cols {
				for l := first; l < first+n && l < len(split[c]); l++ {
					p.SetXY(x, y+cellPad+float64(l-first)*cellLine)
					p.CellFormat(col.width, cellLine, split[c][l], "", 0, "L", false, 0, "")
				}
				x += col.width
			}
			p.SetXY(marginL, y+h)
		}
	}
	y := p.GetY()
	d.line(marginL, y, pageW-marginR, y, rule, 0.3)
}

func (d *doc) tableHead(cols []column) {
	p := d.pdf
	d.room(2 * (cellLine + 2*cellPad))
	d.font("B", 8.5, muted)
	p.SetFillColor(shade.r, shade.g, shade.b)
	y := p.GetY()
	p.Rect(marginL, y, bodyW, cellLine+2*cellPad, "F")
	x := marginL
	for _, col := range cols {
		p.SetXY(x, y+cellPad)
		p.CellFormat(col.width, cellLine, col.name, "", 0, "L", false, 0, "")
		x += col.width
	}
	p.SetXY(marginL, y+cellLine+2*cellPad)
}
