//go:build linux

package turn

import (
	"encoding/binary"
	"errors"
	"net"
	"net/netip"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"siteline/internal/testutil"
)

// waitBound waits until user's allocation on ts has bound pion's client's
// first channel to peer.
func waitBound(t *testing.T, ts *testServer, user string, peer netip.AddrPort) {
	t.Helper()
	sock := relayOf(t, ts, user)
	testutil.Eventually(t, 10*time.Second, user+"'s channel is bound", func() bool { return sock.bound(0x4000, peer) })
}

// loopEcho is a socket in an event loop whose pass sends back, through
// the loop's queue, every datagram whose fifth byte is 'R' and hands the
// others to ReadFrom.
type loopEcho struct {
	sock  *loopSocket
	mu    sync.Mutex
	drops []error
}

func startLoopEcho(t *testing.T, conn *net.UDPConn) *loopEcho {
	t.Helper()
	loop, err := newEventLoop()
	if err != nil {
		t.Fatal(err)
	}
	e := &loopEcho{}
	var self atomic.Pointer[loopSocket] // e.sock, once adopt has returned it
	pass := func(frame []byte, from netip.AddrPort) bool {
		s := self.Load()
		if len(frame) <= chanHeader+4 || frame[chanHeader+4] != 'R' || s == nil {
			return false
		}
		sa, ok := makeSockaddr(from, s.family)
		if !ok {
			t.Errorf("no socket address for %s", from)
			return true
		}
		s.queue(frame[chanHeader:], &sa)
		return true
	}
	drop := func(err error) {
		e.mu.Lock()
		e.drops = append(e.drops, err)
		e.mu.Unlock()
	}
	e.sock, err = loop.adopt(conn, pass, drop)
	if err != nil {
		t.Fatal(err)
	}
	self.Store(e.sock)
	t.Cleanup(func() {
		_ = e.sock.Close()
		loop.close()
	})
	return e
}

func (e *loopEcho) dropped() []error {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]error(nil), e.drops...)
}

// relayed is a datagram the echo's pass sends back: seq, then 'R'.
func relayed(seq, size int) []byte {
	p := numbered(seq, size)
	p[4] = 'R'
	return p
}

// TestLoopRelaysAndHandsOverTheRest: what pass takes leaves through the
// loop's queue, whole and in order, also when a burst overfills a queue;
// what it leaves reaches ReadFrom whole, with its sender; WriteTo sends at
// once.
func TestLoopRelaysAndHandsOverTheRest(t *testing.T) {
	e := startLoopEcho(t, listenUDP4(t))
	client := listenUDP4(t)
	to := e.sock.LocalAddr()

	const burst = 3*loopBatch + 5
	for seq := range burst {
		if _, err := client.WriteTo(relayed(seq, 100+seq), to); err != nil {
			t.Fatal(err)
		}
	}
	wantSeqs(t, readSeqs(t, client, burst), seqRange(burst))
	noMore(t, client)

	for _, size := range []int{1, 100, pionMTU} {
		p := make([]byte, size)
		for i := range p {
			p[i] = byte('P' + i)
		}
		if _, err := client.WriteTo(p, to); err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, 2048)
		n, from, err := e.sock.ReadFrom(buf)
		if err != nil {
			t.Fatal(err)
		}
		if string(buf[:n]) != string(p) || from.String() != client.LocalAddr().String() {
			t.Fatalf("pion got %d bytes from %s, want %d from %s", n, from, size, client.LocalAddr())
		}
		if _, err := e.sock.WriteTo(buf[:n], from); err != nil {
			t.Fatal(err)
		}
		if err := client.SetReadDeadline(time.Now().Add(10 * time.Second)); err != nil {
			t.Fatal(err)
		}
		if m, _, err := client.ReadFrom(buf); err != nil || m != size {
			t.Fatalf("pion's answer: %d bytes, %v; want %d", m, err, size)
		}
	}
	if drops := e.dropped(); len(drops) != 0 {
		t.Fatalf("dropped %v", drops)
	}
}

