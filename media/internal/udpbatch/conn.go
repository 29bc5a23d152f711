package udpbatch

import (
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/net/ipv4"
)

// Conn is a UDP socket that several goroutines write to, sending what
// they write while another write is in progress with one sendmmsg, as a
// database commits a group of transactions with one disk write.
//
// A write that finds no other in progress sends its datagram at once,
// with one sendto as before, and then, while it holds the turn, sends
// what the others queued meanwhile, a batch at a time, until nothing is
// left. A write that finds one in progress copies its datagram into the
// queue and returns. So an idle socket sends at once and adds no
// goroutine, and a busy one sends with fewer system calls, each batch
// holding what piled up during the last one.
//
// A goroutine that is about to write several datagrams in a row can Hold
// the socket around them: they queue, with whatever others write
// meanwhile, and leave with one sendmmsg at its Release. Any Release, or a
// full queue, sends what is queued, so a write made during another's Hold
// waits for no more than that.
//
// Each writer's datagrams leave in the order it wrote them: the queue is
// sent in order, and a write finds the queue empty when it sends at once.
// A queued datagram the system refuses is dropped and counted (Dropped),
// not returned to its writer, which was told it was written.
type Conn struct {
	conn *net.UDPConn
	b    Batcher

	mu      sync.Mutex
	room    sync.Cond // signalled when the queue is swapped out
	sending bool      // a writer holds the turn: others queue
	holds   int       // Holds not yet released: writes queue
	queue   *batch    // filled while a writer holds the turn
	spare   *batch    // the batch the turn's holder sends; nil while it does

	dropped atomic.Uint64
	batches atomic.Uint64 // sendmmsg batches sent
	batched atomic.Uint64 // datagrams sent in them
}

// maxQueue is the number of datagrams the queue holds; a writer that
// finds it full waits for the sending writer to take it, as it would wait
// on a full socket buffer.
const maxQueue = 64

// New returns conn, wrapped in a Conn when it is a UDP socket of a system
// with sendmmsg (Linux); otherwise conn itself, whose writes stay one
// system call each.
func New(conn net.PacketConn) net.PacketConn {
	b := NewBatcher(conn)
	if b == nil {
		return conn
	}
	return newConn(conn.(*net.UDPConn), b)
}

func newConn(conn *net.UDPConn, b Batcher) *Conn {
	c := &Conn{conn: conn, b: b, queue: newBatch(), spare: newBatch()}
	c.room.L = &c.mu
	return c
}

// WriteToAddrPort sends p to addr, or queues a copy of it when another
// write is in progress or a Hold is. It is the write pion's ICE UDP mux
// makes on a socket that has it (ice.AddrPortReaderWriter).
func (c *Conn) WriteToAddrPort(p []byte, addr netip.AddrPort) (int, error) {
	c.mu.Lock()
	for c.sending || c.holds > 0 {
		if c.queue.len() < maxQueue {
			c.queue.add(p, addr)
			c.mu.Unlock()
			return len(p), nil
		}
		if !c.sending {
			// Full under a Hold: send it now rather than wait for Release.
			c.sending = true
			c.mu.Unlock()
			c.sendQueued()
			c.mu.Lock()
			continue
		}
		c.room.Wait()
	}
	// Nothing is queued (sendQueued empties the queue before it gives the
	// turn up, and Release before the last Hold ends), so p goes first.
	c.sending = true
	c.mu.Unlock()

	n, err := c.conn.WriteToUDPAddrPort(p, addr)
	c.sendQueued()
	return n, err
}

// Hold makes writes queue until the matching Release: a goroutine about to
// write several datagrams (one packet to each of a track's subscribers)
// holds the socket around them so that they leave with one system call.
// Writes from other goroutines queue meanwhile too, and leave with them.
// A nil Conn holds nothing.
func (c *Conn) Hold() {
	if c == nil {
		return
	}
	c.mu.Lock()
	c.holds++
	c.mu.Unlock()
}

// Release ends a Hold and sends what was queued, unless another write is
// in progress, which then sends it.
func (c *Conn) Release() {
	if c == nil {
		return
	}
	c.mu.Lock()
	c.holds--
	if c.sending || c.queue.len() == 0 {
		c.mu.Unlock()
		return
	}
	c.sending = true
	c.mu.Unlock()
	c.sendQueued()
}

