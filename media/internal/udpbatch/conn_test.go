package udpbatch

import (
	"encoding/binary"
	"errors"
	"net"
	"net/netip"
	"sync"
	"testing"
	"time"

	"golang.org/x/net/ipv4"

	"siteline/internal/testutil"
)

// listen opens a UDP socket on network's loopback (or the address given),
// skipping the test when the system has none.
func listen(t *testing.T, network, addr string) *net.UDPConn {
	t.Helper()
	c, err := net.ListenUDP(network, net.UDPAddrFromAddrPort(netip.MustParseAddrPort(addr)))
	if err != nil {
		t.Skipf("no %s socket on %s: %v", network, addr, err)
	}
	t.Cleanup(func() { c.Close() })
	_ = c.SetReadBuffer(8 << 20)
	return c
}

// newTestConn wraps a fresh loopback socket; wrap, when not nil, wraps
// its Batcher.
func newTestConn(t *testing.T, wrap func(Batcher) Batcher) *Conn {
	t.Helper()
	if NewBatcher(&net.UDPConn{}) == nil {
		t.Skip("no sendmmsg on this system")
	}
	sock := listen(t, "udp4", "127.0.0.1:0")
	b := NewBatcher(sock)
	if wrap != nil {
		b = wrap(b)
	}
	return newConn(sock, b)
}

// datagram is writer w's i-th datagram: w and i, then filler up to size.
func datagram(w, i, size int) []byte {
	p := make([]byte, size)
	binary.BigEndian.PutUint32(p, uint32(w))
	binary.BigEndian.PutUint32(p[4:], uint32(i))
	for j := 8; j < size; j++ {
		p[j] = byte(w + i + j)
	}
	return p
}

// receive reads n datagrams from sock and returns, per writer, the
// sequence numbers in the order they came, failing on a datagram whose
// filler is not what its writer wrote.
func receive(t *testing.T, sock *net.UDPConn, n int) map[int][]int {
	t.Helper()
	got := make(map[int][]int)
	buf := make([]byte, 2048)
	for range n {
		_ = sock.SetReadDeadline(time.Now().Add(10 * time.Second))
		m, _, err := sock.ReadFromUDPAddrPort(buf)
		if err != nil {
			t.Fatalf("after %d datagrams: %v", countAll(got), err)
		}
		w := int(binary.BigEndian.Uint32(buf))
		i := int(binary.BigEndian.Uint32(buf[4:]))
		if want := datagram(w, i, m); string(buf[:m]) != string(want) {
			t.Fatalf("datagram %d of writer %d arrived altered", i, w)
		}
		got[w] = append(got[w], i)
	}
	return got
}

func countAll(got map[int][]int) int {
	n := 0
	for _, s := range got {
		n += len(s)
	}
	return n
}

// checkSequences fails unless each of writers sent 0..count-1, in order,
// each once.
func checkSequences(t *testing.T, got map[int][]int, writers, count int) {
	t.Helper()
	for w := range writers {
		seq := got[w]
		if len(seq) != count {
			t.Errorf("writer %d: %d datagrams arrived, want %d", w, len(seq), count)
		}
		for i, s := range seq {
			if s != i {
				t.Errorf("writer %d: datagram %d arrived at position %d", w, s, i)
				break
			}
		}
	}
}

// hold makes c behave as if a write were in progress: writes queue until
// sendQueued.
func hold(c *Conn) {
	c.mu.Lock()
	c.sending = true
	c.mu.Unlock()
}

func TestConcurrentWritersKeepOrder(t *testing.T) {
	c := newTestConn(t, nil)
	dst := listen(t, "udp4", "127.0.0.1:0")
	to := dst.LocalAddr().(*net.UDPAddr).AddrPort()
	const writers, count = 8, 300

	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := range count {
				if _, err := c.WriteToAddrPort(datagram(w, i, 100+i%900), to); err != nil {
					t.Errorf("writer %d: %v", w, err)
					return
				}
			}
		})
	}
	got := receive(t, dst, writers*count)
	wg.Wait()
	checkSequences(t, got, writers, count)
	if c.Dropped() != 0 {
		t.Errorf("%d datagrams dropped", c.Dropped())
	}
	batches, datagrams := c.Batches()
	t.Logf("%d datagrams, %d of them in %d batches", writers*count, datagrams, batches)
}