// TestLoopDropsRefusedDatagram: a queued datagram the system refuses (to
// port 0) is counted and dropped, and the ones queued after it are sent.
func TestLoopDropsRefusedDatagram(t *testing.T) {
	e := startLoopEcho(t, listenUDP4(t))
	client := listenUDP4(t)
	dst, _ := addrPortOf(client.LocalAddr())
	good, _ := makeSockaddr(dst, e.sock.family)
	bad, _ := makeSockaddr(netip.AddrPortFrom(dst.Addr(), 0), e.sock.family)
	payloads := [][]byte{relayed(0, 40), relayed(1, 40), relayed(2, 40), relayed(3, 40)}

	e.sock.loop.mu.Lock() // as the loop queues, between two rounds
	for i, p := range payloads {
		sa := &good
		if i == 1 {
			sa = &bad
		}
		e.sock.queue(p, sa)
	}
	e.sock.loop.flush()
	e.sock.loop.mu.Unlock()

	wantSeqs(t, readSeqs(t, client, 3), []int{0, 2, 3})
	drops := e.dropped()
	if len(drops) != 1 || !errors.Is(drops[0], syscall.EINVAL) {
		t.Fatalf("drops %v, want the one EINVAL", drops)
	}
}

// TestLoopSocketClose: Close ends a waiting ReadFrom, refuses writes, takes
// the socket out of the loop and closes it; the original net.UDPConn was
// closed when the loop adopted it, so nothing else reads the socket.
func TestLoopSocketClose(t *testing.T) {
	conn := listenUDP4(t)
	e := startLoopEcho(t, conn)
	if _, _, err := conn.ReadFrom(make([]byte, 1)); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("the adopted conn reads: %v", err)
	}
	read := make(chan error, 1)
	go func() {
		_, _, err := e.sock.ReadFrom(make([]byte, 2048))
		read <- err
	}()
	if err := e.sock.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-read:
		if !errors.Is(err, net.ErrClosed) {
			t.Fatalf("ReadFrom after Close: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("ReadFrom still waits after Close")
	}
	if _, err := e.sock.WriteTo([]byte("x"), conn.LocalAddr()); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("WriteTo after Close: %v", err)
	}
	e.sock.loop.mu.Lock()
	left := len(e.sock.loop.socks)
	e.sock.loop.mu.Unlock()
	if left != 0 {
		t.Fatalf("%d sockets left in the loop", left)
	}
	testutil.Eventually(t, 10*time.Second, "the port is free again", func() bool {
		c, err := net.ListenUDP("udp4", conn.LocalAddr().(*net.UDPAddr))
		if err == nil {
			_ = c.Close()
		}
		return err == nil
	})
}

// TestLoopDualStack: a dual-stack socket (":3478", as the node listens by
// default) reads IPv4 senders as IPv4-mapped addresses; the loop's queue
// and WriteTo reach them, as mapped and as plain IPv4 addresses.
func TestLoopDualStack(t *testing.T) {
	ln, err := net.ListenUDP("udp", &net.UDPAddr{})
	if err != nil {
		t.Skipf("no dual-stack socket: %v", err)
	}
	if ln.LocalAddr().(*net.UDPAddr).IP.To4() != nil {
		_ = ln.Close()
		t.Skip("the wildcard socket is IPv4 only here")
	}
	e := startLoopEcho(t, ln)
	if e.sock.family != syscall.AF_INET6 {
		t.Fatalf("family %d, want AF_INET6", e.sock.family)
	}
	client := listenUDP4(t)
	to := &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: ln.LocalAddr().(*net.UDPAddr).Port}
	if _, err := client.WriteTo(relayed(0, 50), to); err != nil {
		t.Fatal(err)
	}
	wantSeqs(t, readSeqs(t, client, 1), []int{0})
	if _, err := e.sock.WriteTo(relayed(1, 50), client.LocalAddr()); err != nil {
		t.Fatal(err)
	}
	wantSeqs(t, readSeqs(t, client, 1), []int{1})
}

// TestSockaddrRoundTrip: an address made for a socket reads back the same,
// IPv4 as mapped for an IPv6 socket; an IPv4 socket cannot take IPv6.
func TestSockaddrRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		ap     string
		family int
		want   string
		ok     bool
	}{
		{"127.0.0.1:3478", syscall.AF_INET, "127.0.0.1:3478", true},
		{"[::ffff:10.1.2.3]:65535", syscall.AF_INET, "10.1.2.3:65535", true},
		{"127.0.0.1:1", syscall.AF_INET6, "[::ffff:127.0.0.1]:1", true},
		{"[2001:db8::1]:443", syscall.AF_INET6, "[2001:db8::1]:443", true},
		{"[2001:db8::1]:443", syscall.AF_INET, "", false},
	} {
		sa, ok := makeSockaddr(netip.MustParseAddrPort(tc.ap), tc.family)
		if ok != tc.ok {
			t.Fatalf("%s for family %d: ok %v, want %v", tc.ap, tc.family, ok, tc.ok)
		}
		if !ok {
			continue
		}
		got, ok := addrPortOfRaw(&sa.raw)
		if !ok || got.String() != tc.want {
			t.Fatalf("%s for family %d reads back as %s (%v), want %s", tc.ap, tc.family, got, ok, tc.want)
		}
	}
}

