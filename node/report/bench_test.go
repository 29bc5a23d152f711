package report_test

import (
	"image/color"
	"testing"

	"siteline/node/report"
)

// BenchmarkRender20Snapshots times the PDF of a session with 20 annotated
// 1280×720 snapshots, chat, participants and a service report: with JPEG
// snapshots, which the PDF takes as they are, and with PNG ones, which
// are decoded and encoded as JPEG first.
func BenchmarkRender20Snapshots(b *testing.B) {
	for _, format := range []string{"jpeg", "png"} {
		b.Run(format, func(b *testing.B) {
			s := summary(b, 20)
			for i := range s.Snapshots {
				// Twenty different pictures: the PDF keeps equal ones once.
				img := frame(1280, 720, 255)
				img.Set(i, 0, color.White)
				s.Snapshots[i].Image = encode(b, format, img)
			}
			var size int
			for b.Loop() {
				var w counter
				if err := report.Render(&w, s); err != nil {
					b.Fatal(err)
				}
				size = int(w)
			}
			b.ReportMetric(float64(size)/1e6, "MB/pdf")
		})
	}
}

// counter counts the bytes written to it.
type counter int

func (c *counter) Write(p []byte) (int, error) { *c += counter(len(p)); return len(p), nil }
