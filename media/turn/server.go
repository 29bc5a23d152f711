package turn

import (
	"context"
	"crypto/hmac"
	"crypto/sha1" //nolint:gosec // TURN REST credentials are HMAC-SHA1 by definition.
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/pion/stun/v4"
	"github.com/pion/turn/v5"
	"github.com/prometheus/client_golang/prometheus"
)

// Addrs are the addresses a started Server listens on; nil when that
// listener is off.
type Addrs struct {
	UDP *net.UDPAddr
	TCP *net.TCPAddr
	TLS *net.TCPAddr
}

// Server is the node's TURN relay. Build it with New, open its ports with
// Start and close them with Shutdown. It is safe for concurrent use.
type Server struct {
	cfg     Config
	log     *slog.Logger
	metrics *metrics
	quotas  *quotas
	secret  []byte

	mu      sync.Mutex
	started bool
	stopped bool
	stop    chan struct{} // closed by Shutdown; ends the recheck loop
	loop    sync.WaitGroup
	turn    *turn.Server
	udp     net.PacketConn
	tcp     *connTracker
	tls     *connTracker
	addrs   Addrs
	events  *eventLoop    // reads the UDP listener, TCP clients and their allocations; nil without
	routes  *clientRoutes // the allocations in the loop; nil without
}

// New validates cfg, applies its defaults and registers the metrics. It
// opens no port: Start does.
func New(cfg Config) (*Server, error) {
	cfg = cfg.withDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Registerer == nil {
		cfg.Registerer = prometheus.NewRegistry()
	}
	// Copy what the caller could change under us.
	cfg.Secret = append([]byte(nil), cfg.Secret...)
	cfg.RelayIP = append(net.IP(nil), cfg.RelayIP...)
	cfg.AllowedPeers = append([]netip.Prefix(nil), cfg.AllowedPeers...)
	cfg.AllowedPeerAddrs = append([]netip.AddrPort(nil), cfg.AllowedPeerAddrs...)
	cfg.AllowedTCPPeerAddrs = append([]netip.AddrPort(nil), cfg.AllowedTCPPeerAddrs...)
	cfg.OwnIPs = append([]netip.Addr(nil), cfg.OwnIPs...)

	s := &Server{
		cfg:    cfg,
		log:    cfg.Logger.With("component", "turn"),
		quotas: newQuotas(cfg.MaxAllocationsPerUser, cfg.MaxAllocationsPerOrg, cfg.MaxAllocations),
		secret: cfg.Secret,
	}
	m, err := newMetrics(cfg.Registerer, func() float64 { return float64(s.quotas.count()) })
	if err != nil {
		return nil, err
	}
	s.metrics = m
	return s, nil
}

