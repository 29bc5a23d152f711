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
// could not do cheaper: it copies it out of the batch, decodes it, looks
// up the allocation and the channel under locks, formats debug arguments
// it then drops, and towards the client allocates a new message per
// datagram and copies the data into it. The UDP listener's allocations
// keep a copy of their channel bindings instead, kept by pion's own
// channel events (OnChannelCreated when a binding is made, OnChannelDeleted
// when it expires or its allocation ends; a refresh changes neither), and
// relay ChannelData in the read loops themselves, where the batch holds
// it:
//
//   - the listener's read loop queues the data of a ChannelData message on
//     a bound channel to the relay socket's batch, towards the channel's
//     peer, without copying it;
//   - an allocation's read loop writes the ChannelData header in the four
//     bytes kept free before a bound peer's datagram, pads it as pion does,
//     and queues it to the listener's batch, towards the client.
//
// Everything else (requests, Send and Data indications, ChannelData on a
// number pion does not know, datagrams pion would truncate, datagrams
// from peers with no channel) goes to pion as before. A binding is used
// only while pion has it: pion reports the deletion before it removes the
// binding, and an allocation's bindings go with its relay socket.

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
	client   net.Addr // the allocation's client, as pion writes to it
	byNumber map[uint16]*boundChannel
	byPeer   map[netip.AddrPort]*boundChannel
}

// without returns a copy of t (nil: no binding) without number's binding.
func (t *channelTable) without(number uint16) *channelTable {
	out := &channelTable{byNumber: map[uint16]*boundChannel{}, byPeer: map[netip.AddrPort]*boundChannel{}}
	if t == nil {
		return out
	}
	out.client = t.client
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
	peer   net.Addr // as pion has it, for the relay socket's writes
}

// bindChannel records a binding pion has made, if the peer filter allows
// its peer (the screen refuses a bind to any other, so pion never makes
// one; one it did would stay with pion, whose writes the socket filters).
func (c *relayPacketConn) bindChannel(client net.Addr, number uint16, peer net.Addr) {
	ap, ok := addrPortOf(peer)
	if !ok || c.deps.filter.checkUDP(ap) != "" {
		return
	}
	c.chanMu.Lock()
	defer c.chanMu.Unlock()
	if c.chansClosed {
		return
	}
	t := c.chans.Load().without(number)
	t.client = client
	ch := &boundChannel{number: number, peer: peer}
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
}

// peerKey is a peer's address as the tables key it: IPv4-mapped
// addresses as IPv4, as the filter sees them.
func peerKey(ap netip.AddrPort) netip.AddrPort {
	return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
}

// passToPeer relays a ChannelData message a client sent on a bound channel,
// from the listener's batch; frame and from are as a passFunc gets them.
func (c *screenedPacketConn) passToPeer(frame []byte, from net.Addr) bool {
	d := frame[chanHeader:]
	if len(d) < chanHeader || d[0]&0xc0 != 0x40 || len(d) > pionMTU {
		return false
	}
	conn := c.routes.lookup(from)
	if conn == nil || conn.toPeer == nil {
		return false
	}
	t := conn.chans.Load()
	if t == nil {
		return false
	}
	ch := t.byNumber[binary.BigEndian.Uint16(d[0:2])]
	size := int(binary.BigEndian.Uint16(d[2:4]))
	if ch == nil || chanHeader+size > len(d) {
		return false
	}
	conn.toPeer.queueRef(d[chanHeader:chanHeader+size], ch.peer)
	conn.deps.metrics.packetsToPeer.Inc()
	conn.deps.metrics.bytesToPeer.Add(float64(size))
	return true
}

// pass sees each datagram the relay socket reads: it discards those from
// peers the filter refuses and relays those from a peer with a bound
// channel to the client; pion gets the rest.
func (c *relayPacketConn) pass(frame []byte, from net.Addr) bool {
	if !c.fromAllowed(from) {
		return true
	}
	n := len(frame) - chanHeader
	t := c.chans.Load()
	if t == nil || n > pionMTU {
		return false
	}
	ap, _ := addrPortOf(from) // allowed, so an address
	ch := t.byPeer[peerKey(ap)]
	if ch == nil {
		return false
	}
	binary.BigEndian.PutUint16(frame[0:2], ch.number)
	binary.BigEndian.PutUint16(frame[2:4], uint16(n)) //nolint:gosec // n <= pionMTU
	for len(frame)%4 != 0 {                           // padded as pion pads it
		frame = append(frame, 0) // within the slot's room: no allocation
	}
	c.toClient.queueRef(frame, t.client)
	c.deps.metrics.packetsToClient.Inc()
	c.deps.metrics.bytesToClient.Add(float64(n))
	return true
}

// directCounts returns how many datagrams c relayed past pion, towards its
// peers and towards its client.
func (c *relayPacketConn) directCounts() (toPeer, toClient int) {
	if c.toPeer == nil {
		return 0, 0
	}
	return c.toPeer.directCount(), c.toClient.directCount()
}
