//go:build linux

package turn

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"runtime"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// The UDP listener and the relay sockets of its clients' allocations are
// read by one event loop of the relay's own instead of a goroutine per
// socket parked in Go's poller. Go's poller is edge-triggered: a reader
// must read a socket until it finds it empty before it may wait, so at a
// steady rate every datagram cost two reads, a goroutine woken and the
// scheduler's search for work afterwards (docs/benchmarks.md). The loop
// waits in epoll, level-triggered, in one goroutine, and reads each
// ready socket with recvmmsg until a batch comes back short:
//
//   - what the relay forwards itself (channel.go: ChannelData on a bound
//     channel, datagrams from a bound peer) is queued where recvmmsg put
//     it, towards the socket it leaves by, and the queues leave with one
//     sendmmsg per socket once the batch is worked through;
//   - what it does not (requests, indications, datagrams from peers with
//     no channel) is copied to the socket's queue for pion, whose read
//     loop takes it with ReadFrom as from the socket itself;
//   - pion's own writes go to the socket with sendto, from pion's
//     goroutines, as before.
//
// A socket leaves Go's poller when the loop adopts it (a copy of its
// descriptor is kept, the net.UDPConn closed), so the runtime is not
// woken for datagrams the loop reads.

// loopBatch is how many datagrams one recvmmsg takes from a socket, and
// how many a socket's send queue holds before it is sent without waiting
// for the end of the batch.
const loopBatch = 32

// loopRounds bounds the batches read from one socket before the loop
// turns to the others it found ready.
const loopRounds = 4

// yieldEvery is how often the loop lets the scheduler run it again (see
// run), well within the runtime's 10 ms before it preempts a goroutine.
const yieldEvery = 5 * time.Millisecond

// pionQueue is how many datagrams wait for pion's ReadFrom on one socket;
// more are dropped, as a full socket buffer drops them.
const pionQueue = 128

// errDeadline answers SetDeadline and its kin: neither pion nor the relay
// sets deadlines on a socket or connection the loop reads.
var errDeadline = errors.New("turn: the relay's event loop takes no deadlines")

// errNothingSent is a sendmmsg that reported no error and no datagram
// sent.
var errNothingSent = errors.New("sendmmsg sent nothing")

// eventLoop reads its sockets in one goroutine.
type eventLoop struct {
	epfd int
	wake int // an eventfd: close wakes the loop with it
	done chan struct{}

	// mu is held while the loop works through what one epoll_wait
	// reported, and by adopt and a socket's Close: a socket leaves the
	// loop between two rounds, never in the middle of one.
	mu         sync.Mutex
	closed     bool
	members    map[uint64]member // by the id epoll reports
	nextID     uint64
	dirty      []*loopSocket // sockets with queued sends
	dirtyConns []*loopConn   // TCP connections with queued frames
	rx         recvBatch
	stream     []byte // what one read of a TCP connection takes (tcp_linux.go)

	// resume lists the TCP connections whose reader asks the loop to read
	// them again (tcp_linux.go); the wake-up's eventfd tells the loop.
	resumeMu sync.Mutex
	resume   []*loopConn
}

// member is what the loop reads: a UDP socket or a client's TCP
// connection. serve is called by the loop, holding mu, with the events
// epoll reported.
type member interface {
	serve(events uint32)
}

// newEventLoop starts a loop with no socket.
func newEventLoop() (*eventLoop, error) {
	epfd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("epoll_create1: %w", err)
	}
	wake, err := unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK)
	if err != nil {
		_ = unix.Close(epfd)
		return nil, fmt.Errorf("eventfd: %w", err)
	}
	ev := unix.EpollEvent{Events: unix.EPOLLIN} // id 0: the wake-up
	if err := unix.EpollCtl(epfd, unix.EPOLL_CTL_ADD, wake, &ev); err != nil {
		_ = unix.Close(epfd)
		_ = unix.Close(wake)
		return nil, fmt.Errorf("epoll_ctl: %w", err)
	}
	l := &eventLoop{
		epfd: epfd, wake: wake, done: make(chan struct{}),
		members: make(map[uint64]member), nextID: 1,
		rx: newRecvBatch(loopBatch), stream: make([]byte, streamBuf),
	}
	go l.run()
	return l, nil
}

// close stops the loop. The sockets still in it stay open; their Close
// then only closes them.
func (l *eventLoop) close() {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return
	}
	l.closed = true
	l.wakeUp()
	l.mu.Unlock()
	<-l.done
	_ = unix.Close(l.epfd)
	_ = unix.Close(l.wake)
}