// Start opens the listeners and starts relaying. A Server starts once.
func (s *Server) Start(ctx context.Context) (err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.stopped:
		return fmt.Errorf("start turn: %w", ErrClosed)
	case s.started:
		return errors.New("start turn: already started")
	}

	var lc net.ListenConfig
	defer func() {
		if err != nil {
			s.closeListeners()
		}
	}()
	if s.cfg.ListenUDP != "" {
		pc, err := lc.ListenPacket(ctx, "udp", s.cfg.ListenUDP)
		if err != nil {
			return fmt.Errorf("start turn: listen udp %s: %w", s.cfg.ListenUDP, err)
		}
		s.udp = pc
		s.addrs.UDP, _ = pc.LocalAddr().(*net.UDPAddr)
	}
	if s.cfg.ListenTCP != "" {
		ln, err := lc.Listen(ctx, "tcp", s.cfg.ListenTCP)
		if err != nil {
			return fmt.Errorf("start turn: listen tcp %s: %w", s.cfg.ListenTCP, err)
		}
		s.tcp = newConnTracker(ln)
		s.addrs.TCP, _ = ln.Addr().(*net.TCPAddr)
	}
	if s.cfg.ListenTLS != "" {
		ln, err := lc.Listen(ctx, "tcp", s.cfg.ListenTLS)
		if err != nil {
			return fmt.Errorf("start turn: listen tls %s: %w", s.cfg.ListenTLS, err)
		}
		s.tls = newConnTracker(ln)
		s.addrs.TLS, _ = ln.Addr().(*net.TCPAddr)
	}

	own, err := s.ownAddrs()
	if err != nil {
		return fmt.Errorf("start turn: %w", err)
	}
	if err := s.checkAllowedAddrs(); err != nil {
		return fmt.Errorf("start turn: %w", err)
	}
	deps := &relayDeps{
		filter:  newPeerFilter(s.cfg.AllowedPeers, s.cfg.AllowedPeerAddrs, s.cfg.AllowedTCPPeerAddrs, own),
		quotas:  s.quotas,
		metrics: s.metrics,
		log:     s.log,
	}
	gen := &relayGenerator{inner: s.innerGenerator(), deps: deps}
	permit := func(client net.Addr, peer net.IP) bool {
		reason := deps.filter.checkIP(ipOf(peer))
		if reason != "" {
			deps.refusePeer(stagePermission, reason, &net.IPAddr{IP: peer})
			return false
		}
		return true
	}

	sc := turn.ServerConfig{
		Realm:              s.cfg.Realm,
		LoggerFactory:      pionLogs(s.log),
		AuthHandler:        s.authenticate,
		QuotaHandler:       s.checkQuota,
		ChannelBindTimeout: s.cfg.channelLifetime,
		EventHandler: turn.EventHandler{
			OnAuth:              s.onAuth,
			OnAllocationCreated: s.onAllocationCreated,
			OnAllocationDeleted: s.onAllocationDeleted,
			OnChannelCreated:    s.onChannelCreated,
			OnChannelDeleted:    s.onChannelDeleted,
		},
	}
	// Channel binds are refused with 403, port included, before pion
	// sees them (screen.go).
	scr := &screen{s: s, deps: deps}
	s.startLoop()
	if s.udp != nil {
		pc, udpGen := s.udpListener(scr, gen)
		sc.PacketConnConfigs = append(sc.PacketConnConfigs, turn.PacketConnConfig{
			PacketConn: pc, RelayAddressGenerator: udpGen, PermissionHandler: permit,
		})
	}
	if s.tcp != nil {
		tcpGen := gen
		if s.events != nil {
			s.tcp.adopt = adoptTCP(s.events, s.routes, dropCounter(deps, dirPeerToClient, s.addrs.TCP), s.log)
			tcpGen = &relayGenerator{inner: gen.inner, deps: deps, loop: &relayLoop{loop: s.events, routes: s.routes}}
		}
		sc.ListenerConfigs = append(sc.ListenerConfigs, turn.ListenerConfig{
			Listener: &screenedListener{Listener: s.tcp, sc: scr}, RelayAddressGenerator: tcpGen, PermissionHandler: permit,
		})
	}
	if s.tls != nil {
		sc.ListenerConfigs = append(sc.ListenerConfigs, turn.ListenerConfig{
			Listener:              &screenedListener{Listener: tls.NewListener(s.tls, s.cfg.TLSConfig), sc: scr},
			RelayAddressGenerator: gen, PermissionHandler: permit,
		})
	}
	ts, err := turn.NewServer(sc)
	if err != nil {
		return fmt.Errorf("start turn: %w", err)
	}
	s.turn = ts
	s.started = true
	if s.cfg.CheckGrant != nil {
		s.stop = make(chan struct{})
		s.loop.Add(1)
		go s.recheckLoop(s.stop)
	}
	s.log.Info("turn relay started", "udp", s.addrs.UDP, "tcp", s.addrs.TCP, "tls", s.addrs.TLS,
		"relay_ip", s.cfg.RelayIP, "realm", s.cfg.Realm)
	return nil
}

