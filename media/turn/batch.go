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

// A batch slot keeps chanHeader bytes of room before the datagram and as
// many after it, so a datagram from a peer becomes a padded ChannelData
// message where it lies (channel.go).
const slotSize = chanHeader + batchBufSize + chanHeader

// A passFunc sees each datagram where the batch holds it, before ReadFrom
// would copy it out, and reports whether it dealt with it (relayed or
// discarded it); ReadFrom skips those. The datagram is frame[chanHeader:];
// frame's first chanHeader bytes, and the room up to its capacity, are
// free. frame stays unchanged until the writes queued while the batch is
// handed out have been sent.
type passFunc func(frame []byte, from net.Addr) bool

// batchReader reads a UDP socket a batch at a time.
type batchReader struct {
	mu     sync.Mutex // pion reads from one goroutine; this keeps it safe for more
	pc     *ipv4.PacketConn
	msgs   []ipv4.Message
	slots  [][]byte    // msgs[i] is read into slots[i][chanHeader:]
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
	slots := make([][]byte, size)
	buf := make([]byte, size*slotSize)
	for i := range msgs {
		slots[i] = buf[i*slotSize : (i+1)*slotSize : (i+1)*slotSize]
		msgs[i].Buffers = [][]byte{slots[i][chanHeader : chanHeader+batchBufSize : chanHeader+batchBufSize]}
	}
	return &batchReader{pc: ipv4.NewPacketConn(uc), msgs: msgs, slots: slots, writes: writes}
}

// ReadFrom copies the next datagram into p; it reads the socket only when
// the last batch is used up, after sending what its handling queued.
func (r *batchReader) ReadFrom(p []byte) (int, net.Addr, error) {
	return r.readFrom(p, nil)
}

// readFrom is ReadFrom that first shows each datagram to pass, when not
// nil, and hands out only those pass leaves.
func (r *batchReader) readFrom(p []byte, pass passFunc) (int, net.Addr, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for {
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
		frame := r.slots[r.next][:chanHeader+m.N]
		r.next++
		if pass != nil && pass(frame, m.Addr) {
			continue
		}
		return copy(p, frame[chanHeader:]), m.Addr, nil
	}
}
