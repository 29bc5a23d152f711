package turn

import (
	"encoding/binary"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
)

// Once a client has bound a channel (RFC 8656 §12), its traffic is
// ChannelData both ways, and for each datagram pion does little the relay
// could not do cheaper: it copies it out of the socket's buffer, decodes
// it, looks up the allocation and the channel under locks, formats debug
// arguments it then drops, and towards the client allocates a new message
// per datagram and copies the data into it. The UDP listener's
// allocations keep a copy of their channel bindings instead, kept by
// pion's own channel events (OnChannelCreated when a binding is made,
// OnChannelDeleted when it expires or its allocation ends; a refresh
// changes neither), and the event loop (loop_linux.go) relays ChannelData
// itself, where recvmmsg put it:
//
//   - a ChannelData message from a client on a bound channel: its data is
//     queued to the relay socket, towards the channel's peer, without
//     copying it;
//   - a datagram from a bound peer: the ChannelData header is written in
//     the four bytes kept free before it, it is padded as pion pads it,
//     and queued to the listener, towards the client.
//
// Everything else (requests, Send and Data indications, ChannelData on a
// number pion does not know, datagrams pion would truncate, datagrams
// from peers with no channel) goes to pion as before. A binding is used
// only while pion has it: pion reports the deletion before it removes the
// binding, and an allocation's bindings go with its relay socket.

// A passFunc sees each datagram the loop reads, where recvmmsg put it,
// and reports whether it dealt with it (relayed or discarded it); the
// others go to pion. The datagram is frame[chanHeader:]; frame's first
// chanHeader bytes, and the room up to its capacity, are free. frame stays
// unchanged until the sends queued while the loop works through its batch
// have left.
type passFunc func(frame []byte, from netip.AddrPort) bool

// batchBufSize holds any datagram pion would relay whole: pion reads into
// 1600-byte buffers and drops or truncates what fills them.
const batchBufSize = 2048

// A batch slot keeps chanHeader bytes of room before the datagram and as
// many after it, so a datagram from a peer becomes a padded ChannelData
// message where it lies.
const slotSize = chanHeader + batchBufSize + chanHeader

// chanHeader is the size of a ChannelData header: channel number and
// length, two bytes each.
const chanHeader = 4

// pionMTU is the size of the buffers pion reads datagrams into, on the
// listener and on each relay socket; it truncates larger ones. Those are
// left to pion, so what arrives is what pion would relay.
const pionMTU = 1600

// channelTable is an allocation's channel bindings, as pion reported
// them. A table is never changed once published: a change makes a new one.
type channelTable struct {
	client   sockaddr  // the allocation's client, as the UDP listener sends to it
	conn     *loopConn // or the client's TCP connection (tcp_linux.go)
	byNumber map[uint16]*boundChannel
	byPeer   map[netip.AddrPort]*boundChannel
}

// without returns a copy of t (nil: no binding) without number's binding.
func (t *channelTable) without(number uint16) *channelTable {
	out := &channelTable{byNumber: map[uint16]*boundChannel{}, byPeer: map[netip.AddrPort]*boundChannel{}}
	if t == nil {
		return out
	}
	out.client, out.conn = t.client, t.conn
	for n, ch := range t.byNumber {
		if n != number {
			out.byNumber[n] = ch
		}
	}
	for p, ch := range t.byPeer {
		if ch.number != number {
			out.byPeer[p] = ch
		}
	}
	return out
}

// boundChannel is one binding of a channel number to a peer.
type boundChannel struct {
	number uint16
	peer   sockaddr // as the relay socket sends to it
}

// bindChannel records a binding pion has made, if the peer filter allows
// its peer (the screen refuses a bind to any other, so pion never makes
// one; one it did would stay with pion, whose writes the socket filters)
// and the sockets can reach both ends. The client is the UDP listener's
// client at client, or the TCP connection the allocation was made on.
func (c *relayPacketConn) bindChannel(client net.Addr, number uint16, peer net.Addr) {
	ap, ok := addrPortOf(peer)
	if !ok || c.deps.filter.checkUDP(ap) != "" || c.sock == nil {
		return
	}
	peerSA, ok := makeSockaddr(ap, c.sock.family)
	if !ok {
		return
	}
	var clientSA sockaddr
	if c.tcpClient == nil {
		cl, ok := addrPortOf(client)
		if !ok || c.listener == nil {
			return
		}
		if clientSA, ok = makeSockaddr(cl, c.listener.family); !ok {
			return
		}
	}
	c.chanMu.Lock()
	defer c.chanMu.Unlock()
	if c.chansClosed {
		return
	}
	t := c.chans.Load().without(number)
	t.client, t.conn = clientSA, c.tcpClient
	ch := &boundChannel{number: number, peer: peerSA}
	t.byNumber[number] = ch
	t.byPeer[peerKey(ap)] = ch
	c.chans.Store(t)
}

