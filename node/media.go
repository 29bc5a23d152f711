package node

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"

	"siteline/media/sfu"
	"siteline/media/turn"
	"siteline/node/calls"
	"siteline/storage"
)

// turnSecretFile holds the generated TURN secret when turn.secret is empty.
const turnSecretFile = "turn-secret"

// media is the node's SFU and TURN relay.
type media struct {
	sfu  *sfu.SFU
	turn *turn.Server // nil when every TURN listener is off
	udp  net.Addr
	tcp  net.Addr
}

// startMedia opens the SFU's ICE ports, starts the TURN relay allowed to
// reach exactly those ports, then the SFU.
func (n *Node) startMedia(ctx context.Context) (err error) {
	var lc net.ListenConfig
	// An unspecified address gets one socket per interface (the SFU opens
	// them); a specific one, a single socket opened here.
	m := &media{}
	var udp net.PacketConn
	udpPort := 0
	if ip, port, ok := unspecifiedHostPort(n.cfg.Media.ICEUDP); ok {
		udpPort = port
		m.udp = &net.UDPAddr{IP: ip, Port: port}
	} else {
		if udp, err = lc.ListenPacket(ctx, "udp", n.cfg.Media.ICEUDP); err != nil {
			return fmt.Errorf("media.ice_udp %s: %w", n.cfg.Media.ICEUDP, err)
		}
		m.udp = udp.LocalAddr()
	}
	closeUDP := func() {
		if udp != nil {
			udp.Close()
		}
	}
	var tcp net.Listener
	if n.cfg.Media.ICETCP != "" {
		if tcp, err = lc.Listen(ctx, "tcp", n.cfg.Media.ICETCP); err != nil {
			closeUDP()
			return fmt.Errorf("media.ice_tcp %s: %w", n.cfg.Media.ICETCP, err)
		}
		m.tcp = tcp.Addr()
	}
	m.sfu, err = sfu.New(sfu.Config{
		Logger:          n.log.With("component", "sfu"),
		UDPConn:         udp,
		UDPPort:         udpPort,
		TCPListener:     tcp,
		NAT1To1IPs:      n.cfg.Media.PublicIPs,
		Authorizer:      n.callAuthorizer(ctx),
		Recorder:        n.calls.Recorder(),
		RecordDir:       n.recordDir(), // recording_dir.go
		MaxParticipants: n.cfg.Media.MaxParticipants,
		DirectTimeout:   n.cfg.Media.DirectTimeout,
		OnRecorded:      n.calls.OnRecorded,
		Registerer:      n.reg,
	})
	if err != nil {
		closeUDP()
		if tcp != nil {
			tcp.Close()
		}
		return fmt.Errorf("media: %w", err)
	}
	n.media = m
	n.onStop("media", n.stopMedia)
	defer func() {
		if err != nil {
			// Shutdown of a never-started SFU closes its sockets.
			_ = m.sfu.Shutdown(context.Background())
		}
	}()
	if n.cfg.TURN.enabled() {
		if m.turn, err = n.newTURN(m); err != nil {
			return err
		}
		if err := m.turn.Start(ctx); err != nil {
			return errors.New(turnKeyNames.Replace(err.Error()))
		}
	}
	var relay calls.Relay // a nil *turn.Server is no relay
	if m.turn != nil {
		relay = m.turn
	}
	n.calls.SetMedia(m.sfu, relay)
	if err := m.sfu.Start(); err != nil {
		return fmt.Errorf("start sfu: %w", err)
	}
	if err := n.calls.Resume(ctx); err != nil {
		n.log.Warn("calls left open by the last run stay open", "err", err)
	}
	n.log.Info("media started", "ice_udp", m.udp, "ice_tcp", m.tcp, "turn", m.turnAddrs())
	return nil
}

func (m *media) turnAddrs() any {
	if m.turn == nil {
		return "off"
	}
	return m.turn.Addrs()
}

// stopMedia stops the SFU (ending every call), then the relay.
func (n *Node) stopMedia(ctx context.Context) error {
	var errs []error
	n.calls.StopEnding()
	if err := n.media.sfu.Shutdown(ctx); err != nil {
		errs = append(errs, fmt.Errorf("stop sfu: %w", err))
	}
	n.calls.Wait()
	if n.media.turn != nil {
		if err := n.media.turn.Shutdown(ctx); err != nil {
			errs = append(errs, fmt.Errorf("stop turn: %w", err))
		}
	}
	return errors.Join(errs...)
}

