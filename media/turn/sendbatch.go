package turn

import (
	"net"
	"net/netip"
	"sync"

	"golang.org/x/net/ipv4"

	"siteline/media/internal/udpbatch"
)

// pion writes every datagram it relays with a WriteTo of its own, one
// sendto each: at saturation that is most of the relay's time
// (docs/benchmarks.md). The datagrams a reading goroutine relays while it
// works through one recvmmsg batch (batch.go) are queued per destination
// socket instead, and leave with one sendmmsg per socket when that
// goroutine has used up its batch and is about to block for the next one,
// or when a queue is full. A datagram thus waits no longer than the rest
// of the batch it arrived in.
//
// Two of pion's goroutines write what it relays, each right after the
// ReadFrom that brought the datagram in:
//
//   - the UDP listener's read loop writes each client's datagram to the
//     relay socket of the client's allocation; those queues belong to the
//     listener's batch;
//   - each allocation's read loop writes what its peers send to the
//     listener, towards its client; that queue belongs to the allocation's
//     batch. Several allocations write to the one listener socket, each
//     through a queue of its own, which pion's WriteTo on the listener
//     finds by the client's address (clientRoutes); only relayed data
//     takes it, not pion's answers to requests (isRelayedData).
//
// A write made while its queue's reader is not working through a batch
// (blocked in recvmmsg, or gone) goes to the socket at once, as before.

// sendBatch is the number of datagrams a queue holds before it is sent
// without waiting for the end of the batch. A relay socket's reader hands
// out at most relayBatch datagrams per batch; the listener's listenerBatch
// spread over its clients' relay sockets.
const sendBatch = 16

// writeGroup is the set of queues one reading goroutine fills while it
// works through a batch, flushed when that batch is done. Its methods
// accept a nil group, which never queues.
type writeGroup struct {
	mu     sync.Mutex
	active bool           // a batch is being worked through: writes queue
	closed bool           // the reader is gone: writes never queue again
	dirty  []*batchWriter // writers with a queue, in the order they got it
}

// begin marks the start of a batch: writes queue from now on.
func (g *writeGroup) begin() {
	if g == nil {
		return
	}
	g.mu.Lock()
	g.active = !g.closed
	g.mu.Unlock()
}