func (l *eventLoop) run() {
	defer close(l.done)
	events := make([]unix.EpollEvent, 64)
	yielded := time.Now()
	for {
		// The loop never waits in the scheduler, so to the runtime it is
		// one goroutine running without end: after 10 ms of that, sysmon
		// preempts it, takes its P while it waits in epoll_wait, and wakes
		// every 20 µs while it keeps doing so; the loop then comes back
		// from each wait on another thread. Yielding now and then keeps
		// it an ordinary goroutine.
		if now := time.Now(); now.Sub(yielded) > yieldEvery {
			runtime.Gosched()
			yielded = now
		}
		n, err := unix.EpollWait(l.epfd, events, -1)
		if err != nil {
			if errors.Is(err, unix.EINTR) {
				continue
			}
			return // EBADF or EINVAL: nothing to wait on any more
		}
		l.mu.Lock()
		if l.closed {
			l.mu.Unlock()
			return
		}
		for i := range events[:n] {
			id := eventID(&events[i])
			if id == 0 {
				l.resumeReading()
			} else if m := l.members[id]; m != nil {
				m.serve(events[i].Events)
			}
		}
		l.mu.Unlock()
	}
}

// wakeUp makes the loop come back from epoll_wait.
func (l *eventLoop) wakeUp() {
	one := [8]byte{1}
	_, _ = unix.Write(l.wake, one[:]) // an eventfd adds the 8-byte native-endian 1
}

// register gives m an id and adds fd to the epoll set with events (none:
// m's registration is left to it). Called holding mu.
func (l *eventLoop) register(fd int, m member, events uint32) (uint64, error) {
	if l.closed {
		return 0, ErrClosed
	}
	id := l.nextID
	if events != 0 {
		ev := epollEvent(id, events)
		if err := unix.EpollCtl(l.epfd, unix.EPOLL_CTL_ADD, fd, &ev); err != nil {
			return 0, fmt.Errorf("epoll_ctl: %w", err)
		}
	}
	l.nextID++
	l.members[id] = m
	return id, nil
}

// epollEvent is an event for the epoll set, carrying id.
func epollEvent(id uint64, events uint32) unix.EpollEvent {
	return unix.EpollEvent{Events: events, Fd: int32(uint32(id)), Pad: int32(uint32(id >> 32))} //nolint:gosec // the id's two halves, bit for bit
}

// eventID is the id an event carries in its 64 bits of user data, which
// x/sys/unix splits into Fd and Pad.
func eventID(ev *unix.EpollEvent) uint64 {
	return uint64(uint32(ev.Fd)) | uint64(uint32(ev.Pad))<<32
}

// read works through s's datagrams: up to loopRounds batches, stopping at
// the first short one. Level-triggered, epoll reports s again if more
// wait.
func (l *eventLoop) read(s *loopSocket) {
	for range loopRounds {
		n := l.rx.read(s.fd)
		for i := range n {
			from, ok := addrPortOfRaw(&l.rx.names[i])
			if !ok {
				continue
			}
			frame := l.rx.frame(i)
			if s.pass == nil || !s.pass(frame, from) {
				s.deliver(frame[chanHeader:], from)
			}
		}
		l.flush() // the queued sends point into rx: out before the next read
		if n < len(l.rx.msgs) {
			return
		}
	}
}

// flush sends every queue.
func (l *eventLoop) flush() {
	for i, s := range l.dirty {
		s.sendQueued()
		s.dirty = false
		l.dirty[i] = nil
	}
	l.dirty = l.dirty[:0]
	for i, c := range l.dirtyConns {
		c.sendQueued()
		c.dirty = false
		l.dirtyConns[i] = nil
	}
	l.dirtyConns = l.dirtyConns[:0]
}