// TestRelayBatchedWritesKeepFlows sends numbered datagrams through four
// allocations at once, several in flight each, to an echo peer: each flow
// comes back whole, in order and once, and both directions went past
// pion, through the loop's queues.
func TestRelayBatchedWritesKeepFlows(t *testing.T) {
	peer := newEchoPeer(t)
	ts := startServer(t, func(c *Config) {
		c.ListenTCP, c.ListenTLS, c.TLSConfig = "", "", nil
		c.AllowedPeerAddrs = []netip.AddrPort{peer.addr}
	})
	const (
		flows  = 4
		count  = 400
		window = 16
		size   = 100
	)
	to := udpAddr(peer.addr)
	relays := make([]net.PacketConn, flows)
	for i := range relays {
		relays[i] = ts.dialUser(t, "udp", "flow"+strconv.Itoa(i)).allocate(t)
		roundTrip(t, relays[i], to, make([]byte, 3)) // pion's client binds a channel after its first datagram
		waitBound(t, ts, "flow"+strconv.Itoa(i), peer.addr)
	}
	var wg sync.WaitGroup
	results := make([][]int, flows)
	for i, relay := range relays {
		slots := make(chan struct{}, window)
		wg.Add(2)
		go func() { // receiver
			defer wg.Done()
			buf := make([]byte, 2048)
			_ = relay.SetReadDeadline(time.Now().Add(20 * time.Second))
			for len(results[i]) < count {
				n, _, err := relay.ReadFrom(buf)
				if err != nil {
					t.Errorf("flow %d after %d datagrams: %v", i, len(results[i]), err)
					return
				}
				if n != size {
					continue // a late echo of the warm-up
				}
				results[i] = append(results[i], int(binary.BigEndian.Uint32(buf)))
				<-slots
			}
		}()
		go func() { // sender
			defer wg.Done()
			for seq := range count {
				select {
				case slots <- struct{}{}:
				case <-time.After(20 * time.Second):
					t.Errorf("flow %d: no room in the window for seq %d", i, seq)
					return
				}
				if _, err := relay.WriteTo(numbered(seq, size), to); err != nil {
					t.Errorf("flow %d: %v", i, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	for i := range results {
		wantSeqs(t, results[i], seqRange(count))
	}
	toPeer, toClient := passedCounts(ts)
	if toPeer < flows*count || toClient < flows*count {
		t.Fatalf("past pion: %d to peers, %d to clients; want at least %d each", toPeer, toClient, flows*count)
	}
	if got := ts.metric(t, "send_failures_total"); got != 0 {
		t.Fatalf("send_failures_total = %v, want 0", got)
	}
}

// TestRelayFlushesLoneDatagram: one datagram through the relay and back,
// with nothing after it, arrives: the loop sends what it queued before
// it waits for more.
func TestRelayFlushesLoneDatagram(t *testing.T) {
	peer := newEchoPeer(t)
	ts := startServer(t, func(c *Config) {
		c.ListenTCP, c.ListenTLS, c.TLSConfig = "", "", nil
		c.AllowedPeerAddrs = []netip.AddrPort{peer.addr}
	})
	relay := ts.dialUser(t, "udp", "alice").allocate(t)
	to := udpAddr(peer.addr)
	roundTrip(t, relay, to, make([]byte, 3)) // pion's client binds a channel after its first datagram
	waitBound(t, ts, "alice", peer.addr)
	roundTrip(t, relay, to, make([]byte, 2)) // any datagram still in pion's hands is through
	before, _ := passedCounts(ts)

	if _, err := relay.WriteTo(numbered(1, 77), to); err != nil {
		t.Fatal(err)
	}
	if err := relay.SetReadDeadline(time.Now().Add(10 * time.Second)); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 2048)
	for {
		n, _, err := relay.ReadFrom(buf)
		if err != nil {
			t.Fatalf("the lone datagram did not come back: %v", err)
		}
		if n == 77 {
			break
		}
	}
	if after, _ := passedCounts(ts); after <= before {
		t.Fatalf("the datagram to the peer was not relayed past pion (%d before, %d after)", before, after)
	}
}
