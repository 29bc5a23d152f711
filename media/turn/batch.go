package turn

import (
	"net"
	"sync"

	"golang.org/x/net/ipv4"
)

// pion reads the listener and each relay socket one datagram per
// ReadFrom, a system call each. Under load a socket's queue holds several
// datagrams at once: batchReader takes them with one recvmmsg and hands
// them out one per ReadFrom, which pion calls as before.

// Datagrams per batch: the listener carries every client's traffic, a relay
// socket one allocation's peers'. A relay socket's buffers take 16 KiB, so
// DefaultMaxAllocations of them 16 MB.
const (
	listenerBatch = 32
	relayBatch    = 8
)

// batchBufSize holds any datagram pion would relay whole: pion reads into
// 1600-byte buffers and drops or truncates what fills them, and a copy into
// its buffer truncates the same way.
const batchBufSize = 2048

// batchReader reads a UDP socket a batch at a time.
type batchReader struct {
	mu     sync.Mutex // pion reads from one goroutine; this keeps it safe for more
	pc     *ipv4.PacketConn
	msgs   []ipv4.Message
	next   int         // next message to hand out
	n      int         // messages read into msgs
	writes *writeGroup // what is written while a batch is handed out; may be nil
}

// newBatchReader returns a batchReader for conn, or nil when conn is not a
// UDP socket. ipv4's ReadBatch is recvmmsg with room for any socket
// address, so it reads IPv6 and dual-stack sockets as well. The writes
// queued in writes (nil for none) are sent before each read.
func newBatchReader(conn net.PacketConn, size int, writes *writeGroup) *batchReader {
	uc, ok := conn.(*net.UDPConn)
	if !ok {
		return nil
	}
	msgs := make([]ipv4.Message, size)
	buf := make([]byte, size*batchBufSize)
	for i := range msgs {
		msgs[i].Buffers = [][]byte{buf[i*batchBufSize : (i+1)*batchBufSize : (i+1)*batchBufSize]}
	}
	return &batchReader{pc: ipv4.NewPacketConn(uc), msgs: msgs, writes: writes}
}

// ReadFrom copies the next datagram into p; it reads the socket only when
// the last batch is used up, after sending what its handling queued.
func (r *batchReader) ReadFrom(p []byte) (int, net.Addr, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for r.next == r.n {
		r.writes.end()
		n, err := r.pc.ReadBatch(r.msgs, 0)
		if err != nil {
			return 0, nil, err
		}
		r.next, r.n = 0, n
		r.writes.begin()
	}
	m := &r.msgs[r.next]
	r.next++
	return copy(p, m.Buffers[0][:m.N]), m.Addr, nil
}
