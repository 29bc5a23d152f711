package turn

import (
	"crypto/tls"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Defaults applied by New to the zero fields of a Config.
const (
	DefaultRealm                 = "siteline"
	DefaultCredentialTTL         = 10 * time.Minute
	DefaultMaxAllocationsPerUser = 20
	DefaultMaxAllocationsPerOrg  = 500
	DefaultMaxAllocations        = 1000
	DefaultRecheckInterval       = 15 * time.Second

	// MaxCredentialTTL bounds CredentialTTL: credentials are short-lived.
	MaxCredentialTTL = 48 * time.Hour
	// MinSecretLen is the shortest Secret accepted, in bytes.
	MinSecretLen = 16
)

// Config configures the TURN relay of one node.
type Config struct {
	// Realm is the TURN realm (default DefaultRealm).
	Realm string

	// ListenUDP, ListenTCP and ListenTLS are host:port addresses to listen
	// on; "" leaves that listener off and port 0 picks a free port (see
	// Server.Addrs). At least one must be set.
	ListenUDP, ListenTCP, ListenTLS string
	// TLSConfig holds the certificate of the TLS listener; required when
	// ListenTLS is set.
	TLSConfig *tls.Config

	// RelayIP is the address advertised to clients in XOR-RELAYED-ADDRESS,
	// the node's public address. It defaults to RelayBindIP when that is a
	// specific address.
	RelayIP net.IP
	// RelayBindIP is the local address relay sockets are bound to (default
	// "0.0.0.0").
	RelayBindIP string
	// PortMin and PortMax bound the relay ports (inclusive); both 0 lets the
	// system pick.
	PortMin, PortMax int

	// Secret is the shared HMAC secret of the TURN REST credentials, at
	// least MinSecretLen bytes.
	Secret []byte
	// CredentialTTL is how long minted credentials may make new
	// allocations (default DefaultCredentialTTL, at most MaxCredentialTTL).
	// Clients fetch fresh ones before they expire. Once made, an
	// allocation is refreshed with the credentials that made it for as
	// long as CheckGrant accepts their grant; without CheckGrant, only
	// until they expire.
	CredentialTTL time.Duration

	// CheckGrant, when set, reports why a grant no longer holds (its call
	// has ended, its user was deactivated), or nil. It is asked on every
	// authenticated request (Allocate, Refresh, CreatePermission,
	// ChannelBind, Connect), which it refuses when it returns an error,
	// and every RecheckInterval for the grants of the live allocations,
	// which are closed when it returns an error. It must be safe for
	// concurrent use and quick: it runs on pion's request path.
	CheckGrant func(Grant) error
	// RecheckInterval is how often live allocations are checked against
	// CheckGrant (default DefaultRecheckInterval).
	RecheckInterval time.Duration

	// AllowedPeers are private ranges the relay may reach (a plant's camera
	// VLAN, say). They can unlock only private ranges: a prefix touching
	// loopback, unspecified, link-local, multicast, reserved or carrier-grade
	// NAT space is a configuration error.
	AllowedPeers []netip.Prefix
	// AllowedPeerAddrs are exact host:port pairs UDP relays may always
	// reach, whatever their range, such as the node's own SFU ICE UDP port.
	// They open nothing to TCP relays: the same number over TCP may well
	// be another service (the HTTPS port, say).
	AllowedPeerAddrs []netip.AddrPort
	// AllowedTCPPeerAddrs are the exact host:port pairs TCP relays (RFC
	// 6062 Connect, and inbound connections to a TCP allocation) may
	// always reach. Browsers never ask for TCP relays; a node lists none.
	AllowedTCPPeerAddrs []netip.AddrPort
	// OwnIPs are further addresses of the node, refused like those of its
	// interfaces: the public addresses of a static NAT in front of it.
	OwnIPs []netip.Addr

	// MaxAllocationsPerUser, MaxAllocationsPerOrg and MaxAllocations bound
	// the live allocations of one user (Grant.User, across every call),
	// of one organisation (Grant.Org) and of the whole relay (defaults
	// DefaultMaxAllocationsPerUser, DefaultMaxAllocationsPerOrg or
	// MaxAllocations when smaller, and DefaultMaxAllocations).
	MaxAllocationsPerUser, MaxAllocationsPerOrg, MaxAllocations int

	// Logger receives the relay's logs and pion's (default: discarded).
	Logger *slog.Logger
	// Registerer receives the relay's metrics (default: a private
	// registry, never the global one).
	Registerer prometheus.Registerer

	// channelLifetime is how long a channel binding lasts unrefreshed
	// (0: pion's default, RFC 8656's ten minutes); tests shorten it.
	channelLifetime time.Duration
}

// withDefaults returns a copy of c with defaults in the zero fields.
func (c Config) withDefaults() Config {
	if c.Realm == "" {
		c.Realm = DefaultRealm
	}
	if c.CredentialTTL == 0 {
		c.CredentialTTL = DefaultCredentialTTL
	}
	if c.MaxAllocationsPerUser == 0 {
		c.MaxAllocationsPerUser = DefaultMaxAllocationsPerUser
	}
	if c.MaxAllocations == 0 {
		c.MaxAllocations = DefaultMaxAllocations
	}
	if c.MaxAllocationsPerOrg == 0 {
		c.MaxAllocationsPerOrg = max(c.MaxAllocationsPerUser, min(DefaultMaxAllocationsPerOrg, c.MaxAllocations))
	}
	if c.RecheckInterval == 0 {
		c.RecheckInterval = DefaultRecheckInterval
	}
	if c.RelayBindIP == "" {
		c.RelayBindIP = "0.0.0.0"
	}
	if c.RelayIP == nil {
		if ip := net.ParseIP(c.RelayBindIP); ip != nil && !ip.IsUnspecified() {
			c.RelayIP = ip
		}
	}
	return c
}

// Validate reports the first invalid setting, naming the field at fault.
// Zero fields that have a default are judged by their default.
func (c Config) Validate() error {
	c = c.withDefaults()
	if c.Realm == "" {
		return fmt.Errorf("turn config: Realm: empty")
	}
	if c.ListenUDP == "" && c.ListenTCP == "" && c.ListenTLS == "" {
		return fmt.Errorf("turn config: ListenUDP: empty, and so are ListenTCP and ListenTLS; one listener is needed")
	}
	for _, l := range []struct{ name, addr string }{
		{"ListenUDP", c.ListenUDP}, {"ListenTCP", c.ListenTCP}, {"ListenTLS", c.ListenTLS},
	} {
		if l.addr == "" {
			continue
		}
		if _, _, err := net.SplitHostPort(l.addr); err != nil {
			return fmt.Errorf("turn config: %s: %q: %w", l.name, l.addr, err)
		}
	}
	if c.ListenTLS != "" && (c.TLSConfig == nil ||
		(len(c.TLSConfig.Certificates) == 0 && c.TLSConfig.GetCertificate == nil && c.TLSConfig.GetConfigForClient == nil)) {
		return fmt.Errorf("turn config: TLSConfig: no certificate, needed by ListenTLS")
	}
	bind := net.ParseIP(c.RelayBindIP)
	if bind == nil {
		return fmt.Errorf("turn config: RelayBindIP: %q is not an IP address", c.RelayBindIP)
	}
	if c.RelayIP == nil {
		return fmt.Errorf("turn config: RelayIP: empty, and RelayBindIP %q cannot stand for it", c.RelayBindIP)
	}
	if c.RelayIP.IsUnspecified() || c.RelayIP.IsMulticast() {
		return fmt.Errorf("turn config: RelayIP: %s cannot be advertised", c.RelayIP)
	}
	switch {
	case c.PortMin == 0 && c.PortMax == 0:
	case c.PortMin < 1 || c.PortMin > 65535:
		return fmt.Errorf("turn config: PortMin: %d out of 1-65535", c.PortMin)
	case c.PortMax < c.PortMin || c.PortMax > 65535:
		return fmt.Errorf("turn config: PortMax: %d out of %d-65535", c.PortMax, c.PortMin)
	}
	if len(c.Secret) < MinSecretLen {
		return fmt.Errorf("turn config: Secret: %d bytes, at least %d needed", len(c.Secret), MinSecretLen)
	}
	if c.CredentialTTL <= 0 || c.CredentialTTL > MaxCredentialTTL {
		return fmt.Errorf("turn config: CredentialTTL: %s out of (0, %s]", c.CredentialTTL, MaxCredentialTTL)
	}
	for i, p := range c.AllowedPeers {
		if !p.IsValid() {
			return fmt.Errorf("turn config: AllowedPeers[%d]: invalid prefix", i)
		}
		if p.Addr().Is4In6() {
			return fmt.Errorf("turn config: AllowedPeers[%d]: %s: write IPv4 prefixes in IPv4 form", i, p)
		}
		for _, bad := range neverAllowed {
			if p.Overlaps(bad) {
				return fmt.Errorf("turn config: AllowedPeers[%d]: %s overlaps %s, which is never relayed to (list exact addresses in AllowedPeerAddrs)", i, p, bad)
			}
		}
	}
	for _, list := range []struct {
		name  string
		addrs []netip.AddrPort
	}{{"AllowedPeerAddrs", c.AllowedPeerAddrs}, {"AllowedTCPPeerAddrs", c.AllowedTCPPeerAddrs}} {
		for i, ap := range list.addrs {
			a := ap.Addr().Unmap()
			switch {
			case !ap.IsValid():
				return fmt.Errorf("turn config: %s[%d]: invalid address", list.name, i)
			case ap.Port() == 0:
				return fmt.Errorf("turn config: %s[%d]: %s: port 0", list.name, i, ap)
			case a.IsUnspecified() || a.IsMulticast():
				return fmt.Errorf("turn config: %s[%d]: %s is not a unicast address", list.name, i, ap)
			case c.PortMin != 0 && int(ap.Port()) >= c.PortMin && int(ap.Port()) <= c.PortMax:
				return fmt.Errorf("turn config: %s[%d]: %s: port inside the relay range %d-%d", list.name, i, ap, c.PortMin, c.PortMax)
			}
		}
	}
	for i, a := range c.OwnIPs {
		if !a.IsValid() {
			return fmt.Errorf("turn config: OwnIPs[%d]: invalid address", i)
		}
	}
	if c.MaxAllocationsPerUser < 1 {
		return fmt.Errorf("turn config: MaxAllocationsPerUser: %d, at least 1 needed", c.MaxAllocationsPerUser)
	}
	if c.MaxAllocations < c.MaxAllocationsPerUser {
		return fmt.Errorf("turn config: MaxAllocations: %d, less than MaxAllocationsPerUser %d", c.MaxAllocations, c.MaxAllocationsPerUser)
	}
	if c.MaxAllocationsPerOrg < c.MaxAllocationsPerUser {
		return fmt.Errorf("turn config: MaxAllocationsPerOrg: %d, less than MaxAllocationsPerUser %d", c.MaxAllocationsPerOrg, c.MaxAllocationsPerUser)
	}
	if c.MaxAllocations < c.MaxAllocationsPerOrg {
		return fmt.Errorf("turn config: MaxAllocations: %d, less than MaxAllocationsPerOrg %d", c.MaxAllocations, c.MaxAllocationsPerOrg)
	}
	if c.RecheckInterval < 0 {
		return fmt.Errorf("turn config: RecheckInterval: %s is negative", c.RecheckInterval)
	}
	return nil
}
