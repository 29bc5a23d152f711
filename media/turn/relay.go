package turn

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sync"

	"github.com/pion/turn/v5"
)

// Errors returned to pion by the relay hooks; pion turns them into TURN
// error responses or drops the datagram.
var (
	// ErrQuota means an allocation would exceed a quota.
	ErrQuota = errors.New("allocation quota reached")
	// ErrPeerRefused means the peer filter refused a destination.
	ErrPeerRefused = errors.New("peer refused")
	// ErrClosed means the server is shutting down or shut down.
	ErrClosed = errors.New("turn server closed")
)

// relayDeps is what the relay sockets need from the Server.
type relayDeps struct {
	filter  *peerFilter
	quotas  *quotas
	metrics *metrics
	log     *slog.Logger
}

func (d *relayDeps) refusePeer(stage, reason string, peer net.Addr) {
	d.metrics.peerRefused.WithLabelValues(stage, reason).Inc()
	if d.log.Enabled(context.Background(), slog.LevelDebug) {
		d.log.Debug("turn peer refused", "stage", stage, "reason", reason, "peer", peer)
	}
}

// relayGenerator wraps one of pion's relay address generators: it takes a
// quota slot per relay socket and returns sockets that filter peers and
// count what they relay.
type relayGenerator struct {
	inner turn.RelayAddressGenerator
	deps  *relayDeps
	loop  *relayLoop // nil: pion alone reads the relay sockets
}

// relayLoop is what a listener's allocations are relayed with: the event
// loop, the UDP listener's socket in it (nil for the TCP listener's
// allocations, whose clients the routes find by connection), and the
// allocations by client.
type relayLoop struct {
	loop     *eventLoop
	listener *loopSocket
	routes   *clientRoutes
}

var _ turn.RelayAddressGenerator = (*relayGenerator)(nil)

// Validate implements turn.RelayAddressGenerator.
func (g *relayGenerator) Validate() error {
	return g.inner.Validate()
}

// acquire takes a quota slot for the credential user pion hands over (the
// grant, as authenticate returned it).
func (g *relayGenerator) acquire(userID string) (Grant, error) {
	grant, ok := parseGrant(userID)
	if !ok {
		return Grant{}, fmt.Errorf("allocate for %q: not a grant", userID)
	}
	if reason := g.deps.quotas.acquire(grant); reason != "" {
		g.deps.metrics.refused.WithLabelValues(reason).Inc()
		if reason == refusedShutdown {
			return Grant{}, fmt.Errorf("allocate for %q: %w", userID, ErrClosed)
		}
		return Grant{}, fmt.Errorf("allocate for %q: %s: %w", userID, reason, ErrQuota)
	}
	return grant, nil
}

// AllocatePacketConn implements turn.RelayAddressGenerator.
func (g *relayGenerator) AllocatePacketConn(conf turn.AllocateListenerConfig) (net.PacketConn, net.Addr, error) {
	if conf.UserID == "" && conf.Realm == "" && conf.RequestedPort == 0 {
		// pion's probe for an EVEN-PORT request (RFC 8656 section 14.6;
		// its allocation Manager's GetRandomEvenPort): a socket opened to
		// learn a free port number and closed at once, after the request's
		// credentials were checked, with no user. It takes no quota slot and
		// relays nothing; the allocation on the port it finds takes the
		// slot. Every allocation pion makes carries its request's user.
		return g.inner.AllocatePacketConn(conf)
	}
	grant, err := g.acquire(conf.UserID)
	if err != nil {
		return nil, nil, err
	}
	conn, addr, err := g.inner.AllocatePacketConn(conf)
	if err != nil {
		g.deps.quotas.release(grant, nil)
		g.deps.metrics.refused.WithLabelValues(refusedRelayError).Inc()
		return nil, nil, fmt.Errorf("allocate %s relay for %q: %w", conf.Network, conf.UserID, err)
	}
	c := &relayPacketConn{PacketConn: conn, deps: g.deps, grant: grant, addr: addr}
	if g.loop != nil {
		c.join(g.loop)
	}
	g.deps.quotas.track(c, grant)
	return c, addr, nil
}

// AllocateListener implements turn.RelayAddressGenerator.
func (g *relayGenerator) AllocateListener(conf turn.AllocateListenerConfig) (net.Listener, net.Addr, error) {
	grant, err := g.acquire(conf.UserID)
	if err != nil {
		return nil, nil, err
	}
	ln, addr, err := g.inner.AllocateListener(conf)
	if err != nil {
		g.deps.quotas.release(grant, nil)
		g.deps.metrics.refused.WithLabelValues(refusedRelayError).Inc()
		return nil, nil, fmt.Errorf("allocate %s relay for %q: %w", conf.Network, conf.UserID, err)
	}
	l := &relayListener{Listener: ln, deps: g.deps, grant: grant}
	g.deps.quotas.track(l, grant)
	return l, addr, nil
}