// adopt moves conn into the loop: datagrams it reads are shown to pass
// (nil: none is relayed by the loop) and the rest go to the returned
// socket's ReadFrom. conn is closed; the socket replaces it. drop counts
// a queued datagram the system refused to send.
func (l *eventLoop) adopt(conn net.PacketConn, pass passFunc, drop func(error)) (*loopSocket, error) {
	uc, ok := conn.(*net.UDPConn)
	if !ok {
		return nil, fmt.Errorf("adopt %T: not a UDP socket", conn)
	}
	fd, err := dupSocket(uc)
	if err != nil {
		return nil, err
	}
	sa, err := unix.Getsockname(fd)
	if err != nil {
		_ = unix.Close(fd)
		return nil, fmt.Errorf("getsockname: %w", err)
	}
	family := unix.AF_INET6
	if _, ok := sa.(*unix.SockaddrInet4); ok {
		family = unix.AF_INET
	}
	s := &loopSocket{
		loop: l, fd: fd, family: family, local: uc.LocalAddr(),
		pass: pass, drop: drop,
		in: make(chan datagram, pionQueue), done: make(chan struct{}),
		tx: newSendQueue(loopBatch),
	}
	if _, err := unix.GetsockoptInt(fd, unix.SOL_UDP, unix.UDP_SEGMENT); err == nil {
		s.gso = true // the kernel knows UDP_SEGMENT (4.18 and later)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	id, err := l.register(fd, s, unix.EPOLLIN)
	if err != nil {
		_ = unix.Close(fd)
		return nil, fmt.Errorf("adopt: %w", err)
	}
	s.id = id
	// The copy keeps the socket open; closing the original takes it out
	// of Go's poller.
	_ = uc.Close()
	return s, nil
}

// dupSocket returns a copy of conn's descriptor, non-blocking as Go keeps
// it.
func dupSocket(conn syscall.Conn) (int, error) {
	rc, err := conn.SyscallConn()
	if err != nil {
		return -1, fmt.Errorf("adopt: %w", err)
	}
	fd := -1
	var dupErr error
	if err := rc.Control(func(orig uintptr) {
		fd, dupErr = unix.FcntlInt(orig, unix.F_DUPFD_CLOEXEC, 0)
	}); err != nil {
		return -1, fmt.Errorf("adopt: %w", err)
	}
	if dupErr != nil {
		return -1, fmt.Errorf("adopt: dup: %w", dupErr)
	}
	return fd, nil
}

// datagram is one datagram waiting for pion.
type datagram struct {
	buf  *[batchBufSize]byte
	n    int
	from net.Addr
}

var datagramBufs = sync.Pool{New: func() any { return new([batchBufSize]byte) }}

// loopSocket is a UDP socket the loop reads, as pion reads and writes it
// (net.PacketConn).
type loopSocket struct {
	loop   *eventLoop
	id     uint64
	fd     int
	family int // unix.AF_INET or AF_INET6
	local  net.Addr
	pass   passFunc
	drop   func(error)

	in   chan datagram
	done chan struct{} // closed by Close

	// Guarded by loop.mu.
	removed  bool
	dirty    bool // in loop.dirty
	gso      bool // sends runs to one destination as one UDP GSO message
	runsSent int  // GSO messages the system took, for tests
	tx       sendQueue

	// fdMu keeps fd open while pion's goroutines write to it.
	fdMu     sync.RWMutex
	fdClosed bool
	once     sync.Once
}

var _ net.PacketConn = (*loopSocket)(nil)

// serve reads s: it is a member of the loop.
func (s *loopSocket) serve(uint32) { s.loop.read(s) }

// deliver hands a datagram the loop did not relay to pion's ReadFrom; it
// is dropped when pion is pionQueue datagrams behind.
func (s *loopSocket) deliver(b []byte, from netip.AddrPort) {
	buf := datagramBufs.Get().(*[batchBufSize]byte)
	d := datagram{buf: buf, n: copy(buf[:], b), from: net.UDPAddrFromAddrPort(from)}
	select {
	case s.in <- d:
	default:
		datagramBufs.Put(buf)
	}
}

// queue sends b to sa once the loop's batch is worked through; b must stay
// unchanged until then (a datagram in the batch being read). It is called
// by the loop only.
func (s *loopSocket) queue(b []byte, sa *sockaddr) {
	if s.removed {
		return
	}
	if !s.dirty {
		s.dirty = true
		s.loop.dirty = append(s.loop.dirty, s)
	}
	s.tx.add(b, sa)
	if s.tx.n == len(s.tx.msgs) {
		s.sendQueued()
	}
}

// sendQueued sends the queue in order. Consecutive datagrams to one
// destination leave as one UDP GSO message where the socket can: the
// kernel cuts it into the datagrams again after one trip down the stack
// for the run instead of one per datagram.
func (s *loopSocket) sendQueued() {
	maxRun := 1
	if s.gso {
		maxRun = gsoSegments
	}
	k := s.tx.group(maxRun)
	s.send(s.tx.out[:k], s.tx.runs[:k])
	s.tx.reset(k)
}

// send sends msgs in order; runs[i] says which queued datagrams msgs[i]
// carries (nil: one each). A sendmmsg that sent fewer than it was given is
// called again for the rest. A message the system refuses is dropped and
// counted, and the ones after it are sent; a refused run is sent again one
// datagram at a time first, since a run is refused for what its datagrams
// alone are not (a segment above the path's MTU; EIO, a device without
// GSO, also turns GSO off for the socket).
func (s *loopSocket) send(msgs []unix.Mmsghdr, runs []run) {
	count := func(i int) int {
		if runs == nil {
			return 1
		}
		return runs[i].n
	}
	for sent := 0; sent < len(msgs); {
		n, err := sendmmsg(s.fd, msgs[sent:])
		switch {
		case err == nil && n > 0:
			for i := sent; i < sent+n; i++ {
				if count(i) > 1 {
					s.runsSent++
				}
			}
			sent += n
		case errors.Is(err, unix.EINTR):
		case errors.Is(err, unix.EAGAIN):
			if waitWritable(s.fd) {
				continue
			}
			for i := sent; i < len(msgs); i++ {
				for range count(i) {
					s.drop(err)
				}
			}
			return
		default: // msgs[sent]'s error
			if err == nil {
				err = errNothingSent
			}
			if count(sent) > 1 {
				if errors.Is(err, unix.EIO) {
					s.gso = false
				}
				r := runs[sent]
				s.send(s.tx.msgs[r.start:r.start+r.n], nil)
			} else {
				s.drop(err)
			}
			sent++
		}
	}
}

// sendTimeout bounds a wait for room in a full send buffer.
const sendTimeout = 100 * time.Millisecond

// waitWritable waits up to sendTimeout until fd takes a datagram.
func waitWritable(fd int) bool {
	pfd := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLOUT}} //nolint:gosec // a descriptor fits
	n, err := unix.Poll(pfd, int(sendTimeout/time.Millisecond))
	return err == nil && n == 1
}

