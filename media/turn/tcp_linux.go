//go:build linux

package turn

import (
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
)

// A plain TCP client's connection (RFC 8656 §12.5: STUN messages and
// ChannelData frames padded to four bytes, one after the other) is read by
// the event loop too, and so are its allocation's relay socket. pion read
// the connection in a goroutine woken for each frame and wrote to it from
// the relay socket's reader, woken for each datagram: at a steady rate
// every datagram cost a goroutine's wake-up each way and an empty read
// after it (docs/benchmarks.md). Now:
//
//   - the loop reads the connection into a buffer of its own and cuts it
//     into frames; ChannelData on a bound channel is queued to the relay
//     socket, towards its peer, where it lies (channel.go), and every other
//     frame is copied to the connection's queue for pion, whose read loop
//     reads them as the stream itself (through the screen, screen.go);
//   - what a bound peer sends is queued to the connection as a padded
//     ChannelData frame and written, with whatever else the batch queued
//     for it, in one sendmsg;
//   - pion's own writes (answers, Data indications) are written at once
//     from pion's goroutines.
//
// Frames are written whole or not at all: what the socket does not take
// waits in the connection's backlog, written as epoll reports room, and a
// frame that would take the backlog past maxBacklog is dropped, as a UDP
// socket drops a datagram its buffer has no room for. When pion is
// pionFrames frames behind, the loop stops reading the connection (the
// client's sends then wait in TCP's windows) until pion's reader asks it
// to read again. After a ConnectionBind request (RFC 6062 §4.4) the
// connection carries a peer's bytes: the loop hands them to pion as they
// come. TLS connections stay with pion.

// maxFrame is the largest frame: a STUN message of the largest length.
const maxFrame = stunHeaderSize + 0xffff

// streamBuf is the loop's buffer for one read of a TCP connection: room
// for an incomplete frame kept from the read before, and 64 KiB.
const streamBuf = maxFrame + 64<<10

// pionFrames is how many frames wait for pion on one connection before
// the loop stops reading it.
const pionFrames = 64

// maxBacklog bounds the bytes waiting for room in a connection's socket.
const maxBacklog = 256 << 10

// errBackedUp answers a write the backlog has no room for.
var errBackedUp = errors.New("turn: the client's connection is backed up: frame dropped")

// loopConn is a client's TCP connection the loop reads, as pion reads and
// writes it (net.Conn).
type loopConn struct {
	loop          *eventLoop
	id            uint64
	fd            int
	local, remote net.Addr
	drop          func(error) // counts a frame dropped towards the client
	forget        func(*loopConn)

	in     chan []byte   // frames for pion; closed at the end of the stream
	done   chan struct{} // closed by Close
	paused atomic.Bool   // the loop stopped reading: in is full
	eof    atomic.Bool   // the loop saw the stream end; in is closed

	rmu sync.Mutex // pion's reader
	cur []byte     // the rest of the frame pion is reading

	// The client's allocation, once pion reports it (routes.go).
	alloc atomic.Pointer[relayPacketConn]

	// Kept by the loop, holding its mu.
	partial []byte   // an incomplete frame, or frames pion has no room for yet
	raw     bool     // after a ConnectionBind: no more frames
	removed bool     // Close took it out of the loop
	dirty   bool     // in loop.dirtyConns
	wq      [][]byte // frames queued by the loop, pointing into its batch

	// mu guards the socket's writes and its epoll registration.
	mu         sync.Mutex
	backlog    []byte    // bytes the socket has not taken yet
	one        [1][]byte // a single buffer for send
	registered bool
	events     uint32 // as registered
	closed     bool
	once       sync.Once
	pauses     int // times the loop stopped reading, for tests
}

var _ net.Conn = (*loopConn)(nil)

