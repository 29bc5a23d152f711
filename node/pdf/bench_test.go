package pdf_test

import (
	"image/color"
	"syscall"
	"testing"
	"time"

	"siteline/node/pdf"
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
			cpu0 := cpuTime(b)
			for b.Loop() {
				var w counter
				if err := pdf.Render(&w, s); err != nil {
					b.Fatal(err)
				}
				size = int(w)
			}
			// CPU time as well as wall time: on a shared machine the
			// first is the steadier figure.
			b.ReportMetric(float64(cpuTime(b)-cpu0)/float64(b.N)/1e6, "cpu-ms/op")
			b.ReportMetric(float64(size)/1e6, "MB/pdf")
		})
	}
}

// cpuTime is the process's user and system time so far.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatalf("getrusage: %v", err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// counter counts the bytes written to it.
type counter int

func (c *counter) Write(p []byte) (int, error) { *c += counter(len(p)); return len(p), nil }