// startLoop starts the event loop that reads the UDP listener, the plain
// TCP clients' connections and their allocations' relay sockets
// (loop_linux.go, tcp_linux.go); where the system has none, pion reads
// them all.
func (s *Server) startLoop() {
	if s.udp == nil && s.tcp == nil {
		return
	}
	loop, err := newEventLoop()
	if err != nil {
		s.log.Warn("turn relay without its event loop", "err", err)
		return
	}
	s.events, s.routes = loop, newClientRoutes()
}

// udpListener returns the UDP listener as pion uses it and the generator
// of its allocations: read by the event loop, which relays bound channels
// itself (channel.go), or by pion alone without the loop.
func (s *Server) udpListener(scr *screen, gen *relayGenerator) (*screenedPacketConn, *relayGenerator) {
	if s.events == nil {
		return &screenedPacketConn{PacketConn: s.udp, sc: scr}, gen
	}
	sock, err := s.events.adopt(s.udp, s.routes.passToPeer, dropCounter(gen.deps, dirPeerToClient, s.addrs.UDP))
	if err != nil {
		s.log.Warn("turn UDP listener read without the event loop", "err", err)
		return &screenedPacketConn{PacketConn: s.udp, sc: scr}, gen
	}
	s.udp = sock
	u := &relayLoop{loop: s.events, listener: sock, routes: s.routes}
	return &screenedPacketConn{PacketConn: sock, sc: scr}, &relayGenerator{inner: gen.inner, deps: gen.deps, loop: u}
}

// adoptTCP returns the TCP listener's hook that moves each client's
// connection into the loop; one the loop cannot take stays with pion.
func adoptTCP(loop *eventLoop, routes *clientRoutes, drop func(error), log *slog.Logger) func(net.Conn) net.Conn {
	return func(conn net.Conn) net.Conn {
		tc, ok := conn.(*net.TCPConn)
		if !ok {
			return conn
		}
		lc, err := loop.adoptConn(tc, drop, routes.forgetConn)
		if err != nil {
			log.Warn("turn client connection read without the event loop", "client", conn.RemoteAddr(), "err", err)
			return conn
		}
		routes.addConn(lc)
		return lc
	}
}

// innerGenerator is pion's generator for the configured relay ports.
func (s *Server) innerGenerator() turn.RelayAddressGenerator {
	if s.cfg.PortMin == 0 {
		return &turn.RelayAddressGeneratorStatic{RelayAddress: s.cfg.RelayIP, Address: s.cfg.RelayBindIP}
	}
	return &turn.RelayAddressGeneratorPortRange{
		RelayAddress: s.cfg.RelayIP,
		Address:      s.cfg.RelayBindIP,
		MinPort:      uint16(s.cfg.PortMin), //nolint:gosec // Validate bounds it to 1-65535.
		MaxPort:      uint16(s.cfg.PortMax), //nolint:gosec // Validate bounds it to 1-65535.
		MaxRetries:   64,
	}
}

// ownAddrs lists the node's own addresses: configured, bound and those of
// its interfaces.
func (s *Server) ownAddrs() ([]netip.Addr, error) {
	var own []netip.Addr
	add := func(ip net.IP) {
		if a := ipOf(ip); a.IsValid() && !a.Unmap().IsUnspecified() {
			own = append(own, a)
		}
	}
	add(s.cfg.RelayIP)
	for _, a := range s.cfg.OwnIPs {
		add(net.IP(a.AsSlice()))
	}
	add(net.ParseIP(s.cfg.RelayBindIP))
	for _, a := range append(s.listenAddrs("udp"), s.listenAddrs("tcp")...) {
		add(net.IP(a.Addr().AsSlice()))
	}
	ifaddrs, err := net.InterfaceAddrs()
	if err != nil {
		return nil, fmt.Errorf("list interface addresses: %w", err)
	}
	for _, a := range ifaddrs {
		if ipn, ok := a.(*net.IPNet); ok {
			add(ipn.IP)
		}
	}
	return own, nil
}

