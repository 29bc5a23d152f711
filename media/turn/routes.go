package turn

import (
	"net"
	"net/netip"
	"sync"
)

// clientRoutes finds the allocations whose relay sockets the event loop
// reads: by relay address from the moment the relay socket is made, and
// by client once pion reports the client (OnAllocationCreated, with the
// relay address, before it reads that socket): a UDP listener's client by
// its address, a TCP client by its connection. pion's channel events and
// the clients' ChannelData find the allocation's channels with it
// (channel.go).
type clientRoutes struct {
	mu      sync.RWMutex
	relays  map[string]*relayPacketConn         // by relay address, until the socket closes
	clients map[netip.AddrPort]*relayPacketConn // by the UDP client's address
	conns   map[netip.AddrPort]*loopConn        // the loop's TCP connections, by client address

	// What the closed allocations relayed past pion (channel.go), towards
	// peers and towards clients: the tests' view of sockets gone.
	closedToPeer, closedToClient int
}

func newClientRoutes() *clientRoutes {
	return &clientRoutes{
		relays:  make(map[string]*relayPacketConn),
		clients: make(map[netip.AddrPort]*relayPacketConn),
		conns:   make(map[netip.AddrPort]*loopConn),
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
	r.mu.Lock()
	defer r.mu.Unlock()
	c := r.relays[relay.String()]
	if c == nil {
		return
	}
	if ta, ok := client.(*net.TCPAddr); ok {
		conn := r.conns[tcpKey(ta)]
		if conn == nil {
			return
		}
		c.clientAddr, c.tcpClient = client, conn
		conn.alloc.Store(c)
		return
	}
	if key, ok := clientKey(client); ok {
		c.clientAddr = client
		r.clients[key] = c
	}
}

// tcpKey is a TCP client's address as the routes key it.
func tcpKey(a *net.TCPAddr) netip.AddrPort {
	ap := a.AddrPort()
	return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
}

// addConn records a TCP connection the loop reads, whose allocation pion
// will report.
func (r *clientRoutes) addConn(conn *loopConn) {
	if ta, ok := conn.RemoteAddr().(*net.TCPAddr); ok {
		r.mu.Lock()
		r.conns[tcpKey(ta)] = conn
		r.mu.Unlock()
	}
}

// forgetConn forgets a closed TCP connection.
func (r *clientRoutes) forgetConn(conn *loopConn) {
	if ta, ok := conn.RemoteAddr().(*net.TCPAddr); ok {
		r.mu.Lock()
		if r.conns[tcpKey(ta)] == conn {
			delete(r.conns, tcpKey(ta))
		}
		r.mu.Unlock()
	}
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
	if c.tcpClient != nil {
		c.tcpClient.alloc.CompareAndSwap(c, nil)
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
