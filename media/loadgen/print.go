package loadgen

import (
	"fmt"
	"io"
	"time"

	"siteline/media/client"
)

// Print writes the figures, one a line.
func (r *Result) Print(w io.Writer) {
	s := r.sum
	nsubs := r.o.Rooms * r.o.Subs
	fmt.Fprintf(w, "rooms %d, subscribers per room %d, window %.1f s (setup %.1f s)\n", r.o.Rooms, r.o.Subs, s.Window.Seconds(), r.setup.Seconds())
	fmt.Fprintf(w, "published packets/s  %.0f\n", float64(r.published)/s.Window.Seconds())
	fmt.Fprintf(w, "forwarded Mbit/s     %.2f (RTP payload)\n", s.Mbps())
	fmt.Fprintf(w, "forwarded packets/s  %.0f over %d tracks\n", s.PacketRate(), s.Tracks)
	fmt.Fprintf(w, "loss                 %.3f %%\n", s.LossPercent())
	fmt.Fprintf(w, "jitter p50/p99       %.2f / %.2f ms\n", ms(client.Quantile(s.Jitter, 0.50)), ms(client.Quantile(s.Jitter, 0.99)))
	fmt.Fprintf(w, "added latency p50/p99 %.2f / %.2f ms (250 ms interval means)\n", ms(s.LatencyP[0]), ms(s.LatencyP[1]))
	if len(r.firstRTP) > 0 {
		fmt.Fprintf(w, "join to first video RTP p50/p99 %.0f / %.0f ms (%d subscribers, %d joining at once)\n",
			ms(client.Quantile(r.firstRTP, 0.50)), ms(client.Quantile(r.firstRTP, 0.99)), len(r.firstRTP), r.o.Parallel)
	}
	if !r.withProc {
		return
	}
	cores := r.cpu / s.Window.Seconds()
	fmt.Fprintf(w, "server CPU           %.2f s = %.3f cores\n", r.cpu, cores)
	if rate := s.Mbps(); rate > 0 {
		fmt.Fprintf(w, "server CPU s/Mbit    %.5f (%.1f Mbit/s per core)\n", r.cpu/(rate*s.Window.Seconds()), rate/cores)
	}
	fmt.Fprintf(w, "server RSS           %.1f MB (idle before the run %.1f MB)\n", mb(r.rss), mb(r.rssIdle))
	if nsubs > 0 {
		fmt.Fprintf(w, "server RSS/subscriber %.2f MB ((end - idle) / %d)\n", mb(r.rss-r.rssIdle)/float64(nsubs), nsubs)
	}
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
func mb(b int64) float64         { return float64(b) / 1e6 }