func TestIdleWriteGoesAtOnce(t *testing.T) {
	c := newTestConn(t, nil)
	dst := listen(t, "udp4", "127.0.0.1:0")
	to := dst.LocalAddr().(*net.UDPAddr).AddrPort()
	for i := range 3 {
		if _, err := c.WriteTo(datagram(0, i, 50), net.UDPAddrFromAddrPort(to)); err != nil {
			t.Fatal(err)
		}
	}
	checkSequences(t, receive(t, dst, 3), 1, 3)
	if b, _ := c.Batches(); b != 0 {
		t.Errorf("one writer at a time made %d batches, want none", b)
	}
}

// TestQueuedWritesLeaveInOneBatch: what is written while a write is in
// progress leaves with one sendmmsg, intact though the writers reuse
// their buffers as soon as WriteTo returns.
func TestQueuedWritesLeaveInOneBatch(t *testing.T) {
	c := newTestConn(t, nil)
	dst := listen(t, "udp4", "127.0.0.1:0")
	to := dst.LocalAddr().(*net.UDPAddr).AddrPort()
	hold(c)
	const writers, count = 4, 10
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			buf := make([]byte, 200)
			for i := range count {
				copy(buf, datagram(w, i, len(buf)))
				if n, err := c.WriteToAddrPort(buf, to); n != len(buf) || err != nil {
					t.Errorf("write: %d, %v", n, err)
				}
				clear(buf) // the caller's buffer is its own again
			}
		})
	}
	wg.Wait()
	c.sendQueued()
	checkSequences(t, receive(t, dst, writers*count), writers, count)
	if b, d := c.Batches(); b != 1 || d != writers*count {
		t.Errorf("%d datagrams in %d batches, want %d in 1", d, b, writers*count)
	}
}

// TestFullQueueWaits: a writer that finds the queue full waits for it to
// be sent and loses nothing.
func TestFullQueueWaits(t *testing.T) {
	c := newTestConn(t, nil)
	dst := listen(t, "udp4", "127.0.0.1:0")
	to := dst.LocalAddr().(*net.UDPAddr).AddrPort()
	hold(c)
	const count = 3*maxQueue + 5
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := range count {
			c.WriteToAddrPort(datagram(0, i, 64), to)
		}
	}()
	testutil.Eventually(t, 10*time.Second, "the queue to fill", func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		return c.queue.len() == maxQueue
	})
	c.sendQueued()
	<-done
	checkSequences(t, receive(t, dst, count), 1, count)
}

// shortBatcher sends at most max datagrams per call and refuses those
// refuse picks, as sendmmsg stops at the first that fails.
type shortBatcher struct {
	b      Batcher
	max    int
	refuse func(p []byte) bool
	calls  int
}

var errRefused = errors.New("refused")

func (s *shortBatcher) WriteBatch(ms []ipv4.Message, flags int) (int, error) {
	s.calls++
	if s.max > 0 && len(ms) > s.max {
		ms = ms[:s.max]
	}
	for i, m := range ms {
		if s.refuse != nil && s.refuse(m.Buffers[0]) {
			if i == 0 {
				return -1, errRefused
			}
			ms = ms[:i]
			break
		}
	}
	return s.b.WriteBatch(ms, flags)
}

func TestPartialAndRefusedBatches(t *testing.T) {
	var sb *shortBatcher
	c := newTestConn(t, func(b Batcher) Batcher {
		sb = &shortBatcher{b: b, max: 3, refuse: func(p []byte) bool {
			return binary.BigEndian.Uint32(p[4:])%7 == 3 // 3, 10, 17...
		}}
		return sb
	})
	dst := listen(t, "udp4", "127.0.0.1:0")
	to := dst.LocalAddr().(*net.UDPAddr).AddrPort()
	hold(c)
	const count = 20
	for i := range count {
		c.WriteToAddrPort(datagram(0, i, 80), to)
	}
	c.sendQueued()
	got := receive(t, dst, count-3)[0]
	want := []int{0, 1, 2, 4, 5, 6, 7, 8, 9, 11, 12, 13, 14, 15, 16, 18, 19}
	if len(got) != len(want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("got %v, want %v", got, want)
		}
	}
	if c.Dropped() != 3 {
		t.Errorf("dropped %d, want 3", c.Dropped())
	}
	if b, d := c.Batches(); b != 1 || d != count-3 {
		t.Errorf("%d datagrams in %d batches, want %d in 1", d, b, count-3)
	}
	if sb.calls < count/3 {
		t.Errorf("%d calls of WriteBatch for %d datagrams, at most 3 each", sb.calls, count)
	}
}