// listenAddrs lists the relay's own listeners on one transport: "udp", or
// "tcp" for the TCP and TLS listeners.
func (s *Server) listenAddrs(transport string) []netip.AddrPort {
	var out []netip.AddrPort
	if transport == "udp" && s.addrs.UDP != nil {
		out = append(out, s.addrs.UDP.AddrPort())
	}
	if transport == "tcp" && s.addrs.TCP != nil {
		out = append(out, s.addrs.TCP.AddrPort())
	}
	if transport == "tcp" && s.addrs.TLS != nil {
		out = append(out, s.addrs.TLS.AddrPort())
	}
	return out
}

// checkAllowedAddrs refuses an allowed exact address that is one of the
// relay's own listeners on the transport the list opens (UDP relays reach
// AllowedPeerAddrs only, TCP relays AllowedTCPPeerAddrs only): a client
// could loop the relay into itself. A UDP address that shares its number
// with the TCP listener is another socket and stays allowed.
func (s *Server) checkAllowedAddrs() error {
	for _, list := range []struct {
		name      string
		transport string
		addrs     []netip.AddrPort
	}{{"AllowedPeerAddrs", "udp", s.cfg.AllowedPeerAddrs}, {"AllowedTCPPeerAddrs", "tcp", s.cfg.AllowedTCPPeerAddrs}} {
		for i, ap := range list.addrs {
			for _, l := range s.listenAddrs(list.transport) {
				same := ap.Port() == l.Port() &&
					(ap.Addr().Unmap() == l.Addr().Unmap() || l.Addr().Unmap().IsUnspecified())
				if same {
					return fmt.Errorf("%s[%d]: %s is a TURN listener", list.name, i, ap)
				}
			}
		}
	}
	return nil
}

// closeListeners closes what Start opened, when Start fails.
func (s *Server) closeListeners() {
	if s.udp != nil {
		_ = s.udp.Close()
	}
	if s.tcp != nil {
		_ = s.tcp.Close()
	}
	if s.tls != nil {
		_ = s.tls.Close()
	}
	if s.events != nil {
		s.events.close()
	}
	s.udp, s.tcp, s.tls, s.addrs, s.events, s.routes = nil, nil, nil, Addrs{}, nil, nil
}

// Shutdown stops the relay: new allocations are refused, the listeners and
// the clients' TCP and TLS connections are closed, and it waits until every
// relay socket is closed or ctx ends. It may be called more than once.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	s.stopped = true
	ts, tcp, tlsl, events := s.turn, s.tcp, s.tls, s.events
	s.turn = nil
	if s.stop != nil {
		close(s.stop)
		s.stop = nil
	}
	s.mu.Unlock()
	s.loop.Wait()

	s.quotas.close()
	var errs []error
	if ts != nil {
		// Closes the UDP socket and the listeners; pion then closes the
		// allocations of each listener.
		if err := ts.Close(); err != nil {
			errs = append(errs, err)
		}
	}
	for _, t := range []*connTracker{tcp, tlsl} {
		if t != nil {
			t.closeConns()
		}
	}
	select {
	case <-s.quotas.drained:
	case <-ctx.Done():
		errs = append(errs, fmt.Errorf("wait for %d allocations: %w", s.quotas.count(), ctx.Err()))
	}
	if events != nil {
		events.close() // a relay socket still open after ctx stays open, unread
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("shutdown turn: %w", err)
	}
	s.log.Info("turn relay stopped")
	return nil
}

// Addrs returns the addresses the Server listens on, once started.
func (s *Server) Addrs() Addrs {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.addrs
}

// Allocations returns the number of live allocations.
func (s *Server) Allocations() int {
	return s.quotas.count()
}

// UserAllocations returns the number of live allocations of user, in
// every call.
func (s *Server) UserAllocations(user string) int {
	return s.quotas.userCount(user)
}

// OrgAllocations returns the number of live allocations of org.
func (s *Server) OrgAllocations(org string) int {
	return s.quotas.orgCount(org)
}

// Realm returns the TURN realm.
func (s *Server) Realm() string { return s.cfg.Realm }