// newTURN builds the relay: UDP relays reach the SFU's ICE UDP port (and
// the configured private ranges and exact addresses), nothing else of the
// node; TCP relays reach no port of the node at all, since every address
// of the node is refused and no exact TCP address is allowed.
func (n *Node) newTURN(m *media) (*turn.Server, error) {
	secret, err := n.turnSecret()
	if err != nil {
		return nil, err
	}
	peers, err := n.cfg.TURN.allowedPeers()
	if err != nil {
		return nil, fmt.Errorf("config turn.allowed_peers: %w", err)
	}
	exact, err := n.cfg.TURN.allowedPeerAddrs()
	if err != nil {
		return nil, fmt.Errorf("config turn.allowed_peer_addrs: %w", err)
	}
	bind, relay := n.relayIPs()
	cfg := turn.Config{
		ListenUDP:        n.cfg.TURN.UDP,
		ListenTCP:        n.cfg.TURN.TCP,
		ListenTLS:        n.cfg.TURN.TLS,
		RelayBindIP:      bind,
		RelayIP:          relay,
		Secret:           secret,
		AllowedPeers:     peers,
		AllowedPeerAddrs: append(sfuPeerAddrs(m, n.cfg.Media.PublicIPs), exact...),
		OwnIPs:           publicIPs(n.cfg.Media.PublicIPs),
		CredentialTTL:    n.cfg.TURN.CredentialTTL,
		CheckGrant:       n.calls.CheckGrant,

		MaxAllocations:        n.cfg.TURN.MaxAllocations,
		MaxAllocationsPerUser: n.cfg.TURN.MaxAllocationsPerUser,
		MaxAllocationsPerOrg:  n.cfg.TURN.MaxAllocationsPerOrg,
		Logger:                n.log,
		Registerer:            n.reg,
	}
	if n.cfg.TURN.TLS != "" {
		if cfg.TLSConfig, err = n.tlsConfig(); err != nil {
			return nil, fmt.Errorf("turn.tls: %w", err)
		}
		cfg.TLSConfig.NextProtos = nil
	}
	srv, err := turn.New(cfg)
	if err != nil {
		return nil, fmt.Errorf("turn: %w", err)
	}
	return srv, nil
}

// relayIPs chooses the address relay sockets bind to and the one
// advertised: the TURN listener's own address when it names one, else
// every interface, advertised as the first public IP or this host's first
// non-loopback address.
func (n *Node) relayIPs() (bind string, relay net.IP) {
	for _, l := range []string{n.cfg.TURN.UDP, n.cfg.TURN.TCP, n.cfg.TURN.TLS} {
		host, _, err := net.SplitHostPort(l)
		if ip := net.ParseIP(host); err == nil && ip != nil && !ip.IsUnspecified() {
			bind, relay = ip.String(), ip
			break
		}
	}
	if len(n.cfg.Media.PublicIPs) > 0 {
		relay = net.ParseIP(strings.TrimSpace(n.cfg.Media.PublicIPs[0]))
	}
	if relay == nil {
		relay = net.IPv4(127, 0, 0, 1)
		if addrs, err := net.InterfaceAddrs(); err == nil {
			for _, a := range addrs {
				if ipn, ok := a.(*net.IPNet); ok && ipn.IP.To4() != nil && ipn.IP.IsGlobalUnicast() {
					relay = ipn.IP
					break
				}
			}
		}
	}
	return bind, relay
}

// sfuPeerAddrs are the addresses UDP relays may reach: the SFU's bound ICE
// UDP port, on its own address when bound to one, else on every
// non-loopback interface address and public IP. Not its ICE TCP port:
// browsers relay over UDP allocations only.
func sfuPeerAddrs(m *media, public []string) []netip.AddrPort {
	a, ok := m.udp.(*net.UDPAddr)
	if !ok {
		return nil
	}
	ap := a.AddrPort()
	if ip := ap.Addr().Unmap(); !ip.IsUnspecified() {
		return []netip.AddrPort{netip.AddrPortFrom(ip, ap.Port())}
	}
	var ips []netip.Addr
	if addrs, err := net.InterfaceAddrs(); err == nil {
		for _, ia := range addrs {
			if ipn, ok := ia.(*net.IPNet); ok {
				if x, ok := netip.AddrFromSlice(ipn.IP); ok && !x.Unmap().IsLoopback() && !x.Unmap().IsLinkLocalUnicast() {
					ips = append(ips, x.Unmap())
				}
			}
		}
	}
	var out []netip.AddrPort
	for _, x := range append(ips, publicIPs(public)...) {
		out = append(out, netip.AddrPortFrom(x, ap.Port()))
	}
	return out
}

