//go:build linux

package turn

import (
	"net"
	"net/netip"
	"os/exec"
	"regexp"
	"strconv"
	"testing"
	"time"

	"siteline/internal/testutil"
)

// TestCoturnClientRelaysThroughTheServer: coturn's own TURN client,
// turnutils_uclient (Debian's coturn package, which .ci/test installs),
// allocates on the relay with the node's REST credentials (an RTP and
// RTCP pair of relay ports), binds channels and sends its messages to an
// echo peer and back, over UDP and over TCP, losing none: an
// implementation other than pion's, whose client the other tests use. Its
// messages are 203 bytes, so ChannelData towards it is padded.
func TestCoturnClientRelaysThroughTheServer(t *testing.T) {
	uclient, err := exec.LookPath("turnutils_uclient")
	if err != nil {
		t.Fatalf("turnutils_uclient (Debian's coturn package) is needed: %v", err)
	}
	// The client emulates RTP and RTCP: it allocates an even relay port
	// with EVEN-PORT and the next one with its RESERVATION-TOKEN, and sends
	// to the peer's port and the next one: an echo peer on each.
	peers := newEchoPeerPair(t)
	ts := startServer(t, func(c *Config) { c.AllowedPeerAddrs = []netip.AddrPort{peers[0].addr, peers[1].addr} })
	const messages = 40
	for _, transport := range []string{"udp", "tcp"} {
		t.Run(transport, func(t *testing.T) {
			peerBefore, clientBefore := closedCounts(ts)
			username, password, _ := ts.Credentials(Grant{User: "coturn-" + transport}, time.Now())
			args := []string{"-u", username, "-w", password, "-e", "127.0.0.1", "-r", strconv.Itoa(int(peers[0].addr.Port())),
				"-n", strconv.Itoa(messages), "-m", "1", "-l", "203", "-z", "5"}
			port := ts.Addrs().UDP.Port
			if transport == "tcp" {
				args, port = append(args, "-t"), ts.Addrs().TCP.Port
			}
			args = append(args, "-p", strconv.Itoa(port), "127.0.0.1")
			out, err := exec.Command(uclient, args...).CombinedOutput()
			if err != nil {
				t.Fatalf("turnutils_uclient %v: %v\n%s", args, err, out)
			}
			// Its summary: every message sent (RTP and RTCP, 2 ×
			// messages) came back, none lost, none dropped.
			total := regexp.MustCompile(`start_mclient: tot_send_msgs=(\d+), tot_recv_msgs=(\d+)`).FindSubmatch(out)
			lost := regexp.MustCompile(`Total lost packets (\d+) \(.*total send dropped (\d+)`).FindSubmatch(out)
			if total == nil || lost == nil {
				t.Fatalf("no summary in turnutils_uclient's output:\n%s", out)
			}
			want := strconv.Itoa(2 * messages)
			if string(total[1]) != want || string(total[2]) != want || string(lost[1]) != "0" || string(lost[2]) != "0" {
				t.Errorf("sent %s messages and got %s back (want %s each), lost %s, dropped %s:\n%s",
					total[1], total[2], want, lost[1], lost[2], out)
			}
			// It binds channels and sends ChannelData: that is relayed
			// past pion both ways (channel.go; over TCP framed in the
			// stream, tcp_linux.go), padded towards the client, and its
			// allocations are gone.
			testutil.Eventually(t, 10*time.Second, "the allocations' counts", func() bool {
				toPeer, toClient := closedCounts(ts)
				return toPeer-peerBefore >= 2*messages && toClient-clientBefore >= 2*messages
			})
		})
	}
}

// closedCounts is what the closed allocations relayed past pion, towards
// peers and towards clients.
func closedCounts(ts *testServer) (toPeer, toClient int) {
	ts.routes.mu.RLock()
	defer ts.routes.mu.RUnlock()
	return ts.routes.closedToPeer, ts.routes.closedToClient
}

// newEchoPeerPair starts echo peers on two consecutive ports, the first
// even.
func newEchoPeerPair(t *testing.T) [2]*echoPeer {
	t.Helper()
	for range 100 {
		first, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
		if err != nil {
			t.Fatal(err)
		}
		port := first.LocalAddr().(*net.UDPAddr).Port
		if port%2 != 0 || port == 65535 {
			first.Close()
			continue
		}
		second, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: port + 1})
		if err == nil {
			return [2]*echoPeer{echoOn(t, first), echoOn(t, second)}
		}
		first.Close()
	}
	t.Fatal("no two consecutive free UDP ports on 127.0.0.1")
	return [2]*echoPeer{}
}
