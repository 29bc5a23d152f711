//go:build linux

package turn

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
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
// first channel to peer and the client sends on it: a datagram through
// relay to peer goes past pion. The relay's copy of the binding is made
// before pion answers the client's ChannelBind, so the client may send a
// few more datagrams as Send indications after the copy is there.
func waitBound(t *testing.T, ts *testServer, user string, relay net.PacketConn, peer netip.AddrPort) {
	t.Helper()
	sock := relayOf(t, ts, user)
	testutil.Eventually(t, 10*time.Second, user+"'s channel is bound", func() bool { return sock.bound(0x4000, peer) })
	testutil.Eventually(t, 10*time.Second, user+"'s client sends on the channel", func() bool {
		before, _ := sock.directCounts()
		roundTrip(t, relay, udpAddr(peer), make([]byte, 2))
		after, _ := sock.directCounts()
		return after > before
	})
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

// TestLoopDropsRefusedDatagram: queued datagrams the system refuses (to
// port 0), alone or as a run, are counted and dropped one by one, and the
// ones queued after them are sent.
func TestLoopDropsRefusedDatagram(t *testing.T) {
	e := startLoopEcho(t, listenUDP4(t))
	client := listenUDP4(t)
	dst, _ := addrPortOf(client.LocalAddr())
	good, _ := makeSockaddr(dst, e.sock.family)
	bad, _ := makeSockaddr(netip.AddrPortFrom(dst.Addr(), 0), e.sock.family)
	dests := []*sockaddr{&good, &bad, &good, &bad, &bad, &good, &good}

	e.sock.loop.mu.Lock() // as the loop queues, between two rounds
	for seq, sa := range dests {
		e.sock.queue(relayed(seq, 40), sa)
	}
	e.sock.loop.flush()
	e.sock.loop.mu.Unlock()

	wantSeqs(t, readSeqs(t, client, 4), []int{0, 2, 5, 6})
	noMore(t, client)
	drops := e.dropped()
	if len(drops) != 3 {
		t.Fatalf("drops %v, want three", drops)
	}
	for _, err := range drops {
		if !errors.Is(err, syscall.EINVAL) {
			t.Fatalf("drops %v, want EINVAL each", drops)
		}
	}
}

// TestLoopSendsRunsAsOneMessage: consecutive datagrams to one destination
// and of one size, the last possibly shorter, leave as one GSO message, and
// the destination receives each datagram whole and in order; a longer
// datagram or another destination starts another message.
func TestLoopSendsRunsAsOneMessage(t *testing.T) {
	e := startLoopEcho(t, listenUDP4(t))
	if !e.sock.gso {
		t.Fatal("this system's kernel has no UDP_SEGMENT")
	}
	a, b := listenUDP4(t), listenUDP4(t)
	apA, _ := addrPortOf(a.LocalAddr())
	apB, _ := addrPortOf(b.LocalAddr())
	saA, _ := makeSockaddr(apA, e.sock.family)
	saB, _ := makeSockaddr(apB, e.sock.family)
	type queued struct {
		sa   *sockaddr
		size int
	}
	sends := []queued{
		{&saA, 1204}, {&saA, 1204}, {&saA, 1204}, {&saA, 600}, // one run, shorter last
		{&saA, 1204}, {&saA, 1300}, // a longer one ends the run
		{&saB, 1300}, {&saB, 1300}, // another destination
	}

	loop := e.sock.loop
	loop.mu.Lock()
	for seq, q := range sends {
		e.sock.queue(relayed(seq, q.size), q.sa)
	}
	if k := e.sock.tx.group(gsoSegments); k != 4 {
		loop.mu.Unlock()
		t.Fatalf("%d messages, want 4", k)
	}
	var runs []run
	runs = append(runs, e.sock.tx.runs[:4]...)
	loop.flush()
	gsoSent := e.sock.runsSent
	loop.mu.Unlock()
	if want := []run{{0, 4}, {4, 1}, {5, 1}, {6, 2}}; fmt.Sprint(runs) != fmt.Sprint(want) {
		t.Fatalf("runs %v, want %v", runs, want)
	}
	if gsoSent != 2 {
		t.Fatalf("%d GSO messages sent, want the two runs", gsoSent)
	}

	for _, c := range []struct {
		conn  net.PacketConn
		seqs  []int
		sizes []int
	}{{a, []int{0, 1, 2, 3, 4, 5}, []int{1204, 1204, 1204, 600, 1204, 1300}}, {b, []int{6, 7}, []int{1300, 1300}}} {
		if err := c.conn.SetReadDeadline(time.Now().Add(10 * time.Second)); err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, 2048)
		for i, seq := range c.seqs {
			n, _, err := c.conn.ReadFrom(buf)
			if err != nil {
				t.Fatalf("datagram %d: %v", seq, err)
			}
			if got := int(binary.BigEndian.Uint32(buf)); got != seq || n != c.sizes[i] || string(buf[:n]) != string(relayed(seq, n)) {
				t.Fatalf("got seq %d of %d bytes, want seq %d of %d", got, n, seq, c.sizes[i])
			}
		}
		noMore(t, c.conn)
	}
	if drops := e.dropped(); len(drops) != 0 {
		t.Fatalf("dropped %v", drops)
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
	left := len(e.sock.loop.members)
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
// IPv4 as mapped for an IPv6 socket, a zone as its interface's number; an
// IPv4 socket cannot take IPv6, nor a zone that names no interface.
func TestSockaddrRoundTrip(t *testing.T) {
	lo, err := net.InterfaceByName("lo")
	if err != nil {
		t.Fatal(err)
	}
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
		{"[fe80::1%7]:5000", syscall.AF_INET6, "[fe80::1%7]:5000", true},
		{"[fe80::1%lo]:5000", syscall.AF_INET6, "[fe80::1%" + strconv.Itoa(lo.Index) + "]:5000", true},
		{"[fe80::1%no-such-interface]:5000", syscall.AF_INET6, "", false},
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
		waitBound(t, ts, "flow"+strconv.Itoa(i), relays[i], peer.addr)
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
	waitBound(t, ts, "alice", relay, peer.addr)
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

// TestLoopClosesDuringTraffic: allocations revoked while datagrams flow to
// and from them leave the loop, the others keep relaying, and after
// Shutdown the loop holds no socket. Clients over UDP and TCP are mixed:
// flow 0 (UDP) is kept and flow 1 (TCP) revoked during traffic, flow 2
// (TCP) is kept and flow 3 (UDP) revoked quiet. The race detector watches
// the loop's sends against the closes.
func TestLoopClosesDuringTraffic(t *testing.T) {
	peer := newEchoPeer(t)
	ts := startServer(t, func(c *Config) {
		c.ListenTLS, c.TLSConfig = "", nil
		c.AllowedPeerAddrs = []netip.AddrPort{peer.addr}
	})
	to := udpAddr(peer.addr)
	const flows = 4
	transports := [flows]string{"udp", "tcp", "tcp", "udp"}
	relays := make([]net.PacketConn, flows)
	for i := range relays {
		user := "flow" + strconv.Itoa(i)
		username, password, _ := ts.Credentials(Grant{Call: "call" + strconv.Itoa(i%2), User: user}, time.Now())
		relays[i] = ts.dial(t, transports[i], username, password).allocate(t)
		roundTrip(t, relays[i], to, make([]byte, 3))
		waitBound(t, ts, user, relays[i], peer.addr)
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for _, relay := range relays[:2] { // call0's flows: 0 and 2 stay quiet
		wg.Add(1)
		go func() {
			defer wg.Done()
			for seq := 0; ; seq++ {
				select {
				case <-stop:
					return
				default:
				}
				_, _ = relay.WriteTo(numbered(seq, 100), to) // fails once revoked
			}
		}()
	}
	before, _ := passedCounts(ts)
	testutil.Eventually(t, 10*time.Second, "traffic past pion", func() bool {
		now, _ := passedCounts(ts)
		return now > before+1000
	})
	if n := ts.Revoke(func(g Grant) bool { return g.Call == "call1" }); n != 2 {
		t.Fatalf("Revoke closed %d allocations, want 2", n)
	}
	close(stop)
	wg.Wait()

	loop := ts.events
	loop.mu.Lock()
	left := len(loop.members)
	loop.mu.Unlock()
	if left != 5 { // the UDP listener, flows 0 and 2, the TCP clients' connections (flows 1 and 2)
		t.Fatalf("%d sockets in the loop, want 5", left)
	}
	for _, i := range []int{0, 2} {
		roundTrip(t, relays[i], to, make([]byte, 7))
	}

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := ts.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	loop.mu.Lock()
	left, closed := len(loop.members), loop.closed
	loop.mu.Unlock()
	if left != 0 || !closed {
		t.Fatalf("after Shutdown: %d sockets in the loop, closed %v", left, closed)
	}
}