// AllocateConn implements turn.RelayAddressGenerator: the outbound TCP
// connection of an RFC 6062 Connect request.
func (g *relayGenerator) AllocateConn(conf turn.AllocateConnConfig) (net.Conn, error) {
	ap, ok := addrPortOf(conf.RemoteAddr)
	reason := reasonInvalid
	if ok {
		reason = g.deps.filter.checkTCP(ap)
	}
	if reason != "" {
		g.deps.refusePeer(stageConnect, reason, conf.RemoteAddr)
		return nil, fmt.Errorf("connect %s for %q: %s: %w", conf.RemoteAddr, conf.UserID, reason, ErrPeerRefused)
	}
	conn, err := g.inner.AllocateConn(conf)
	if err != nil {
		return nil, fmt.Errorf("connect %s for %q: %w", conf.RemoteAddr, conf.UserID, err)
	}
	return &relayConn{Conn: conn, deps: g.deps}, nil
}

// relayPacketConn is the relay socket of a UDP allocation.
type relayPacketConn struct {
	net.PacketConn
	deps  *relayDeps
	grant Grant
	addr  net.Addr // the relay address
	once  sync.Once

	// For a client the event loop reads, the socket in the loop (which is
	// then PacketConn too), the UDP listener's socket (for its clients)
	// and the routes that find c; nil otherwise.
	sock     *loopSocket
	listener *loopSocket
	routes   *clientRoutes

	// The client, once pion reports it, and its connection for a client
	// over TCP; guarded by routes.mu.
	clientAddr net.Addr
	tcpClient  *loopConn

	channelState // the channel bindings, relayed past pion (channel.go)
}

// join moves c's socket into the event loop, which relays what its bound
// channels carry (channel.go) and hands pion the rest; when the loop
// cannot take it, pion reads the socket alone.
func (c *relayPacketConn) join(u *relayLoop) {
	sock, err := u.loop.adopt(c.PacketConn, c.pass, c.dropFunc(dirClientToPeer))
	if err != nil {
		c.deps.log.Warn("turn relay socket read without the event loop", "relay", c.addr, "err", err)
		return
	}
	c.PacketConn, c.sock, c.listener, c.routes = sock, sock, u.listener, u.routes
	c.routes.expect(c)
}

// dropFunc counts the queued datagrams the system refused to send.
func (c *relayPacketConn) dropFunc(dir string) func(error) {
	return dropCounter(c.deps, dir, c.addr)
}

// dropCounter counts, as going in direction dir, the datagrams a socket
// of the loop was refused to send.
func dropCounter(deps *relayDeps, dir string, sock net.Addr) func(error) {
	counter := deps.metrics.sendFailed.WithLabelValues(dir)
	return func(err error) {
		counter.Inc()
		deps.log.Debug("turn send failed", "socket", sock, "direction", dir, "err", err)
	}
}

// WriteTo sends a client's datagram to a peer, if the filter allows it.
func (c *relayPacketConn) WriteTo(p []byte, addr net.Addr) (int, error) {
	if reason := c.refused(stageSend, addr); reason != "" {
		return 0, fmt.Errorf("relay to %s: %s: %w", addr, reason, ErrPeerRefused)
	}
	n, err := c.PacketConn.WriteTo(p, addr)
	if n > 0 {
		c.deps.metrics.packetsToPeer.Inc()
		c.deps.metrics.bytesToPeer.Add(float64(n))
	}
	return n, err
}

// ReadFrom returns the next datagram from an allowed peer, discarding the
// others. In the loop, what a bound channel's peer sends has gone to the
// client already, and the refused peers' datagrams are gone (channel.go).
func (c *relayPacketConn) ReadFrom(p []byte) (int, net.Addr, error) {
	for {
		n, addr, err := c.PacketConn.ReadFrom(p)
		if err != nil {
			return n, addr, err
		}
		if !c.fromAllowed(addr) {
			continue
		}
		c.deps.metrics.packetsToClient.Inc()
		c.deps.metrics.bytesToClient.Add(float64(n))
		return n, addr, nil
	}
}

// fromAllowed reports whether the filter allows a datagram from addr, and
// counts it refused when not.
func (c *relayPacketConn) fromAllowed(addr net.Addr) bool {
	return c.refused(stageReceive, addr) == ""
}