// TestAddressFamilies: queued datagrams reach IPv6 peers, and IPv4 peers
// of a dual-stack socket, which reads their addresses IPv4-mapped.
func TestAddressFamilies(t *testing.T) {
	if NewBatcher(&net.UDPConn{}) == nil {
		t.Skip("no sendmmsg on this system")
	}
	for _, tc := range []struct {
		name         string
		sock, dst    string
		dstNet, sNet string
		mapped       bool
	}{
		{name: "ipv6", sNet: "udp6", sock: "[::1]:0", dstNet: "udp6", dst: "[::1]:0"},
		{name: "dual-stack to ipv4", sNet: "udp", sock: "[::]:0", dstNet: "udp4", dst: "127.0.0.1:0", mapped: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sock := listen(t, tc.sNet, tc.sock)
			c := newConn(sock, NewBatcher(sock))
			dst := listen(t, tc.dstNet, tc.dst)
			to := dst.LocalAddr().(*net.UDPAddr).AddrPort()
			if tc.mapped {
				to = netip.AddrPortFrom(netip.AddrFrom16(to.Addr().As16()), to.Port())
			}
			hold(c)
			for i := range 5 {
				c.WriteToAddrPort(datagram(0, i, 40), to)
			}
			c.sendQueued()
			checkSequences(t, receive(t, dst, 5), 1, 5)
			if c.Dropped() != 0 {
				t.Errorf("%d dropped", c.Dropped())
			}
		})
	}
}

func TestNewLeavesOtherConnsAlone(t *testing.T) {
	var pc net.PacketConn = fakePacketConn{}
	if got := New(pc); got != pc {
		t.Errorf("New wrapped a %T", pc)
	}
}

type fakePacketConn struct{ net.PacketConn }

// TestHoldQueuesUntilRelease: what is written under a Hold, by its
// goroutine or others, leaves at Release, in one batch when it fits, in
// order, and a queue filled under a Hold is sent without waiting for it.
func TestHoldQueuesUntilRelease(t *testing.T) {
	c := newTestConn(t, nil)
	dst := listen(t, "udp4", "127.0.0.1:0")
	to := dst.LocalAddr().(*net.UDPAddr).AddrPort()

	c.Hold()
	for i := range 10 {
		c.WriteToAddrPort(datagram(0, i, 100), to)
	}
	var wg sync.WaitGroup
	wg.Go(func() {
		for i := range 5 {
			c.WriteToAddrPort(datagram(1, i, 100), to)
		}
	})
	wg.Wait()
	if b, _ := c.Batches(); b != 0 {
		t.Fatalf("%d batches sent under a Hold", b)
	}
	c.Release()
	got := receive(t, dst, 15)
	checkSequences(t, map[int][]int{0: got[0]}, 1, 10)
	checkSequences(t, map[int][]int{0: got[1]}, 1, 5)
	if b, d := c.Batches(); b != 1 || d != 15 {
		t.Errorf("%d datagrams in %d batches, want 15 in 1", d, b)
	}

	c.Hold()
	const count = 2*maxQueue + 3
	for i := range count {
		c.WriteToAddrPort(datagram(2, i, 100), to)
	}
	if _, d := c.Batches(); d != 15+2*maxQueue {
		t.Errorf("%d datagrams sent in batches before Release, want %d", d-15, 2*maxQueue)
	}
	c.Release()
	checkSequences(t, map[int][]int{0: receive(t, dst, count)[2]}, 1, count)

	var nilConn *Conn
	nilConn.Hold()
	nilConn.Release()
}