// Credentials mints TURN REST credentials for g, valid for new
// allocations from now for the configured CredentialTTL: username
// "<unix-expiry>:<org>:<call>:<user>" and password
// base64(HMAC-SHA1(secret, username)), as an RTCIceServer expects them.
// g.User must not be empty (the relay refuses such a username). It works
// before Start and after Shutdown.
func (s *Server) Credentials(g Grant, now time.Time) (username, password string, expires time.Time) {
	expires = time.Unix(now.Add(s.cfg.CredentialTTL).Unix(), 0)
	username = strconv.FormatInt(expires.Unix(), 10) + ":" + g.userPart()
	return username, s.password(username), expires
}

func (s *Server) password(username string) string {
	mac := hmac.New(sha1.New, s.secret)
	mac.Write([]byte(username)) //nolint:errcheck // hash writes do not fail
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

// authenticate is pion's AuthHandler. TURN's long-term mechanism never
// sends the password: the handler returns the key derived from the password
// the username must have, and pion checks the request's MESSAGE-INTEGRITY
// with it (stun's Check compares with hmac.Equal, in constant time). A
// forged password therefore fails there and is reported through onAuth.
//
// The expiry of the username bounds new allocations. The other requests
// (Refresh, CreatePermission, ChannelBind, Connect) need an allocation
// the same 5-tuple and user made while the credentials were valid;
// browsers keep the credentials an allocation was made with, so these
// requests are accepted after the expiry as long as CheckGrant accepts the
// grant, which is asked on every request.
func (s *Server) authenticate(ra *turn.RequestAttributes) (userID string, key []byte, ok bool) {
	user, key, reason, err := s.check(ra.Username, ra.Realm, ra.Method)
	if reason != "" {
		s.metrics.authFailed.WithLabelValues(reason).Inc()
		s.log.Debug("turn auth refused", "reason", reason, "username", ra.Username,
			"realm", ra.Realm, "src", ra.SrcAddr, "method", ra.Method.String(), "err", err)
		return "", nil, false
	}
	return user, key, true
}

// key returns the long-term key of username when authenticate would
// accept it for method, without counting a refusal: the screen
// (screen.go) checks a request's integrity with it before pion sees it.
func (s *Server) key(username, realm string, method stun.Method) ([]byte, bool) {
	_, key, reason, _ := s.check(username, realm, method)
	return key, reason == ""
}

// check decides a username and realm for method: the grant's user and
// the key, or the reason for refusing (and the grant check's error).
func (s *Server) check(username, realm string, method stun.Method) (user string, key []byte, reason string, err error) {
	user, expiry, reason := s.splitUsername(username, realm)
	if reason != "" {
		return "", nil, reason, nil
	}
	expired := expiry < time.Now().Unix()
	if expired && (s.cfg.CheckGrant == nil || method == stun.MethodAllocate) {
		return "", nil, authExpired, nil
	}
	g, ok := parseGrant(user)
	if !ok {
		return "", nil, authMalformed, nil
	}
	if s.cfg.CheckGrant != nil {
		if err := s.cfg.CheckGrant(g); err != nil {
			return "", nil, authRevoked, err
		}
	}
	return user, turn.GenerateAuthKey(username, realm, s.password(username)), "", nil
}

// parseUsername checks a TURN REST username and returns its user, or the
// reason for refusing it.
func (s *Server) parseUsername(username, realm string, now time.Time) (user, reason string) {
	user, expiry, reason := s.splitUsername(username, realm)
	if reason != "" {
		return "", reason
	}
	if expiry < now.Unix() {
		return "", authExpired
	}
	return user, ""
}

// splitUsername checks the form of a TURN REST username and returns its
// user part and expiry (unix seconds), or the reason for refusing it.
func (s *Server) splitUsername(username, realm string) (user string, expiry int64, reason string) {
	if realm != s.cfg.Realm {
		return "", 0, authRealm
	}
	ts, user, found := strings.Cut(username, ":")
	if !found || user == "" || ts == "" || len(ts) > 19 {
		return "", 0, authMalformed
	}
	for _, c := range ts {
		if c < '0' || c > '9' {
			return "", 0, authMalformed
		}
	}
	expiry, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return "", 0, authMalformed
	}
	return user, expiry, ""
}

