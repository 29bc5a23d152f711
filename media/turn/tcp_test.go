//go:build linux

package turn

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"siteline/internal/testutil"
)

// loopConnPair is a TCP connection on loopback whose accepted end the
// loop reads (conn) and whose dialled end the test drives (client).
type loopConnPair struct {
	conn   *loopConn
	client *net.TCPConn
	mu     sync.Mutex
	drops  []error
}

func newLoopConnPair(t *testing.T, setup func(accepted, client *net.TCPConn)) *loopConnPair {
	t.Helper()
	loop, err := newEventLoop()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(loop.close)
	ln, err := net.ListenTCP("tcp4", &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	client, err := net.DialTCP("tcp4", nil, ln.Addr().(*net.TCPAddr))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = client.Close() })
	accepted, err := ln.AcceptTCP()
	if err != nil {
		t.Fatal(err)
	}
	if setup != nil {
		setup(accepted, client)
	}
	p := &loopConnPair{client: client}
	drop := func(err error) {
		p.mu.Lock()
		p.drops = append(p.drops, err)
		p.mu.Unlock()
	}
	if p.conn, err = loop.adoptConn(accepted, drop, nil); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.conn.Close() })
	return p
}

func (p *loopConnPair) dropped() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.drops)
}

// stunFrame is a STUN-framed message (a Binding request's header) with
// length bytes of attributes numbering it seq.
func stunFrame(seq, length int) []byte {
	f := make([]byte, stunHeaderSize+length)
	binary.BigEndian.PutUint16(f[0:2], 0x0001)
	binary.BigEndian.PutUint16(f[2:4], uint16(length)) //nolint:gosec // small
	binary.BigEndian.PutUint32(f[4:8], 0x2112a442)
	binary.BigEndian.PutUint32(f[8:12], uint32(seq)) //nolint:gosec // small
	return f
}

// chanFrame is a ChannelData frame on number, padded, carrying size bytes
// that begin with seq.
func chanFrame(number uint16, seq, size int) []byte {
	f := make([]byte, (chanHeader+size+3)&^3)
	binary.BigEndian.PutUint16(f[0:2], number)
	binary.BigEndian.PutUint16(f[2:4], uint16(size)) //nolint:gosec // small
	if size >= 4 {
		binary.BigEndian.PutUint32(f[4:8], uint32(seq)) //nolint:gosec // small
	}
	return f
}

// readFrameFrom reads the next whole frame of a stream of frames.
func readFrameFrom(t *testing.T, r io.Reader) []byte {
	t.Helper()
	head := make([]byte, chanHeader)
	if _, err := io.ReadFull(r, head); err != nil {
		t.Fatalf("frame header: %v", err)
	}
	f := make([]byte, frameSize(head))
	copy(f, head)
	if _, err := io.ReadFull(r, f[chanHeader:]); err != nil {
		t.Fatalf("frame body: %v", err)
	}
	return f
}

// TestLoopConnCutsTheStreamIntoFrames: frames the client writes in pieces
// of any size, a byte at a time included, reach pion's reader whole, a
// frame per read, in order; far more of them than pion's queue holds
// while the reader does not read (the loop stops reading the connection
// and goes on when asked); then the end of the stream.
func TestLoopConnCutsTheStreamIntoFrames(t *testing.T) {
	p := newLoopConnPair(t, nil)
	rng := rand.New(rand.NewPCG(1, 2))
	var want [][]byte
	var stream []byte
	for seq := range 10 * pionFrames {
		var f []byte
		switch seq % 3 {
		case 0:
			f = stunFrame(seq, 4*rng.IntN(40))
		case 1:
			f = chanFrame(0x4001, seq, 4+rng.IntN(1300)) // no allocation: pion's
		default:
			f = chanFrame(0x4ffe, seq, 4+rng.IntN(3))
		}
		want = append(want, f)
		stream = append(stream, f...)
	}
	for rest := stream; len(rest) > 0; {
		n := 1 + rng.IntN(3000)
		if rng.IntN(8) == 0 {
			n = 1
		}
		n = min(n, len(rest))
		if _, err := p.client.Write(rest[:n]); err != nil {
			t.Fatal(err)
		}
		rest = rest[n:]
	}
	testutil.Eventually(t, 10*time.Second, "the loop stops reading: pion's queue is full", func() bool {
		return p.conn.paused.Load()
	})
	if err := p.client.CloseWrite(); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, maxFrame)
	for i, w := range want {
		n, err := p.conn.Read(buf)
		if err != nil {
			t.Fatalf("frame %d: %v", i, err)
		}
		if !bytes.Equal(buf[:n], w) {
			t.Fatalf("frame %d: read %d bytes %x…, want %d bytes %x…", i, n, buf[:min(n, 12)], len(w), w[:12])
		}
	}
	if n, err := p.conn.Read(buf); err != io.EOF {
		t.Fatalf("after the last frame: %d bytes, %v; want io.EOF", n, err)
	}
	p.conn.mu.Lock()
	pauses := p.conn.pauses
	p.conn.mu.Unlock()
	if pauses == 0 {
		t.Fatal("the loop never stopped reading")
	}
}

