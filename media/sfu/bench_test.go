package sfu_test

import (
	"context"
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"siteline/internal/testutil"
	"siteline/media/client"
	"siteline/media/sfu"
)

// BenchmarkForward measures forwarding from one publisher to n
// subscribers, all in this process over loopback with real pion peer
// connections (so the figures include the clients' own SRTP and
// interceptor work, on the same cores as the SFU). The publisher sends
// benchFPS frames/s of benchPPF packets of 1000 bytes; one op is one
// packet delivered to one subscriber. Reported:
//   - fwd-pkts/s: packets delivered to all subscribers per second;
//   - lat-avg-ms: mean delay from the publisher's send to a subscriber's
//     read during the timed part (publisher stack + SFU + subscriber stack);
//   - lat-max-ms: the worst such delay since the subscriber started;
//   - drop/op: packets the SFU dropped from full subscriber queues.
//
// The offered load is 2000·n packets/s out: while fwd-pkts/s matches it
// the SFU keeps up, and below it (drops, growing latency) the figure is
// what this machine forwards with all the clients beside it.
//
// Setup (joining n clients) is outside the timer but runs for every b.N
// the framework tries; -benchtime=Nx (say 20000x) runs it once.
func BenchmarkForward(b *testing.B) {
	for _, n := range []int{1, 10, 50} {
		b.Run(fmt.Sprintf("subscribers=%d", n), func(b *testing.B) { benchForward(b, n) })
	}
}

const (
	benchFPS = 250
	benchPPF = 8 // packets per frame: 2000 packets/s in
)

func benchForward(b *testing.B, n int) {
	b.StopTimer()
	s, reg := benchSFU(b)
	room := "bench"
	join := func(user string) *client.Client {
		c, err := client.New(client.Config{Name: user, LoopbackOnly: true}, newLoopback(s, user))
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { _ = c.Close() })
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		if err := c.Join(ctx, room, client.JoinOptions{}); err != nil {
			b.Fatal(err)
		}
		return c
	}
	pub := join("pub")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if _, err := pub.Publish(ctx, client.TrackSpec{Kind: "video", FPS: benchFPS, PacketsPerFrame: benchPPF}); err != nil {
		b.Fatal(err)
	}
	tracks := make([]*client.Received, n)
	for i := range n {
		c := join(fmt.Sprintf("sub%d", i))
		testutil.Eventually(b, 30*time.Second, "a subscriber's track", func() bool {
			for _, r := range c.Tracks() {
				if r.Stats().Unique > 0 {
					tracks[i] = r
					return true
				}
			}
			return false
		})
	}

	type snap struct {
		unique, packets uint64
		latSum          float64
	}
	take := func() (snap, time.Duration) {
		var sn snap
		var worst time.Duration
		for _, r := range tracks {
			st := r.Stats()
			sn.unique += st.Unique
			sn.packets += st.Packets
			sn.latSum += float64(st.LatencyAvg) * float64(st.Packets)
			worst = max(worst, st.LatencyMax)
		}
		return sn, worst
	}
	dropped := func() float64 { return gather(b, reg, "siteline_sfu_dropped_packets_total") }

	before, _ := take()
	drop0 := dropped()
	start := time.Now()
	b.StartTimer()
	// Packets arrive at their own pace; the loop waits for b.N of them.
	testutil.Eventually(b, time.Duration(b.N/(benchFPS*benchPPF*n)+30)*time.Second, "b.N packets delivered", func() bool {
		sn, _ := take()
		return sn.unique-before.unique >= uint64(b.N)
	})
	b.StopTimer()
	elapsed := time.Since(start)
	after, worst := take()
	got := after.unique - before.unique
	b.ReportMetric(float64(got)/elapsed.Seconds(), "fwd-pkts/s")
	if dp := after.packets - before.packets; dp > 0 {
		b.ReportMetric((after.latSum-before.latSum)/float64(dp)/float64(time.Millisecond), "lat-avg-ms")
	}
	b.ReportMetric(float64(worst)/float64(time.Millisecond), "lat-max-ms")
	b.ReportMetric((dropped()-drop0)/float64(b.N), "drop/op")
}

// benchSFU starts an SFU on 127.0.0.1 for a benchmark.
func benchSFU(b *testing.B) (*sfu.SFU, *prometheus.Registry) {
	conn, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	s, err := sfu.New(sfu.Config{UDPConn: conn, Authorizer: &authz{}, Registerer: reg, QueueSize: 1024})
	if err != nil {
		b.Fatal(err)
	}
	if err := s.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		_ = s.Shutdown(ctx)
	})
	return s, reg
}

func gather(b *testing.B, reg *prometheus.Registry, name string) float64 {
	families, err := reg.Gather()
	if err != nil {
		b.Fatal(err)
	}
	total := 0.0
	for _, f := range families {
		if f.GetName() == name {
			for _, m := range f.GetMetric() {
				total += m.GetCounter().GetValue()
			}
		}
	}
	return total
}