// onAuth counts the requests whose MESSAGE-INTEGRITY did not match.
func (s *Server) onAuth(src, dst net.Addr, protocol, username, realm, method string, verdict bool) {
	if verdict {
		return
	}
	s.metrics.authFailed.WithLabelValues(authBadIntegrity).Inc()
	s.log.Debug("turn auth refused", "reason", authBadIntegrity, "username", username,
		"realm", realm, "src", src, "method", method)
}

// checkQuota is pion's QuotaHandler: refusing here answers 486.
func (s *Server) checkQuota(user, realm string, src net.Addr) bool {
	g, ok := parseGrant(user)
	if !ok {
		return false
	}
	if reason := s.quotas.check(g); reason != "" {
		s.metrics.refused.WithLabelValues(reason).Inc()
		s.log.Debug("turn allocation refused", "reason", reason, "user", user, "src", src)
		return false
	}
	return true
}

// onAllocationCreated counts the allocation and, for a client of the UDP
// listener, routes what its relay socket sends the client through its
// queue: pion says here which client a relay socket serves, before it
// reads that socket.
func (s *Server) onAllocationCreated(src, dst net.Addr, protocol, user, realm string, relay net.Addr, requestedPort int) {
	s.metrics.created.Inc()
	if s.routes != nil {
		s.routes.bind(relay, src)
	}
	s.log.Debug("turn allocation created", "user", user, "src", src, "relay", relay, "protocol", protocol)
}

// onChannelCreated gives the binding pion has made to the allocation's
// copy, for the UDP listener's allocations (channel.go). pion calls it
// holding the allocation's lock on its bindings.
func (s *Server) onChannelCreated(src, dst net.Addr, protocol, user, realm string, relay, peer net.Addr, number uint16) {
	if s.routes == nil {
		return
	}
	if c, client := s.routes.relay(relay); c != nil {
		c.bindChannel(client, number, peer)
	}
}

// onChannelDeleted takes the binding pion is about to remove out of the
// allocation's copy: pion calls it before the removal.
func (s *Server) onChannelDeleted(src, dst net.Addr, protocol, user, realm string, relay, peer net.Addr, number uint16) {
	if s.routes == nil {
		return
	}
	if c, _ := s.routes.relay(relay); c != nil {
		c.unbindChannel(number)
	}
}

func (s *Server) onAllocationDeleted(src, dst net.Addr, protocol, user, realm string) {
	s.log.Debug("turn allocation deleted", "user", user, "src", src, "protocol", protocol)
}

// Revoke closes the live allocations whose grant matches (those of an
// ended call, say) and returns how many it closed. Closing a relay socket
// makes pion delete its allocation; the client learns it when its next
// request fails.
func (s *Server) Revoke(match func(Grant) bool) int {
	socks := s.quotas.sockets(match)
	for _, sock := range socks {
		_ = sock.Close()
	}
	return len(socks)
}

// Recheck asks CheckGrant about the grant of every live allocation and
// closes the allocations of the grants it refuses; it returns how many it
// closed. The relay does so every RecheckInterval; Recheck does it now.
func (s *Server) Recheck() int {
	if s.cfg.CheckGrant == nil {
		return 0
	}
	closed := 0
	for _, g := range s.quotas.grants() {
		err := s.cfg.CheckGrant(g)
		if err == nil {
			continue
		}
		n := s.Revoke(func(x Grant) bool { return x == g })
		closed += n
		s.log.Info("turn allocations closed", "org", g.Org, "call", g.Call, "user", g.User,
			"allocations", n, "reason", err)
	}
	return closed
}

func (s *Server) recheckLoop(stop <-chan struct{}) {
	defer s.loop.Done()
	tick := time.NewTicker(s.cfg.RecheckInterval)
	defer tick.Stop()
	for {
		select {
		case <-stop:
			return
		case <-tick.C:
			s.Recheck()
		}
	}
}
