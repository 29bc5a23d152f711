package turn

import (
	"log/slog"
	"net"
	"net/netip"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pion/turn/v5"
)

// BenchmarkRelay relays UDP datagrams on loopback: a pion client sends
// through its allocation to an echo peer, which sends each one back through
// the relay, with a window of datagrams in flight. Each op is one round trip,
// two relayed datagrams; pkts/s and MB/s count relayed datagrams and their
// payload bytes, both directions. Lost datagrams are written off after a
// timeout and reported as lost/op.
//
// relay=pion is the reference: a bare pion/turn server with pion's own TURN
// REST auth handler and no filter, quota or metrics, so the ratio of the two
// is the cost of this package's wrapping, measured in the same run.
func BenchmarkRelay(b *testing.B) {
	for _, size := range []int{200, 1200} {
		for _, impl := range []string{"siteline", "pion"} {
			b.Run("size="+strconv.Itoa(size)+"/relay="+impl, func(b *testing.B) {
				benchmarkRelay(b, size, impl)
			})
		}
	}
}

// startPionServer starts the reference: pion/turn as its examples do.
func startPionServer(b *testing.B) (addr string, realm string) {
	pc, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	quiet := pionLogs(slog.New(slog.DiscardHandler))
	s, err := turn.NewServer(turn.ServerConfig{
		Realm:         DefaultRealm,
		AuthHandler:   turn.LongTermTURNRESTAuthHandler(testSecret, quiet.NewLogger("auth")),
		LoggerFactory: quiet,
		PacketConnConfigs: []turn.PacketConnConfig{{
			PacketConn: pc,
			RelayAddressGenerator: &turn.RelayAddressGeneratorStatic{
				RelayAddress: net.IPv4(127, 0, 0, 1), Address: "127.0.0.1",
			},
		}},
	})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = s.Close() })
	return pc.LocalAddr().String(), DefaultRealm
}

func benchmarkRelay(b *testing.B, size int, impl string) {
	const window = 64
	peer := newEchoPeer(b)
	ts := startServer(b, func(c *Config) {
		c.ListenTCP, c.ListenTLS, c.TLSConfig = "", "", nil
		c.AllowedPeerAddrs = []netip.AddrPort{peer.addr}
		c.Logger = slog.New(slog.DiscardHandler) // as a node at Info would
	})
	c := ts.dialUser(b, "udp", "bench")
	if impl == "pion" {
		// Same client, same credentials (same secret), other server.
		addr, realm := startPionServer(b)
		username, password, _ := ts.Credentials(Grant{User: "bench"}, time.Now())
		c = dialAddr(b, addr, realm, username, password)
	}
	relay := c.allocate(b)
	to := udpAddr(peer.addr)
	payload := make([]byte, size)
	// Warm up: permission and channel binding in place.
	for i := 0; i < 4; i++ {
		roundTrip(b, relay, to, payload)
	}
	if err := relay.SetReadDeadline(time.Time{}); err != nil {
		b.Fatal(err)
	}

	slots := make(chan struct{}, window)
	var received atomic.Int64
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 2048)
		for {
			if _, _, err := relay.ReadFrom(buf); err != nil {
				return
			}
			received.Add(1)
			select {
			case <-slots:
			default:
			}
		}
	}()

	var lost int64
	timer := time.NewTimer(time.Hour)
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < b.N; i++ {
		select {
		case slots <- struct{}{}:
		default:
			// Window full: wait for a reply, or write one datagram off.
			timer.Reset(100 * time.Millisecond)
			select {
			case slots <- struct{}{}:
			case <-timer.C:
				lost++
			}
			timer.Stop()
		}
		if _, err := relay.WriteTo(payload, to); err != nil {
			b.Fatal(err)
		}
	}
	// Drain: wait for the replies still in flight.
	for deadline := time.Now().Add(time.Second); received.Load()+lost < int64(b.N) && time.Now().Before(deadline); {
		timer.Reset(time.Millisecond)
		<-timer.C
	}
	elapsed := time.Since(start)
	b.StopTimer()
	_ = relay.Close()
	<-done

	got := received.Load()
	relayed := float64(2 * got)
	b.ReportMetric(relayed/elapsed.Seconds(), "pkts/s")
	b.ReportMetric(relayed*float64(size)/elapsed.Seconds()/1e6, "MB/s")
	b.ReportMetric(float64(int64(b.N)-got)/float64(b.N), "lost/op")
}