// WriteTo is WriteToAddrPort for a *net.UDPAddr; other addresses go to
// the socket at once.
func (c *Conn) WriteTo(p []byte, addr net.Addr) (int, error) {
	ua, ok := addr.(*net.UDPAddr)
	if !ok {
		return c.conn.WriteTo(p, addr)
	}
	return c.WriteToAddrPort(p, ua.AddrPort())
}

// sendQueued sends what was queued while the caller held the turn, then
// gives the turn up.
func (c *Conn) sendQueued() {
	c.mu.Lock()
	for c.queue.len() > 0 {
		b := c.queue
		c.queue, c.spare = c.spare, nil
		c.room.Broadcast()
		c.mu.Unlock()

		sent := WriteAll(c.b, b.msgs, c.drop)
		c.batches.Add(1)
		c.batched.Add(uint64(sent))
		b.reset()

		c.mu.Lock()
		c.spare = b
	}
	c.sending = false
	c.room.Broadcast()
	c.mu.Unlock()
}

func (c *Conn) drop(error) { c.dropped.Add(1) }

// Dropped returns the number of queued datagrams the system refused.
func (c *Conn) Dropped() uint64 { return c.dropped.Load() }

// Batches returns the number of batches of queued datagrams sent, and the
// number of datagrams sent in them.
func (c *Conn) Batches() (batches, datagrams uint64) {
	return c.batches.Load(), c.batched.Load()
}

// ReadFromAddrPort, ReadFrom and the rest pass through to the socket.

func (c *Conn) ReadFromAddrPort(p []byte) (int, netip.AddrPort, error) {
	return c.conn.ReadFromUDPAddrPort(p)
}

func (c *Conn) ReadFrom(p []byte) (int, net.Addr, error) { return c.conn.ReadFrom(p) }

func (c *Conn) Close() error                       { return c.conn.Close() }
func (c *Conn) LocalAddr() net.Addr                { return c.conn.LocalAddr() }
func (c *Conn) SetDeadline(t time.Time) error      { return c.conn.SetDeadline(t) }
func (c *Conn) SetReadDeadline(t time.Time) error  { return c.conn.SetReadDeadline(t) }
func (c *Conn) SetWriteDeadline(t time.Time) error { return c.conn.SetWriteDeadline(t) }

// batch is room for maxQueue datagrams: the messages, the copies of the
// datagrams and their addresses, kept from one batch to the next.
type batch struct {
	msgs  []ipv4.Message // queued: the first len(msgs) of maxQueue
	bufs  [][]byte
	addrs []net.UDPAddr
	ips   [][16]byte
}

func newBatch() *batch {
	b := &batch{
		msgs:  make([]ipv4.Message, 0, maxQueue),
		bufs:  make([][]byte, maxQueue),
		addrs: make([]net.UDPAddr, maxQueue),
		ips:   make([][16]byte, maxQueue),
	}
	for i := range b.msgs[:maxQueue] {
		b.msgs[:maxQueue][i].Buffers = make([][]byte, 1)
	}
	return b
}

func (b *batch) len() int { return len(b.msgs) }

// add queues a copy of p for addr, in memory the batch keeps: an IPv4 or
// IPv4-mapped address as 4 bytes, so that it is sent as AF_INET.
func (b *batch) add(p []byte, addr netip.AddrPort) {
	i := len(b.msgs)
	b.msgs = b.msgs[:i+1]
	b.bufs[i] = append(b.bufs[i][:0], p...)
	ua := &b.addrs[i]
	ip := addr.Addr()
	b.ips[i] = ip.As16()
	if ip.Is4() || ip.Is4In6() {
		ua.IP = b.ips[i][12:16]
		ua.Zone = ""
	} else {
		ua.IP = b.ips[i][:]
		ua.Zone = ip.Zone()
	}
	ua.Port = int(addr.Port())
	m := &b.msgs[i]
	m.Buffers[0] = b.bufs[i]
	m.Addr = ua
}

func (b *batch) reset() {
	for i := range b.msgs {
		b.msgs[i].N = 0
	}
	b.msgs = b.msgs[:0]
}