// unbindChannel forgets the binding of number, which pion is deleting.
func (c *relayPacketConn) unbindChannel(number uint16) {
	c.chanMu.Lock()
	defer c.chanMu.Unlock()
	old := c.chans.Load()
	if old == nil || old.byNumber[number] == nil {
		return
	}
	c.chans.Store(old.without(number))
}

// closeChannels forgets every binding, for good: the relay socket is
// closing.
func (c *relayPacketConn) closeChannels() {
	c.chanMu.Lock()
	c.chansClosed = true
	c.chans.Store(nil)
	c.chanMu.Unlock()
}

// channelState is the part of relayPacketConn this file keeps.
type channelState struct {
	chanMu      sync.Mutex // serialises changes to chans
	chansClosed bool
	chans       atomic.Pointer[channelTable] // nil: no binding

	// Datagrams relayed past pion, towards the peers and the client.
	passedToPeer, passedToClient atomic.Int64
}

// peerKey is a peer's address as the tables key it: IPv4-mapped
// addresses as IPv4, as the filter sees them.
func peerKey(ap netip.AddrPort) netip.AddrPort {
	return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
}

// passToPeer relays a ChannelData message a client sent on a bound channel;
// it is the UDP listener's passFunc.
func (r *clientRoutes) passToPeer(frame []byte, from netip.AddrPort) bool {
	d := frame[chanHeader:]
	if len(d) < chanHeader || d[0]&0xc0 != 0x40 || len(d) > pionMTU {
		return false
	}
	conn := r.lookupAddrPort(from)
	return conn != nil && conn.relayToPeer(d)
}

// relayToPeer queues the data of d, a ChannelData message of c's client,
// to the peer of its channel, if it is bound; d stays unchanged until the
// loop's queues are sent.
func (c *relayPacketConn) relayToPeer(d []byte) bool {
	if c.sock == nil {
		return false
	}
	t := c.chans.Load()
	if t == nil {
		return false
	}
	ch := t.byNumber[binary.BigEndian.Uint16(d[0:2])]
	size := int(binary.BigEndian.Uint16(d[2:4]))
	if ch == nil || chanHeader+size > len(d) {
		return false
	}
	c.sock.queue(d[chanHeader:chanHeader+size], &ch.peer)
	c.passedToPeer.Add(1)
	c.deps.metrics.packetsToPeer.Inc()
	c.deps.metrics.bytesToPeer.Add(float64(size))
	return true
}

// pass sees each datagram the relay socket reads: it discards those from
// peers the filter refuses and relays those from a peer with a bound
// channel to the client; pion gets the rest.
func (c *relayPacketConn) pass(frame []byte, from netip.AddrPort) bool {
	if c.refusedAddrPort(stageReceive, from) != "" {
		return true
	}
	n := len(frame) - chanHeader
	t := c.chans.Load()
	if t == nil || n > pionMTU {
		return false
	}
	ch := t.byPeer[peerKey(from)]
	if ch == nil {
		return false
	}
	binary.BigEndian.PutUint16(frame[0:2], ch.number)
	binary.BigEndian.PutUint16(frame[2:4], uint16(n)) //nolint:gosec // n <= pionMTU
	for len(frame)%4 != 0 {                           // padded as pion pads it
		frame = append(frame, 0) // within the slot's room: no allocation
	}
	if t.conn != nil {
		t.conn.queue(frame)
	} else {
		c.listener.queue(frame, &t.client)
	}
	c.passedToClient.Add(1)
	c.deps.metrics.packetsToClient.Inc()
	c.deps.metrics.bytesToClient.Add(float64(n))
	return true
}

// directCounts returns how many datagrams c relayed past pion, towards its
// peers and towards its client.
func (c *relayPacketConn) directCounts() (toPeer, toClient int) {
	return int(c.passedToPeer.Load()), int(c.passedToClient.Load())
}
