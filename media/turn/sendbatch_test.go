package turn

import (
	"encoding/binary"
	"net"
	"net/netip"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/net/ipv4"

	"siteline/media/internal/udpbatch"
)

// listenUDP4 opens a UDP socket on 127.0.0.1, closed at cleanup.
func listenUDP4(t *testing.T) *net.UDPConn {
	t.Helper()
	conn, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	return conn
}

// numbered is a datagram carrying seq, size bytes long.
func numbered(seq, size int) []byte {
	p := make([]byte, size)
	binary.BigEndian.PutUint32(p, uint32(seq)) //nolint:gosec // test sequence numbers are small
	return p
}

// recordingConn is a udpbatch.Batcher that passes batches to a real socket's
// sendmmsg, at most max datagrams per call (0: all), and refuses the
// datagrams refuse picks as Linux's sendmmsg does: -1 with the error when
// the first is refused, else the count sent before it.
type recordingConn struct {
	bc     udpbatch.Batcher
	max    int
	refuse func(p []byte) bool

	mu    sync.Mutex
	calls []int // datagrams offered per call
}

func (c *recordingConn) WriteBatch(ms []ipv4.Message, flags int) (int, error) {
	c.mu.Lock()
	c.calls = append(c.calls, len(ms))
	c.mu.Unlock()
	if c.max > 0 && len(ms) > c.max {
		ms = ms[:c.max]
	}
	if c.refuse != nil {
		for i := range ms {
			if c.refuse(ms[i].Buffers[0]) {
				if i == 0 {
					return -1, syscall.EPERM
				}
				ms = ms[:i]
				break
			}
		}
	}
	return c.bc.WriteBatch(ms, flags)
}

func (c *recordingConn) largest() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	m := 0
	for _, n := range c.calls {
		m = max(m, n)
	}
	return m
}

// echoLoop reads conn in batches and writes every datagram back to its
// sender through a batchWriter of the reader's group, as pion's read loop
// and handler do, until conn is closed. It returns the writer and its
// dropped count.
type echoLoop struct {
	w       *batchWriter
	mu      sync.Mutex
	dropped int
	done    chan struct{}
}

func startEchoLoop(t *testing.T, conn *net.UDPConn, bc udpbatch.Batcher) *echoLoop {
	t.Helper()
	g := &writeGroup{}
	r := newBatchReader(conn, 8, g)
	l := &echoLoop{done: make(chan struct{})}
	l.w = &batchWriter{conn: conn, bc: bc, group: g, queues: newSendQueues(), drop: func(error) {
		l.mu.Lock()
		l.dropped++
		l.mu.Unlock()
	}}
	go func() {
		defer close(l.done)
		buf := make([]byte, 2048)
		for {
			n, addr, err := r.ReadFrom(buf)
			if err != nil {
				return
			}
			if _, err := l.w.WriteTo(buf[:n], addr); err != nil {
				t.Errorf("WriteTo: %v", err)
			}
		}
	}()
	t.Cleanup(func() {
		_ = conn.Close()
		<-l.done
	})
	return l
}

func (l *echoLoop) sent() int {
	l.w.group.mu.Lock()
	defer l.w.group.mu.Unlock()
	return l.w.sent
}

func (l *echoLoop) drops() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.dropped
}

// readSeqs reads count datagrams from conn and returns their sequence
// numbers; it fails the test when they do not come within a generous
// deadline.
func readSeqs(t *testing.T, conn net.PacketConn, count int) []int {
	t.Helper()
	if err := conn.SetReadDeadline(time.Now().Add(10 * time.Second)); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 2048)
	seqs := make([]int, 0, count)
	for len(seqs) < count {
		n, _, err := conn.ReadFrom(buf)
		if err != nil {
			t.Fatalf("after %d of %d datagrams: %v", len(seqs), count, err)
		}
		if n < 4 {
			t.Fatalf("datagram of %d bytes", n)
		}
		seqs = append(seqs, int(binary.BigEndian.Uint32(buf)))
	}
	return seqs
}

// noMore checks that conn receives nothing else: a duplicate would be
// waiting in its queue already, since loopback delivers within the send.
func noMore(t *testing.T, conn net.PacketConn) {
	t.Helper()
	if err := conn.SetReadDeadline(time.Now().Add(50 * time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 2048)
	if n, _, err := conn.ReadFrom(buf); err == nil {
		t.Fatalf("unexpected datagram of %d bytes, seq %d", n, binary.BigEndian.Uint32(buf))
	}
}

func wantSeqs(t *testing.T, got []int, want []int) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %d datagrams, want %d", len(got), len(want))
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("datagram %d is seq %d, want %d (got %v)", i, got[i], want[i], got)
		}
	}
}