// end sends every queued datagram and lets writes go to the socket at once
// until the next begin. The reader calls it before it blocks.
func (g *writeGroup) end() {
	if g == nil {
		return
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	g.active = false
	for i, w := range g.dirty {
		w.sendLocked()
		w.q.release()
		w.q = nil
		g.dirty[i] = nil
	}
	g.dirty = g.dirty[:0]
}

// close ends the batch for good: the reader will not come back to flush,
// as when pion's read loop of an allocation has returned.
func (g *writeGroup) close() {
	if g == nil {
		return
	}
	g.mu.Lock()
	g.closed = true
	g.mu.Unlock()
	g.end()
}

// sendQueue is the room for one queue's datagrams: the messages and their
// buffers, batchBufSize bytes each.
type sendQueue struct {
	msgs []ipv4.Message
	bufs [][]byte
	n    int // queued: msgs[:n]
	pool *sync.Pool
}

// newSendQueues returns the pool a Server's queues are taken from: a queue
// is in use only while its batch is worked through, so the memory follows
// the batches in progress, not the number of allocations.
func newSendQueues() *sync.Pool {
	p := &sync.Pool{}
	p.New = func() any {
		q := &sendQueue{msgs: make([]ipv4.Message, sendBatch), bufs: make([][]byte, sendBatch), pool: p}
		buf := make([]byte, sendBatch*batchBufSize)
		for i := range q.bufs {
			q.bufs[i] = buf[i*batchBufSize : (i+1)*batchBufSize : (i+1)*batchBufSize]
			q.msgs[i].Buffers = make([][]byte, 1)
		}
		return q
	}
	return p
}

func (q *sendQueue) release() {
	q.n = 0
	q.pool.Put(q)
}

// batchWriter is one socket as one writeGroup writes to it.
type batchWriter struct {
	conn   net.PacketConn // for writes outside a batch
	bc     udpbatch.Batcher
	group  *writeGroup
	queues *sync.Pool
	drop   func(error) // counts a datagram the system refused

	// Guarded by group.mu.
	q      *sendQueue // nil when nothing is queued
	sent   int        // datagrams sent with bc, for tests
	direct int        // datagrams queued by queueRef, for tests
}

// WriteTo queues p for addr while the group's batch is worked through and
// reports it written; otherwise it writes p at once. A failure to send a
// queued datagram is counted, not returned: pion would only log it.
func (w *batchWriter) WriteTo(p []byte, addr net.Addr) (int, error) {
	g := w.group
	g.mu.Lock()
	if !g.active || len(p) > batchBufSize {
		if w.q != nil {
			w.sendLocked() // what was queued goes first
		}
		g.mu.Unlock()
		return w.conn.WriteTo(p, addr)
	}
	if w.q == nil {
		w.q = w.queues.Get().(*sendQueue)
		g.dirty = append(g.dirty, w)
	}
	q := w.q
	m := &q.msgs[q.n]
	m.Buffers[0] = q.bufs[q.n][:copy(q.bufs[q.n], p)]
	m.Addr = addr
	q.n++
	if q.n == len(q.msgs) {
		w.sendLocked()
	}
	g.mu.Unlock()
	return len(p), nil
}

// queueRef queues b itself, not a copy, while the group's batch is worked
// through: b must stay unchanged until the batch ends (a datagram in the
// batch a read loop is handing out). Outside a batch it writes b at once.
func (w *batchWriter) queueRef(b []byte, addr net.Addr) {
	g := w.group
	g.mu.Lock()
	if !g.active {
		if w.q != nil {
			w.sendLocked()
		}
		g.mu.Unlock()
		if _, err := w.conn.WriteTo(b, addr); err != nil {
			w.drop(err)
		}
		return
	}
	if w.q == nil {
		w.q = w.queues.Get().(*sendQueue)
		g.dirty = append(g.dirty, w)
	}
	q := w.q
	m := &q.msgs[q.n]
	m.Buffers[0] = b
	m.Addr = addr
	q.n++
	w.direct++
	if q.n == len(q.msgs) {
		w.sendLocked()
	}
	g.mu.Unlock()
}

// sendLocked sends the queued datagrams in order. A WriteBatch that sent
// fewer than it was given is called again for the rest; a datagram the
// system refuses is dropped and counted, and the ones after it are sent.
func (w *batchWriter) sendLocked() {
	q := w.q
	w.sent += udpbatch.WriteAll(w.bc, q.msgs[:q.n], w.drop)
	for i := range q.msgs[:q.n] {
		q.msgs[i].Addr = nil
		q.msgs[i].Buffers[0] = nil // a queueRef'd datagram is the reader's
	}
	q.n = 0
}

// directCount returns how many datagrams queueRef has queued.
func (w *batchWriter) directCount() int {
	w.group.mu.Lock()
	defer w.group.mu.Unlock()
	return w.direct
}

// flush sends what w has queued now, as when its socket is about to close.
func (w *batchWriter) flush() {
	if w == nil {
		return
	}
	w.group.mu.Lock()
	if w.q != nil {
		w.sendLocked()
	}
	w.group.mu.Unlock()
}

// clientRoutes finds the UDP listener's allocations: by relay address
// from the moment the relay socket is made, and by client address once
// pion reports the client (OnAllocationCreated, with the relay address,
// before it reads that socket). pion's WriteTo on the listener finds the
// queue of the allocation whose client a datagram goes to; pion's
// channel events and the listener's ChannelData find the allocation's
// channels (channel.go).
type clientRoutes struct {
	mu      sync.RWMutex
	relays  map[string]*relayPacketConn         // by relay address, until the socket closes
	clients map[netip.AddrPort]*relayPacketConn // by client address

	// What the closed allocations relayed past pion (channel.go), towards
	// peers and towards clients: the tests' view of sockets gone.
	closedToPeer, closedToClient int
}

func newClientRoutes() *clientRoutes {
	return &clientRoutes{
		relays:  make(map[string]*relayPacketConn),
		clients: make(map[netip.AddrPort]*relayPacketConn),
	}
}

// clientKey is addr as the routes key it: IPv4-mapped addresses, which a
// dual-stack listener reads, as IPv4.
func clientKey(addr net.Addr) (netip.AddrPort, bool) {
	ua, ok := addr.(*net.UDPAddr)
	if !ok {
		return netip.AddrPort{}, false
	}
	ap := ua.AddrPort()
	return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port()), true
}

// expect records c, whose client pion has not reported yet.
func (r *clientRoutes) expect(c *relayPacketConn) {
	r.mu.Lock()
	r.relays[c.addr.String()] = c
	r.mu.Unlock()
}

// bind routes what is written to client through the allocation relaying
// on relay.
func (r *clientRoutes) bind(relay, client net.Addr) {
	key, ok := clientKey(client)
	r.mu.Lock()
	defer r.mu.Unlock()
	c := r.relays[relay.String()]
	if c == nil || !ok {
		return
	}
	c.clientAddr = client
	r.clients[key] = c
}

// remove forgets c, whose relay socket is closing.
func (r *clientRoutes) remove(c *relayPacketConn) {
	toPeer, toClient := c.directCounts()
	r.mu.Lock()
	defer r.mu.Unlock()
	r.closedToPeer += toPeer
	r.closedToClient += toClient
	if r.relays[c.addr.String()] == c {
		delete(r.relays, c.addr.String())
	}
	if key, ok := clientKey(c.clientAddr); ok && r.clients[key] == c {
		delete(r.clients, key)
	}
}

// lookup returns the allocation whose client is addr, nil when there is
// none.
func (r *clientRoutes) lookup(addr net.Addr) *relayPacketConn {
	if r == nil {
		return nil
	}
	key, ok := clientKey(addr)
	if !ok {
		return nil
	}
	r.mu.RLock()
	c := r.clients[key]
	r.mu.RUnlock()
	return c
}

// relay returns the allocation relaying on relay once its client is
// known, nil otherwise, with that client's address.
func (r *clientRoutes) relay(relay net.Addr) (*relayPacketConn, net.Addr) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	c := r.relays[relay.String()]
	if c == nil || c.clientAddr == nil {
		return nil, nil
	}
	return c, c.clientAddr
}

// udpBatching is what a UDP listener's allocations batch their writes
// with.
type udpBatching struct {
	listener net.PacketConn   // the socket, for writes outside a batch
	bc       udpbatch.Batcher // the socket's sendmmsg
	reads    *writeGroup      // the listener's read loop's batch
	routes   *clientRoutes
	queues   *sync.Pool
}