// publicIPs parses media.public_ips (validated already).
func publicIPs(list []string) []netip.Addr {
	var out []netip.Addr
	for _, s := range list {
		if x, err := netip.ParseAddr(strings.TrimSpace(s)); err == nil {
			out = append(out, x.Unmap())
		}
	}
	return out
}

// turnSecret returns turn.secret, or the secret generated into the data
// directory on first start (owner-only).
func (n *Node) turnSecret() ([]byte, error) {
	if n.cfg.TURN.Secret != "" {
		return []byte(n.cfg.TURN.Secret), nil
	}
	path := n.cfg.path(turnSecretFile)
	data, err := os.ReadFile(path)
	if err == nil {
		if s := strings.TrimSpace(string(data)); len(s) >= turn.MinSecretLen {
			return []byte(s), nil
		}
		return nil, fmt.Errorf("turn secret %s: shorter than %d bytes", path, turn.MinSecretLen)
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("read turn secret: %w", err)
	}
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return nil, fmt.Errorf("generate turn secret: %w", err)
	}
	s := base64.RawURLEncoding.EncodeToString(b)
	if err := os.WriteFile(path, []byte(s+"\n"), 0o600); err != nil {
		return nil, fmt.Errorf("write turn secret: %w", err)
	}
	return []byte(s), nil
}

// newCalls builds the call service and the ring over the node's store,
// policy, team supervision (the organisation service) and audit log;
// startMedia gives it the SFU and relay.
func (n *Node) newCalls(ctx context.Context) {
	n.ring = calls.NewRingHub(n.store, n.now, n.log)
	n.ring.UsePresence(calls.NewPresence(calls.PresenceConfig{NodeID: n.nodeID, SiteID: n.siteID, Log: n.log.With("component", "presence")}))
	var blobs calls.Blobs // a nil blob.Store is no media store
	if n.blobs != nil {
		blobs = n.blobs
	}
	n.calls = calls.New(calls.Deps{
		Context:     context.WithoutCancel(ctx),
		Store:       n.hist,
		Enforcer:    n.authz,
		Supervision: n.admin,     // org.Service.Supervisees
		Audit:       n.auditor(), // audit.go
		Blobs:       blobs,
		Ring:        n.ring,
		Now:         n.now,
		Log:         n.log,
		Config: calls.Config{
			OrgID:           n.orgID,
			SiteID:          n.siteID,
			EmptyCallGrace:  n.cfg.Media.EmptyCallGrace,
			UnjoinedCallTTL: n.cfg.Media.UnjoinedCallTTL,
			MaxActiveCalls:  n.cfg.Media.MaxActiveCalls,
			URL:             n.URL,
			RelayListen:     []string{n.cfg.TURN.UDP, n.cfg.TURN.TCP},
			PublicIPs:       n.cfg.Media.PublicIPs,
		},
	})
}

// callAuthorizer is the SFU's Authorizer: the node's policy enforcer,
// asked about the participant's user in that user's organisation, and a
// guest's invitation.
func (n *Node) callAuthorizer(ctx context.Context) calls.Authorizer {
	return calls.Authorizer{Context: context.WithoutCancel(ctx), Users: n.store, Enforcer: n.authz,
		Guests: n.invites.CheckGuest, OrgID: n.orgID} // node/invites
}

// sfu returns the node's SFU, or an error when media is not running.
func (n *Node) sfu() (*sfu.SFU, error) {
	if n.media == nil {
		return nil, fmt.Errorf("media is not running on this node: %w", storage.ErrNotFound)
	}
	return n.media.sfu, nil
}

// unspecifiedHostPort reports whether addr names every interface (":8443",
// "0.0.0.0:8443", "[::]:8443") with a fixed port.
func unspecifiedHostPort(addr string) (net.IP, int, bool) {
	host, portStr, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, 0, false
	}
	port, err := strconv.Atoi(portStr)
	if err != nil || port == 0 {
		return nil, 0, false
	}
	ip := net.IPv4zero
	if host != "" {
		if ip = net.ParseIP(host); ip == nil || !ip.IsUnspecified() {
			return nil, 0, false
		}
	}
	return ip, port, true
}