func seqRange(n int) []int {
	s := make([]int, n)
	for i := range s {
		s[i] = i
	}
	return s
}

// TestBatchWriterFlushesBeforeReaderBlocks: a lone datagram queued while
// its batch was handled leaves when the reader goes back to wait, with no
// other traffic to push it out.
func TestBatchWriterFlushesBeforeReaderBlocks(t *testing.T) {
	relay := listenUDP4(t)
	l := startEchoLoop(t, relay, udpbatch.NewBatcher(relay))
	client := listenUDP4(t)
	if _, err := client.WriteTo(numbered(7, 100), relay.LocalAddr()); err != nil {
		t.Fatal(err)
	}
	wantSeqs(t, readSeqs(t, client, 1), []int{7})
	if got := l.sent(); got != 1 {
		t.Fatalf("%d datagrams sent in batches, want the 1 echoed", got)
	}
}

// TestBatchWriterKeepsOrder echoes datagrams queued more than a batch at a
// time, a queue's worth and more per batch: every one comes back once, in
// order, and several left per system call.
func TestBatchWriterKeepsOrder(t *testing.T) {
	relay := listenUDP4(t)
	client := listenUDP4(t)
	const count = 100
	// Queued before the reader starts, so that it reads full batches.
	for i := range count {
		if _, err := client.WriteTo(numbered(i, 60+i), relay.LocalAddr()); err != nil {
			t.Fatal(err)
		}
	}
	rec := &recordingConn{bc: udpbatch.NewBatcher(relay)}
	l := startEchoLoop(t, relay, rec)
	wantSeqs(t, readSeqs(t, client, count), seqRange(count))
	noMore(t, client)
	if got := l.sent(); got != count {
		t.Fatalf("%d datagrams sent in batches, want %d", got, count)
	}
	if rec.largest() < 2 {
		t.Fatalf("largest batch sent %d datagrams, want more than one", rec.largest())
	}
}

// TestBatchWriterPartialWrite: a WriteBatch that sends fewer datagrams
// than it was given is called again for the rest.
func TestBatchWriterPartialWrite(t *testing.T) {
	relay := listenUDP4(t)
	client := listenUDP4(t)
	const count = 40
	for i := range count {
		if _, err := client.WriteTo(numbered(i, 100), relay.LocalAddr()); err != nil {
			t.Fatal(err)
		}
	}
	rec := &recordingConn{bc: udpbatch.NewBatcher(relay), max: 3}
	l := startEchoLoop(t, relay, rec)
	wantSeqs(t, readSeqs(t, client, count), seqRange(count))
	noMore(t, client)
	if l.drops() != 0 {
		t.Fatalf("%d dropped, want none", l.drops())
	}
	if rec.largest() < 4 {
		t.Fatalf("largest batch offered %d datagrams, want more than the 3 sent per call", rec.largest())
	}
}

// TestBatchWriterDropsRefusedDatagram: a datagram the system refuses is
// dropped and counted, whether it heads its batch or not, and the ones
// after it are sent.
func TestBatchWriterDropsRefusedDatagram(t *testing.T) {
	relay := listenUDP4(t)
	client := listenUDP4(t)
	const count = 20
	refused := map[int]bool{0: true, 5: true, 6: true, 13: true}
	for i := range count {
		if _, err := client.WriteTo(numbered(i, 100), relay.LocalAddr()); err != nil {
			t.Fatal(err)
		}
	}
	rec := &recordingConn{bc: udpbatch.NewBatcher(relay), refuse: func(p []byte) bool {
		return refused[int(binary.BigEndian.Uint32(p))]
	}}
	l := startEchoLoop(t, relay, rec)
	var want []int
	for i := range count {
		if !refused[i] {
			want = append(want, i)
		}
	}
	wantSeqs(t, readSeqs(t, client, len(want)), want)
	noMore(t, client)
	if l.drops() != len(refused) {
		t.Fatalf("%d counted as dropped, want %d", l.drops(), len(refused))
	}
}

