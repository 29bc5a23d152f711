package turn

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
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

// quotas counts live relay sockets per credential user and in total.
type quotas struct {
	maxUser, maxTotal int

	mu      sync.Mutex
	perUser map[string]int
	total   int
	closed  bool
	drained chan struct{} // closed once closed and total == 0
}

func newQuotas(maxUser, maxTotal int) *quotas {
	return &quotas{
		maxUser:  maxUser,
		maxTotal: maxTotal,
		perUser:  make(map[string]int),
		drained:  make(chan struct{}),
	}
}

// check reports why one more allocation for user would be refused, or "".
func (q *quotas) check(user string) string {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.checkLocked(user)
}

func (q *quotas) checkLocked(user string) string {
	switch {
	case q.closed:
		return refusedShutdown
	case q.perUser[user] >= q.maxUser:
		return refusedUserQuota
	case q.total >= q.maxTotal:
		return refusedTotalQuota
	}
	return ""
}

// acquire takes a slot for user, or reports why it cannot.
func (q *quotas) acquire(user string) string {
	q.mu.Lock()
	defer q.mu.Unlock()
	if reason := q.checkLocked(user); reason != "" {
		return reason
	}
	q.perUser[user]++
	q.total++
	return ""
}

// release gives back a slot taken by acquire.
func (q *quotas) release(user string) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.perUser[user]--; q.perUser[user] <= 0 {
		delete(q.perUser, user)
	}
	q.total--
	if q.closed && q.total == 0 {
		close(q.drained)
	}
}

// close refuses further slots; drained is closed when the last is released.
func (q *quotas) close() {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closed {
		return
	}
	q.closed = true
	if q.total == 0 {
		close(q.drained)
	}
}

func (q *quotas) count() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.total
}

func (q *quotas) userCount(user string) int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.perUser[user]
}

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
}

var _ turn.RelayAddressGenerator = (*relayGenerator)(nil)

// Validate implements turn.RelayAddressGenerator.
func (g *relayGenerator) Validate() error {
	return g.inner.Validate()
}

func (g *relayGenerator) acquire(user string) error {
	if reason := g.deps.quotas.acquire(user); reason != "" {
		g.deps.metrics.refused.WithLabelValues(reason).Inc()
		if reason == refusedShutdown {
			return fmt.Errorf("allocate for %q: %w", user, ErrClosed)
		}
		return fmt.Errorf("allocate for %q: %s: %w", user, reason, ErrQuota)
	}
	return nil
}

// AllocatePacketConn implements turn.RelayAddressGenerator.
func (g *relayGenerator) AllocatePacketConn(conf turn.AllocateListenerConfig) (net.PacketConn, net.Addr, error) {
	if err := g.acquire(conf.UserID); err != nil {
		return nil, nil, err
	}
	conn, addr, err := g.inner.AllocatePacketConn(conf)
	if err != nil {
		g.deps.quotas.release(conf.UserID)
		g.deps.metrics.refused.WithLabelValues(refusedRelayError).Inc()
		return nil, nil, fmt.Errorf("allocate %s relay for %q: %w", conf.Network, conf.UserID, err)
	}
	return &relayPacketConn{PacketConn: conn, deps: g.deps, user: conf.UserID}, addr, nil
}

// AllocateListener implements turn.RelayAddressGenerator.
func (g *relayGenerator) AllocateListener(conf turn.AllocateListenerConfig) (net.Listener, net.Addr, error) {
	if err := g.acquire(conf.UserID); err != nil {
		return nil, nil, err
	}
	ln, addr, err := g.inner.AllocateListener(conf)
	if err != nil {
		g.deps.quotas.release(conf.UserID)
		g.deps.metrics.refused.WithLabelValues(refusedRelayError).Inc()
		return nil, nil, fmt.Errorf("allocate %s relay for %q: %w", conf.Network, conf.UserID, err)
	}
	return &relayListener{Listener: ln, deps: g.deps, user: conf.UserID}, addr, nil
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
	deps *relayDeps
	user string
	once sync.Once
}

// WriteTo sends a client's datagram to a peer, if the filter allows it.
func (c *relayPacketConn) WriteTo(p []byte, addr net.Addr) (int, error) {
	ap, ok := addrPortOf(addr)
	reason := reasonInvalid
	if ok {
		reason = c.deps.filter.checkUDP(ap)
	}
	if reason != "" {
		c.deps.refusePeer(stageSend, reason, addr)
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
// others.
func (c *relayPacketConn) ReadFrom(p []byte) (int, net.Addr, error) {
	for {
		n, addr, err := c.PacketConn.ReadFrom(p)
		if err != nil {
			return n, addr, err
		}
		ap, ok := addrPortOf(addr)
		reason := reasonInvalid
		if ok {
			reason = c.deps.filter.checkUDP(ap)
		}
		if reason != "" {
			c.deps.refusePeer(stageReceive, reason, addr)
			continue
		}
		c.deps.metrics.packetsToClient.Inc()
		c.deps.metrics.bytesToClient.Add(float64(n))
		return n, addr, nil
	}
}

// Close closes the socket and gives back its quota slot.
func (c *relayPacketConn) Close() error {
	err := c.PacketConn.Close()
	c.once.Do(func() { c.deps.quotas.release(c.user) })
	return err
}

// relayListener is the relay listener of a TCP allocation (RFC 6062).
type relayListener struct {
	net.Listener
	deps *relayDeps
	user string
	once sync.Once
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

// Close closes the listener and gives back its quota slot.
func (l *relayListener) Close() error {
	err := l.Listener.Close()
	l.once.Do(func() { l.deps.quotas.release(l.user) })
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