// refused returns why the filter refuses peer at stage, counting the
// refusal, or "" when it allows it.
func (c *relayPacketConn) refused(stage string, peer net.Addr) string {
	ap, ok := addrPortOf(peer)
	if !ok {
		c.deps.refusePeer(stage, reasonInvalid, peer)
		return reasonInvalid
	}
	return c.refusedAddrPort(stage, ap)
}

// refusedAddrPort is refused for an address the loop read.
func (c *relayPacketConn) refusedAddrPort(stage string, peer netip.AddrPort) string {
	reason := c.deps.filter.checkUDP(peer)
	if reason != "" {
		c.deps.refusePeer(stage, reason, net.UDPAddrFromAddrPort(peer))
	}
	return reason
}

// Close closes the socket and gives back its quota slot. Only the first
// call does anything: a revoked allocation's socket is closed again by
// pion, whose allocation manager stops closing the others at the first
// error it gets at shutdown.
func (c *relayPacketConn) Close() error {
	var err error
	c.once.Do(func() {
		c.closeChannels()
		err = c.PacketConn.Close()
		if c.routes != nil {
			c.routes.remove(c)
		}
		c.deps.quotas.release(c.grant, c)
	})
	return err
}

// relayListener is the relay listener of a TCP allocation (RFC 6062).
type relayListener struct {
	net.Listener
	deps  *relayDeps
	grant Grant
	once  sync.Once
}

// Accept returns the next connection from an allowed peer, closing the
// others.
func (l *relayListener) Accept() (net.Conn, error) {
	for {
		conn, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		ap, ok := addrPortOf(conn.RemoteAddr())
		reason := reasonInvalid
		if ok {
			reason = l.deps.filter.checkTCP(ap)
		}
		if reason != "" {
			l.deps.refusePeer(stageAccept, reason, conn.RemoteAddr())
			_ = conn.Close()
			continue
		}
		return &relayConn{Conn: conn, deps: l.deps}, nil
	}
}

// Close closes the listener and gives back its quota slot; only the
// first call does anything, as for relayPacketConn.
func (l *relayListener) Close() error {
	var err error
	l.once.Do(func() {
		err = l.Listener.Close()
		l.deps.quotas.release(l.grant, l)
	})
	return err
}

// relayConn is a TCP connection to a peer of a TCP allocation; it counts
// what it relays.
type relayConn struct {
	net.Conn
	deps *relayDeps
}

// Read counts bytes from the peer.
func (c *relayConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if n > 0 {
		c.deps.metrics.packetsToClient.Inc()
		c.deps.metrics.bytesToClient.Add(float64(n))
	}
	return n, err
}

// Write counts bytes to the peer.
func (c *relayConn) Write(p []byte) (int, error) {
	n, err := c.Conn.Write(p)
	if n > 0 {
		c.deps.metrics.packetsToPeer.Inc()
		c.deps.metrics.bytesToPeer.Add(float64(n))
	}
	return n, err
}

// connTracker is a listener of client connections (TCP or TLS beneath)
// that remembers them, so Shutdown can close the ones pion leaves open.
type connTracker struct {
	net.Listener
	// adopt, when set before the listener is used, replaces each
	// accepted connection (by one the event loop reads).
	adopt func(net.Conn) net.Conn

	mu     sync.Mutex
	conns  map[*trackedConn]struct{}
	closed bool
}

func newConnTracker(ln net.Listener) *connTracker {
	return &connTracker{Listener: ln, conns: make(map[*trackedConn]struct{})}
}

// Accept implements net.Listener.
func (t *connTracker) Accept() (net.Conn, error) {
	conn, err := t.Listener.Accept()
	if err != nil {
		return nil, err
	}
	if t.adopt != nil {
		conn = t.adopt(conn)
	}
	tc := &trackedConn{Conn: conn, t: t}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		_ = conn.Close()
		return nil, net.ErrClosed
	}
	t.conns[tc] = struct{}{}
	return tc, nil
}

// closeConns closes the listener's open connections and refuses new ones.
func (t *connTracker) closeConns() {
	t.mu.Lock()
	t.closed = true
	conns := make([]*trackedConn, 0, len(t.conns))
	for c := range t.conns {
		conns = append(conns, c)
	}
	t.mu.Unlock()
	for _, c := range conns {
		_ = c.Close()
	}
}

type trackedConn struct {
	net.Conn
	t    *connTracker
	once sync.Once
}

func (c *trackedConn) Close() error {
	c.once.Do(func() {
		c.t.mu.Lock()
		delete(c.t.conns, c)
		c.t.mu.Unlock()
	})
	return c.Conn.Close()
}