// ReadFrom returns the next datagram the loop did not relay itself.
func (s *loopSocket) ReadFrom(p []byte) (int, net.Addr, error) {
	select {
	case d := <-s.in:
		n := copy(p, d.buf[:d.n])
		datagramBufs.Put(d.buf)
		return n, d.from, nil
	case <-s.done:
		return 0, nil, net.ErrClosed
	}
}

// WriteTo sends p to addr at once, as pion writes.
func (s *loopSocket) WriteTo(p []byte, addr net.Addr) (int, error) {
	ap, ok := addrPortOf(addr)
	if !ok {
		return 0, fmt.Errorf("write to %v: not a UDP address", addr)
	}
	sa, ok := makeSockaddr(ap, s.family)
	if !ok {
		return 0, fmt.Errorf("write to %s: not reachable from an IPv4 socket", ap)
	}
	s.fdMu.RLock()
	defer s.fdMu.RUnlock()
	if s.fdClosed {
		return 0, net.ErrClosed
	}
	for waited := false; ; {
		err := sendto(s.fd, p, &sa)
		switch {
		case err == nil:
			return len(p), nil
		case errors.Is(err, unix.EINTR):
		case errors.Is(err, unix.EAGAIN) && !waited:
			waited = true
			waitWritable(s.fd)
		default:
			return 0, fmt.Errorf("write to %s: %w", ap, err)
		}
	}
}

// Close takes the socket out of the loop, between two of its rounds, and
// closes it. Only the first call does anything.
func (s *loopSocket) Close() error {
	var err error
	s.once.Do(func() {
		l := s.loop
		l.mu.Lock()
		s.removed = true
		delete(l.members, s.id)
		if !l.closed {
			_ = unix.EpollCtl(l.epfd, unix.EPOLL_CTL_DEL, s.fd, nil)
		}
		l.mu.Unlock()
		s.fdMu.Lock()
		s.fdClosed = true
		err = unix.Close(s.fd)
		s.fdMu.Unlock()
		close(s.done)
	})
	return err
}

// LocalAddr implements net.PacketConn.
func (s *loopSocket) LocalAddr() net.Addr { return s.local }

// SetDeadline implements net.PacketConn; the loop's sockets take none.
func (s *loopSocket) SetDeadline(time.Time) error { return errDeadline }

// SetReadDeadline implements net.PacketConn; the loop's sockets take none.
func (s *loopSocket) SetReadDeadline(time.Time) error { return errDeadline }

// SetWriteDeadline implements net.PacketConn; the loop's sockets take none.
func (s *loopSocket) SetWriteDeadline(time.Time) error { return errDeadline }
