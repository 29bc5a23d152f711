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
	for i := range q.msgs[:q.n] {
		q.msgs[i].Addr = nil
	}
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
	q    *sendQueue // nil when nothing is queued
	sent int        // datagrams sent with bc, for tests
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

// sendLocked sends the queued datagrams in order. A WriteBatch that sent
// fewer than it was given is called again for the rest; a datagram the
// system refuses is dropped and counted, and the ones after it are sent.
func (w *batchWriter) sendLocked() {
	q := w.q
	w.sent += udpbatch.WriteAll(w.bc, q.msgs[:q.n], w.drop)
	for i := range q.msgs[:q.n] {
		q.msgs[i].Addr = nil
	}
	q.n = 0
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

// clientRoutes finds the queue of the allocation whose client a datagram
// written to the UDP listener goes to. pion reports the client of a new
// allocation after the relay socket is made (OnAllocationCreated, with
// the relay address), and before that socket is read.
type clientRoutes struct {
	mu      sync.RWMutex
	pending map[string]*batchWriter         // by relay address, until pion reports the client
	clients map[netip.AddrPort]*batchWriter // by client address
	keys    map[*batchWriter]netip.AddrPort
}

func newClientRoutes() *clientRoutes {
	return &clientRoutes{
		pending: make(map[string]*batchWriter),
		clients: make(map[netip.AddrPort]*batchWriter),
		keys:    make(map[*batchWriter]netip.AddrPort),
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

// expect records w as the writer of the allocation relaying on relay.
func (r *clientRoutes) expect(relay net.Addr, w *batchWriter) {
	r.mu.Lock()
	r.pending[relay.String()] = w
	r.mu.Unlock()
}

// bind routes what is written to client through the writer of the
// allocation relaying on relay.
func (r *clientRoutes) bind(relay, client net.Addr) {
	key, ok := clientKey(client)
	r.mu.Lock()
	defer r.mu.Unlock()
	w := r.pending[relay.String()]
	if w == nil {
		return
	}
	delete(r.pending, relay.String())
	if ok {
		r.clients[key] = w
		r.keys[w] = key
	}
}

// remove forgets w, whose relay socket is closing.
func (r *clientRoutes) remove(relay net.Addr, w *batchWriter) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.pending[relay.String()] == w {
		delete(r.pending, relay.String())
	}
	if key, ok := r.keys[w]; ok {
		if r.clients[key] == w {
			delete(r.clients, key)
		}
		delete(r.keys, w)
	}
}

// lookup returns the writer for addr, nil when there is none.
func (r *clientRoutes) lookup(addr net.Addr) *batchWriter {
	if r == nil {
		return nil
	}
	key, ok := clientKey(addr)
	if !ok {
		return nil
	}
	r.mu.RLock()
	w := r.clients[key]
	r.mu.RUnlock()
	return w
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