// adoptConn moves a client's TCP connection into the loop; conn is closed
// and the returned connection replaces it. drop counts a frame dropped
// towards the client, forget is called once it is closed.
func (l *eventLoop) adoptConn(conn *net.TCPConn, drop func(error), forget func(*loopConn)) (*loopConn, error) {
	fd, err := dupSocket(conn)
	if err != nil {
		return nil, err
	}
	c := &loopConn{
		loop: l, fd: fd, local: conn.LocalAddr(), remote: conn.RemoteAddr(),
		drop: drop, forget: forget,
		in: make(chan []byte, pionFrames), done: make(chan struct{}),
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if c.id, err = l.register(fd, c, 0); err != nil {
		_ = unix.Close(fd)
		return nil, fmt.Errorf("adopt: %w", err)
	}
	c.mu.Lock()
	err = c.arm()
	c.mu.Unlock()
	if err != nil {
		delete(l.members, c.id)
		_ = unix.Close(fd)
		return nil, fmt.Errorf("adopt: %w", err)
	}
	_ = conn.Close() // the copy keeps the socket open
	return c, nil
}

// arm registers in the epoll set what the loop waits for on c: reads while
// it reads c, room while a backlog waits. Called holding mu.
func (c *loopConn) arm() error {
	var want uint32
	if !c.paused.Load() && !c.eof.Load() {
		want = unix.EPOLLIN | unix.EPOLLRDHUP
	}
	if len(c.backlog) > 0 {
		want |= unix.EPOLLOUT
	}
	if c.closed || (want == c.events && c.registered) {
		return nil
	}
	ev := epollEvent(c.id, want)
	var err error
	switch {
	case want == 0 && c.registered:
		err = unix.EpollCtl(c.loop.epfd, unix.EPOLL_CTL_DEL, c.fd, nil)
		c.registered = false
	case want == 0:
	case c.registered:
		err = unix.EpollCtl(c.loop.epfd, unix.EPOLL_CTL_MOD, c.fd, &ev)
	default:
		err = unix.EpollCtl(c.loop.epfd, unix.EPOLL_CTL_ADD, c.fd, &ev)
		c.registered = err == nil
	}
	if err != nil {
		return fmt.Errorf("epoll_ctl: %w", err)
	}
	c.events = want
	return nil
}

// serve writes c's backlog when the socket has room and reads c when it
// has bytes.
func (c *loopConn) serve(events uint32) {
	if events&(unix.EPOLLOUT|unix.EPOLLERR|unix.EPOLLHUP) != 0 {
		c.mu.Lock()
		c.writeBacklog()
		c.mu.Unlock()
	}
	if events&^unix.EPOLLOUT != 0 && !c.paused.Load() && !c.eof.Load() {
		c.read()
	}
}

// read works through what c has to read: up to loopRounds reads, stopping
// at a short one. Level-triggered, epoll reports c again if more waits.
func (c *loopConn) read() {
	buf := c.loop.stream
	for range loopRounds {
		k := copy(buf, c.partial)
		n, err := unix.Read(c.fd, buf[k:])
		switch {
		case errors.Is(err, unix.EINTR):
			continue
		case errors.Is(err, unix.EAGAIN):
			return
		case err != nil || n == 0:
			c.end()
			return
		}
		c.work(buf[:k+n])
		if c.paused.Load() || n < len(buf)-k {
			return
		}
	}
}

// work relays and hands over the complete frames of b, then keeps what is
// left of it (an incomplete frame, or frames pion has no room for) in
// c.partial.
func (c *loopConn) work(b []byte) {
	rest := c.frames(b)
	c.loop.flush() // the queued sends point into b
	c.partial = append(c.partial[:0], rest...)
}

// frames relays or hands to pion the complete frames at the start of b,
// and returns what it did not take.
func (c *loopConn) frames(b []byte) []byte {
	for len(b) > 0 {
		if c.raw {
			if !c.toPion(b) {
				return b
			}
			return nil
		}
		if len(b) < chanHeader {
			return b
		}
		size := frameSize(b)
		if len(b) < size {
			return b
		}
		f := b[:size]
		if !c.relay(f) {
			if !c.toPion(f) {
				return b
			}
			c.raw = isConnectionBind(f)
		}
		b = b[size:]
	}
	return nil
}

// relay queues a ChannelData frame on a bound channel to its peer.
func (c *loopConn) relay(f []byte) bool {
	if f[0]&0xc0 != 0x40 || len(f) > pionMTU {
		return false
	}
	a := c.alloc.Load()
	return a != nil && a.relayToPeer(f)
}

// toPion copies f to pion's queue; when the queue is full it stops
// reading c and reports false.
func (c *loopConn) toPion(f []byte) bool {
	cp := append([]byte(nil), f...)
	select {
	case c.in <- cp:
		return true
	default:
	}
	// The reader asks for more once it takes a frame and sees paused; one
	// it took between the try above and now would not, so try again.
	c.paused.Store(true)
	select {
	case c.in <- cp:
		c.paused.Store(false)
		return true
	default:
	}
	c.mu.Lock()
	c.pauses++
	_ = c.arm()
	c.mu.Unlock()
	return false
}

// end closes pion's queue: the stream has ended (or failed).
func (c *loopConn) end() {
	c.eof.Store(true)
	close(c.in)
	c.mu.Lock()
	_ = c.arm()
	c.mu.Unlock()
}

// resumeReading reads the connections whose reader has made room, first
// the frames kept for them. Called by the loop, holding mu, when the
// wake-up's eventfd is readable.
func (l *eventLoop) resumeReading() {
	var count [8]byte
	_, _ = unix.Read(l.wake, count[:]) // resets the eventfd
	l.resumeMu.Lock()
	conns := l.resume
	l.resume = nil
	l.resumeMu.Unlock()
	for _, c := range conns {
		if c.removed || c.eof.Load() || !c.paused.Load() {
			continue
		}
		c.paused.Store(false)
		c.work(c.partial)
		if !c.paused.Load() {
			c.mu.Lock()
			_ = c.arm()
			c.mu.Unlock()
		}
	}
}

// Read returns the stream's bytes for pion, a frame at a time.
func (c *loopConn) Read(p []byte) (int, error) {
	c.rmu.Lock()
	defer c.rmu.Unlock()
	for len(c.cur) == 0 {
		select {
		case f, ok := <-c.in:
			if !ok {
				return 0, io.EOF
			}
			c.cur = f
			if c.paused.Load() {
				l := c.loop
				l.resumeMu.Lock()
				l.resume = append(l.resume, c)
				l.resumeMu.Unlock()
				l.wakeUp()
			}
		case <-c.done:
			return 0, net.ErrClosed
		}
	}
	n := copy(p, c.cur)
	c.cur = c.cur[n:]
	return n, nil
}

// queue sends frame, a padded ChannelData frame in the loop's batch, once
// the batch is worked through. Called by the loop only.
func (c *loopConn) queue(frame []byte) {
	if c.removed {
		return
	}
	if !c.dirty {
		c.dirty = true
		c.loop.dirtyConns = append(c.loop.dirtyConns, c)
	}
	c.wq = append(c.wq, frame)
}

// sendQueued writes the frames the loop queued, in one sendmsg when no
// backlog waits before them.
func (c *loopConn) sendQueued() {
	c.mu.Lock()
	defer c.mu.Unlock()
	frames := c.wq
	if len(c.backlog) == 0 && !c.closed {
		n, err := c.send(frames)
		if err != nil {
			for range frames {
				c.drop(err)
			}
			frames = nil
		}
		for len(frames) > 0 && n >= len(frames[0]) {
			n -= len(frames[0])
			frames = frames[1:]
		}
		if n > 0 { // a frame the socket took in part: its rest goes first
			c.keep(frames[0][n:], true)
			frames = frames[1:]
		}
	}
	for _, f := range frames {
		c.keep(f, false)
	}
	clear(c.wq)
	c.wq = c.wq[:0]
	_ = c.arm()
}

// send writes bufs with one sendmsg and returns the bytes the socket took
// (0 when it has no room). Called holding mu.
func (c *loopConn) send(bufs [][]byte) (int, error) {
	for {
		n, err := unix.SendmsgBuffers(c.fd, bufs, nil, nil, unix.MSG_NOSIGNAL)
		switch {
		case errors.Is(err, unix.EINTR):
		case errors.Is(err, unix.EAGAIN):
			return 0, nil
		case err != nil:
			return 0, err
		default:
			return n, nil
		}
	}
}

// keep adds f to the backlog: always when begun (the rest of a frame the
// socket took in part), else when the backlog has room for it. Called
// holding mu.
func (c *loopConn) keep(f []byte, begun bool) bool {
	if c.closed || (!begun && len(c.backlog)+len(f) > maxBacklog) {
		c.drop(errBackedUp)
		return false
	}
	c.backlog = append(c.backlog, f...)
	return true
}

// writeBacklog writes what the backlog holds, as far as the socket takes
// it. A socket that fails drops its backlog. Called holding mu.
func (c *loopConn) writeBacklog() {
	if len(c.backlog) > 0 && !c.closed {
		c.one[0] = c.backlog
		n, err := c.send(c.one[:])
		c.one[0] = nil
		if err != nil {
			c.drop(err)
			n = len(c.backlog)
		}
		c.backlog = c.backlog[:copy(c.backlog, c.backlog[n:])]
	}
	_ = c.arm()
}

// Write sends p, one frame of pion's, at once, or after the backlog.
func (c *loopConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return 0, net.ErrClosed
	}
	n := 0
	if len(c.backlog) == 0 {
		c.one[0] = p
		var err error
		n, err = c.send(c.one[:])
		c.one[0] = nil
		if err != nil {
			return 0, fmt.Errorf("write to %s: %w", c.remote, err)
		}
		if n == len(p) {
			return n, nil
		}
	}
	if !c.keep(p[n:], n > 0) {
		return 0, errBackedUp
	}
	_ = c.arm()
	return len(p), nil
}

// Close takes c out of the loop, between two of its rounds, and closes
// it. Only the first call does anything.
func (c *loopConn) Close() error {
	var err error
	c.once.Do(func() {
		l := c.loop
		l.mu.Lock()
		c.removed = true
		delete(l.members, c.id)
		l.mu.Unlock()
		c.mu.Lock()
		c.closed = true
		c.backlog = nil
		err = unix.Close(c.fd) // and out of the epoll set with it
		c.mu.Unlock()
		close(c.done)
		if c.forget != nil {
			c.forget(c)
		}
	})
	return err
}

// LocalAddr implements net.Conn.
func (c *loopConn) LocalAddr() net.Addr { return c.local }

// RemoteAddr implements net.Conn.
func (c *loopConn) RemoteAddr() net.Addr { return c.remote }

// SetDeadline implements net.Conn; the loop's connections take none.
func (c *loopConn) SetDeadline(time.Time) error { return errDeadline }

// SetReadDeadline implements net.Conn; the loop's connections take none.
func (c *loopConn) SetReadDeadline(time.Time) error { return errDeadline }

// SetWriteDeadline implements net.Conn; the loop's connections take none.
func (c *loopConn) SetWriteDeadline(time.Time) error { return errDeadline }