// TestLoopConnAfterConnectionBind: after a ConnectionBind request
// (RFC 6062 §4.4) the connection carries a peer's bytes, which reach pion
// as they are, unframed.
func TestLoopConnAfterConnectionBind(t *testing.T) {
	p := newLoopConnPair(t, nil)
	bind := stunFrame(1, 8)
	binary.BigEndian.PutUint16(bind[0:2], connectionBindRequest)
	raw := bytes.Repeat([]byte{0xc0, 0xff, 0xee}, 5000) // no frame: ChannelData 0xc0ff would be 65K long
	if _, err := p.client.Write(append(append([]byte(nil), bind...), raw...)); err != nil {
		t.Fatal(err)
	}
	if err := p.client.CloseWrite(); err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(p.conn)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got[:len(bind)], bind) || !bytes.Equal(got[len(bind):], raw) {
		t.Fatalf("read %d bytes, want the bind and %d raw bytes after it", len(got), len(raw))
	}
}

// TestLoopConnBacklog: pion's writes to a client that does not read wait
// in the backlog past what the socket takes, up to maxBacklog; the frame
// after that is refused whole and counted, nothing is cut; once the
// client reads, every accepted frame arrives whole and in order and the
// connection takes writes again.
func TestLoopConnBacklog(t *testing.T) {
	p := newLoopConnPair(t, func(accepted, client *net.TCPConn) {
		if err := accepted.SetWriteBuffer(8 << 10); err != nil {
			t.Fatal(err)
		}
		if err := client.SetReadBuffer(8 << 10); err != nil {
			t.Fatal(err)
		}
	})
	const size = 1001 // padded: frames of 1008 bytes
	seq := 0
	for ; ; seq++ {
		_, err := p.conn.Write(chanFrame(0x4000, seq, size))
		if errors.Is(err, errBackedUp) {
			break
		}
		if err != nil {
			t.Fatalf("write %d: %v", seq, err)
		}
		if seq > 100000 {
			t.Fatal("the backlog never filled")
		}
	}
	p.conn.mu.Lock()
	backlog := len(p.conn.backlog)
	p.conn.mu.Unlock()
	if backlog == 0 || backlog > maxBacklog {
		t.Fatalf("backlog %d bytes when refused, want within (0, %d]", backlog, maxBacklog)
	}
	if p.dropped() != 1 {
		t.Fatalf("%d frames counted dropped, want the refused one", p.dropped())
	}
	for i := range seq {
		f := readFrameFrom(t, p.client)
		if got := int(binary.BigEndian.Uint32(f[4:8])); got != i || len(f) != len(chanFrame(0x4000, 0, size)) {
			t.Fatalf("frame %d: seq %d, %d bytes", i, got, len(f))
		}
	}
	testutil.Eventually(t, 10*time.Second, "the backlog is written", func() bool {
		p.conn.mu.Lock()
		defer p.conn.mu.Unlock()
		return len(p.conn.backlog) == 0 && p.conn.events&unix.EPOLLOUT == 0
	})
	if _, err := p.conn.Write(chanFrame(0x4000, seq+1, size)); err != nil {
		t.Fatalf("write after the backlog: %v", err)
	}
	if f := readFrameFrom(t, p.client); int(binary.BigEndian.Uint32(f[4:8])) != seq+1 {
		t.Fatalf("after the backlog: seq %d, want %d", binary.BigEndian.Uint32(f[4:8]), seq+1)
	}
}

// TestLoopConnClose: Close ends pion's read and refuses writes; the
// connection leaves the loop and the client sees the end of the stream.
func TestLoopConnClose(t *testing.T) {
	p := newLoopConnPair(t, nil)
	done := make(chan error, 1)
	go func() {
		_, err := p.conn.Read(make([]byte, 64))
		done <- err
	}()
	if err := p.conn.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if !errors.Is(err, net.ErrClosed) {
			t.Fatalf("Read after Close: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Read still waits after Close")
	}
	if _, err := p.conn.Write(stunFrame(0, 0)); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("Write after Close: %v", err)
	}
	l := p.conn.loop
	l.mu.Lock()
	left := len(l.members)
	l.mu.Unlock()
	if left != 0 {
		t.Fatalf("%d members left in the loop", left)
	}
	if err := p.client.SetReadDeadline(time.Now().Add(10 * time.Second)); err != nil {
		t.Fatal(err)
	}
	if n, err := p.client.Read(make([]byte, 8)); err != io.EOF {
		t.Fatalf("client read %d bytes, %v; want io.EOF", n, err)
	}
}