// TestBatchWritersShareSocket: several goroutines, each with its own
// group and queue, write to one socket at once, as the allocations' read
// loops write to the listener; another writes outside any batch. Every
// flow arrives whole and in order.
func TestBatchWritersShareSocket(t *testing.T) {
	listener := listenUDP4(t)
	bc := udpbatch.NewBatcher(listener)
	queues := newSendQueues()
	const (
		writers = 6
		count   = 300
	)
	var wg sync.WaitGroup
	sinks := make([]*net.UDPConn, writers+1)
	for i := range sinks {
		sinks[i] = listenUDP4(t)
		if err := sinks[i].SetReadBuffer(1 << 20); err != nil {
			t.Fatal(err)
		}
	}
	for i := range writers {
		g := &writeGroup{}
		w := &batchWriter{conn: listener, bc: bc, group: g, queues: queues, drop: func(err error) { t.Errorf("drop: %v", err) }}
		to := sinks[i].LocalAddr()
		wg.Add(1)
		go func() {
			defer wg.Done()
			for seq := 0; seq < count; {
				g.begin()
				for end := min(seq+1+seq%(2*sendBatch), count); seq < end; seq++ {
					if _, err := w.WriteTo(numbered(seq, 100), to); err != nil {
						t.Errorf("WriteTo: %v", err)
					}
				}
				g.end()
			}
		}()
	}
	// Outside a batch: straight to the socket.
	idle := &batchWriter{conn: listener, bc: bc, group: &writeGroup{}, queues: queues, drop: func(error) {}}
	wg.Add(1)
	go func() {
		defer wg.Done()
		for seq := range count {
			if _, err := idle.WriteTo(numbered(seq, 100), sinks[writers].LocalAddr()); err != nil {
				t.Errorf("WriteTo: %v", err)
			}
		}
	}()
	wg.Wait()
	for _, sink := range sinks {
		wantSeqs(t, readSeqs(t, sink, count), seqRange(count))
		noMore(t, sink)
	}
	if idle.sent != 0 {
		t.Fatalf("a writer outside any batch sent %d in batches", idle.sent)
	}
}

// TestBatchWriterDualStack: a dual-stack listener (":3478", as the node
// listens by default) reads IPv4 clients as IPv4-mapped addresses; a
// batch sent to them, and to plain IPv4 addresses, arrives.
func TestBatchWriterDualStack(t *testing.T) {
	ln, err := net.ListenUDP("udp", &net.UDPAddr{})
	if err != nil {
		t.Skipf("no dual-stack socket: %v", err)
	}
	t.Cleanup(func() { _ = ln.Close() })
	if ln.LocalAddr().(*net.UDPAddr).IP.To4() != nil {
		t.Skip("the wildcard socket is IPv4 only here")
	}
	client := listenUDP4(t)
	port := ln.LocalAddr().(*net.UDPAddr).Port
	if _, err := client.WriteTo(numbered(0, 100), &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: port}); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 2048)
	if err := ln.SetReadDeadline(time.Now().Add(10 * time.Second)); err != nil {
		t.Fatal(err)
	}
	_, mapped, err := ln.ReadFrom(buf)
	if err != nil {
		t.Fatal(err)
	}
	g := &writeGroup{}
	w := &batchWriter{conn: ln, bc: udpbatch.NewBatcher(ln), group: g, queues: newSendQueues(), drop: func(err error) { t.Errorf("drop: %v", err) }}
	g.begin()
	for seq, to := range []net.Addr{mapped, client.LocalAddr()} {
		if _, err := w.WriteTo(numbered(seq, 100), to); err != nil {
			t.Fatal(err)
		}
	}
	g.end()
	wantSeqs(t, readSeqs(t, client, 2), []int{0, 1})
}

// TestBatchWriterClosedGroupWritesAtOnce: once a reader is gone, writes
// are not queued for a flush that will never come.
func TestBatchWriterClosedGroupWritesAtOnce(t *testing.T) {
	sock := listenUDP4(t)
	client := listenUDP4(t)
	g := &writeGroup{}
	w := &batchWriter{conn: sock, bc: udpbatch.NewBatcher(sock), group: g, queues: newSendQueues(), drop: func(error) {}}
	g.begin()
	if _, err := w.WriteTo(numbered(0, 100), client.LocalAddr()); err != nil {
		t.Fatal(err)
	}
	g.close()
	g.begin() // a read that raced with the close
	if _, err := w.WriteTo(numbered(1, 100), client.LocalAddr()); err != nil {
		t.Fatal(err)
	}
	wantSeqs(t, readSeqs(t, client, 2), []int{0, 1})
	if w.sent != 1 {
		t.Fatalf("%d sent in batches, want only the one queued before the close", w.sent)
	}
}

