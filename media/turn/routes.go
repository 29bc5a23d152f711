package turn

import (
	"net"
	"net/netip"
	"sync"
)

// clientRoutes finds the UDP listener's allocations: by relay address
// from the moment the relay socket is made, and by client address once
// pion reports the client (OnAllocationCreated, with the relay address,
// before it reads that socket). pion's channel events and the listener's
// ChannelData find the allocation's channels with it (channel.go).
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

// lookupAddrPort returns the allocation whose client is addr, nil when
// there is none.
func (r *clientRoutes) lookupAddrPort(addr netip.AddrPort) *relayPacketConn {
	key := netip.AddrPortFrom(addr.Addr().Unmap(), addr.Port())
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