// batchedSends sums what the relay sockets of ts sent in batches, towards
// their peers and towards their clients.
func batchedSends(ts *testServer) (toPeer, toClient int) {
	for _, sock := range ts.quotas.sockets(func(Grant) bool { return true }) {
		c, ok := sock.(*relayPacketConn)
		if !ok || c.toPeer == nil {
			continue
		}
		for _, w := range []*batchWriter{c.toPeer, c.toClient} {
			w.group.mu.Lock()
			if w == c.toPeer {
				toPeer += w.sent
			} else {
				toClient += w.sent
			}
			w.group.mu.Unlock()
		}
	}
	return toPeer, toClient
}

// TestRelayBatchedWritesKeepFlows sends numbered datagrams through four
// allocations at once, several in flight each, to an echo peer: each flow
// comes back whole, in order and once, and both directions went through
// the batched writes.
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
		roundTrip(t, relays[i], to, make([]byte, 3)) // permission and channel in place
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
	toPeer, toClient := batchedSends(ts)
	if toPeer < flows*count || toClient < flows*count {
		t.Fatalf("sent in batches: %d to peers, %d to clients; want at least %d each", toPeer, toClient, flows*count)
	}
	if got := ts.metric(t, "send_failures_total"); got != 0 {
		t.Fatalf("send_failures_total = %v, want 0", got)
	}
}

// TestRelayFlushesLoneDatagram: one datagram through the relay and back,
// with nothing after it, arrives: each read loop sends what it queued
// before it waits for more.
func TestRelayFlushesLoneDatagram(t *testing.T) {
	peer := newEchoPeer(t)
	ts := startServer(t, func(c *Config) {
		c.ListenTCP, c.ListenTLS, c.TLSConfig = "", "", nil
		c.AllowedPeerAddrs = []netip.AddrPort{peer.addr}
	})
	relay := ts.dialUser(t, "udp", "alice").allocate(t)
	to := udpAddr(peer.addr)
	roundTrip(t, relay, to, make([]byte, 3)) // permission and channel in place
	before, _ := batchedSends(ts)

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
	if after, _ := batchedSends(ts); after <= before {
		t.Fatalf("the datagram to the peer was not sent in a batch (%d before, %d after)", before, after)
	}
}

// TestListenerQueuesOnlyRelayedData: on the listener, ChannelData and Data
// indications to a client take its allocation's queue; pion's answers to
// requests, written by the listener's own read loop, leave at once even
// while that queue's batch is in progress.
func TestListenerQueuesOnlyRelayedData(t *testing.T) {
	listener := listenUDP4(t)
	client := listenUDP4(t)
	g := &writeGroup{}
	w := &batchWriter{conn: listener, bc: udpbatch.NewBatcher(listener), group: g, queues: newSendQueues(), drop: func(error) {}}
	routes := newClientRoutes()
	relay := &net.UDPAddr{IP: net.IPv4(192, 0, 2, 1), Port: 50000}
	routes.expect(&relayPacketConn{addr: relay, toClient: w})
	routes.bind(relay, client.LocalAddr())
	pc := &screenedPacketConn{PacketConn: listener, routes: routes}

	channelData := append([]byte{0x40, 0x00, 0x00, 0x04}, numbered(1, 4)...)
	dataInd := append([]byte{0x00, 0x17, 0x00, 0x00}, make([]byte, 16)...)
	answer := append([]byte{0x01, 0x01, 0x00, 0x00}, make([]byte, 16)...) // Binding success
	g.begin()
	for _, p := range [][]byte{channelData, dataInd, answer} {
		if _, err := pc.WriteTo(p, client.LocalAddr()); err != nil {
			t.Fatal(err)
		}
	}
	g.mu.Lock()
	queued := 0
	if w.q != nil {
		queued = w.q.n
	}
	g.mu.Unlock()
	if queued != 2 {
		t.Fatalf("%d datagrams queued, want the ChannelData and the Data indication", queued)
	}
	buf := make([]byte, 2048)
	if err := client.SetReadDeadline(time.Now().Add(10 * time.Second)); err != nil {
		t.Fatal(err)
	}
	n, _, err := client.ReadFrom(buf)
	if err != nil {
		t.Fatalf("the answer did not leave at once: %v", err)
	}
	if n != len(answer) || buf[1] != 0x01 {
		t.Fatalf("first datagram %x, want the answer %x", buf[:n], answer)
	}
	g.end()
	for _, want := range [][]byte{channelData, dataInd} {
		n, _, err := client.ReadFrom(buf)
		if err != nil {
			t.Fatal(err)
		}
		if string(buf[:n]) != string(want) {
			t.Fatalf("got %x, want %x", buf[:n], want)
		}
	}
}
