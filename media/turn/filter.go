package turn

import (
	"net"
	"net/netip"
)

// Reasons a peer is refused, used in logs and as metric label values.
const (
	reasonInvalid     = "invalid"
	reasonUnspecified = "unspecified"
	reasonLoopback    = "loopback"
	reasonLinkLocal   = "link_local"
	reasonMulticast   = "multicast"
	reasonReserved    = "reserved"
	reasonCGNAT       = "cgnat"
	reasonOwnAddress  = "own_address"
	reasonPrivate     = "private"
	reasonPort        = "port"
)

// reservedBlocks are the special-purpose blocks of the IANA IPv4 and IPv6
// registries (RFC 6890 and its updates) that no call's media goes to, and
// that the checks below do not already name: protocol assignments,
// documentation, benchmarking, deprecated relays and translations, SRv6.
// Loopback, unspecified, link-local, multicast, carrier-grade NAT and the
// translation prefixes that embed an IPv4 address have their own checks.
var reservedBlocks = []netip.Prefix{
	netip.MustParsePrefix("192.0.0.0/24"),    // IETF protocol assignments
	netip.MustParsePrefix("192.0.2.0/24"),    // documentation (TEST-NET-1)
	netip.MustParsePrefix("192.88.99.0/24"),  // deprecated 6to4 relay anycast
	netip.MustParsePrefix("198.18.0.0/15"),   // benchmarking
	netip.MustParsePrefix("198.51.100.0/24"), // documentation (TEST-NET-2)
	netip.MustParsePrefix("203.0.113.0/24"),  // documentation (TEST-NET-3)
	netip.MustParsePrefix("240.0.0.0/4"),     // reserved, and 255.255.255.255
	netip.MustParsePrefix("::ffff:0:0:0/96"), // SIIT IPv4-translated (RFC 2765)
	netip.MustParsePrefix("100::/64"),        // discard-only
	netip.MustParsePrefix("100:0:0:1::/64"),  // dummy prefix (RFC 9780)
	netip.MustParsePrefix("2001::/23"),       // IETF protocol assignments: Teredo, benchmarking, ORCHID
	netip.MustParsePrefix("2001:db8::/32"),   // documentation
	netip.MustParsePrefix("3fff::/20"),       // documentation (RFC 9637)
	netip.MustParsePrefix("5f00::/16"),       // SRv6 SIDs (RFC 9602)
	netip.MustParsePrefix("fec0::/10"),       // deprecated site-local
}

// Address blocks the relay never reaches by range. AllowedPeers may not
// overlap them; AllowedPeerAddrs can still name an exact host:port inside.
var neverAllowed = append([]netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"),
	netip.MustParsePrefix("127.0.0.0/8"),
	netip.MustParsePrefix("169.254.0.0/16"),
	netip.MustParsePrefix("100.64.0.0/10"),
	netip.MustParsePrefix("224.0.0.0/4"),
	netip.MustParsePrefix("::/96"), // unspecified, loopback, IPv4-compatible
	netip.MustParsePrefix("::ffff:0:0/96"),
	netip.MustParsePrefix("64:ff9b::/96"),
	netip.MustParsePrefix("64:ff9b:1::/48"),
	netip.MustParsePrefix("2002::/16"),
	netip.MustParsePrefix("fe80::/10"),
	netip.MustParsePrefix("ff00::/8"),
}, reservedBlocks...)

var (
	prefixThisNet  = netip.MustParsePrefix("0.0.0.0/8")
	prefixCGNAT    = netip.MustParsePrefix("100.64.0.0/10")
	prefixV4Compat = netip.MustParsePrefix("::/96") // deprecated IPv4-compatible
	prefixNAT64    = netip.MustParsePrefix("64:ff9b::/96")
	prefixNAT64Loc = netip.MustParsePrefix("64:ff9b:1::/48")
	prefix6to4     = netip.MustParsePrefix("2002::/16")
)

// peerFilter decides which peers the relay may reach. It is immutable once
// built, so it is safe for concurrent use without locks.
type peerFilter struct {
	allowedPrefixes []netip.Prefix
	// Exact host:port pairs, by transport: a UDP relay reaches only the
	// UDP ones and a TCP relay (RFC 6062) only the TCP ones, so a UDP
	// port allowed for media never opens the TCP service on the same
	// number.
	udp, tcp exactAddrs
	own      map[netip.Addr]struct{}
}

// exactAddrs is a set of exact host:port pairs and of their IPs.
type exactAddrs struct {
	addrs map[netip.AddrPort]struct{}
	ips   map[netip.Addr]struct{}
}

func newExactAddrs(list []netip.AddrPort) exactAddrs {
	e := exactAddrs{
		addrs: make(map[netip.AddrPort]struct{}, len(list)),
		ips:   make(map[netip.Addr]struct{}, len(list)),
	}
	for _, ap := range list {
		a := ap.Addr().Unmap().WithZone("")
		e.addrs[netip.AddrPortFrom(a, ap.Port())] = struct{}{}
		e.ips[a] = struct{}{}
	}
	return e
}

// newPeerFilter builds a filter allowing the private prefixes, the exact
// UDP and TCP addresses, and refusing the node's own addresses.
func newPeerFilter(prefixes []netip.Prefix, udp, tcp []netip.AddrPort, own []netip.Addr) *peerFilter {
	f := &peerFilter{
		udp: newExactAddrs(udp),
		tcp: newExactAddrs(tcp),
		own: make(map[netip.Addr]struct{}, len(own)),
	}
	for _, p := range prefixes {
		f.allowedPrefixes = append(f.allowedPrefixes, p.Masked())
	}
	for _, a := range own {
		f.own[a.Unmap().WithZone("")] = struct{}{}
	}
	return f
}

// checkIP is the IP-level decision, for permissions, which carry no port
// nor transport: it returns "" when some port of ip may be reached, else
// the reason for refusal.
func (f *peerFilter) checkIP(ip netip.Addr) string {
	ip = ip.Unmap().WithZone("")
	reason := f.classify(ip)
	if reason == "" {
		return ""
	}
	_, udp := f.udp.ips[ip]
	_, tcp := f.tcp.ips[ip]
	if udp || tcp {
		return "" // some exact ports are allowed; the relay sockets check them
	}
	return reason
}

// checkUDP is the decision for one datagram of a UDP relay: "" when ap may
// be reached, else the reason for refusal.
func (f *peerFilter) checkUDP(ap netip.AddrPort) string { return f.checkAddr(&f.udp, ap) }

// checkTCP is the decision for one connection of a TCP relay.
func (f *peerFilter) checkTCP(ap netip.AddrPort) string { return f.checkAddr(&f.tcp, ap) }

func (f *peerFilter) checkAddr(exact *exactAddrs, ap netip.AddrPort) string {
	ip := ap.Addr().Unmap().WithZone("")
	if _, ok := exact.addrs[netip.AddrPortFrom(ip, ap.Port())]; ok {
		return ""
	}
	if ap.Port() == 0 {
		return reasonPort
	}
	reason := f.classify(ip)
	if reason == "" {
		return ""
	}
	_, udp := f.udp.ips[ip]
	_, tcp := f.tcp.ips[ip]
	if udp || tcp {
		return reasonPort
	}
	return reason
}

// classify judges an address by its range alone (ip is already unmapped).
func (f *peerFilter) classify(ip netip.Addr) string {
	switch {
	case !ip.IsValid():
		return reasonInvalid
	case ip.IsUnspecified() || prefixThisNet.Contains(ip):
		return reasonUnspecified
	case ip.IsLoopback():
		return reasonLoopback
	case ip.IsLinkLocalUnicast() || ip.IsLinkLocalMulticast():
		return reasonLinkLocal
	case ip.IsMulticast():
		return reasonMulticast
	case inAny(reservedBlocks, ip):
		return reasonReserved
	case prefixCGNAT.Contains(ip):
		return reasonCGNAT
	}
	if ip.Is6() {
		if v4, ok := embeddedIPv4(ip); ok {
			if prefixV4Compat.Contains(ip) {
				return reasonReserved // deprecated; no legitimate peer uses it
			}
			// Judge a translated address by the IPv4 address it reaches.
			return f.classify(v4)
		}
	}
	if _, ok := f.own[ip]; ok {
		return reasonOwnAddress
	}
	if ip.IsPrivate() {
		for _, p := range f.allowedPrefixes {
			if p.Contains(ip) {
				return ""
			}
		}
		return reasonPrivate
	}
	return ""
}

func inAny(blocks []netip.Prefix, ip netip.Addr) bool {
	for _, p := range blocks {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

// embeddedIPv4 returns the IPv4 address carried by an IPv4-compatible,
// NAT64 or 6to4 IPv6 address.
func embeddedIPv4(ip netip.Addr) (netip.Addr, bool) {
	b := ip.As16()
	switch {
	case prefixV4Compat.Contains(ip), prefixNAT64.Contains(ip):
		return netip.AddrFrom4([4]byte{b[12], b[13], b[14], b[15]}), true
	case prefixNAT64Loc.Contains(ip):
		// RFC 6052 /48: the IPv4 address spans bits 48-63 and 72-87.
		return netip.AddrFrom4([4]byte{b[6], b[7], b[9], b[10]}), true
	case prefix6to4.Contains(ip):
		return netip.AddrFrom4([4]byte{b[2], b[3], b[4], b[5]}), true
	}
	return netip.Addr{}, false
}

// addrPortOf converts a net.Addr of the UDP or TCP kind.
func addrPortOf(a net.Addr) (netip.AddrPort, bool) {
	switch a := a.(type) {
	case *net.UDPAddr:
		if a != nil {
			return a.AddrPort(), true
		}
	case *net.TCPAddr:
		if a != nil {
			return a.AddrPort(), true
		}
	}
	return netip.AddrPort{}, false
}

// ipOf converts a net.IP, 4 or 16 bytes.
func ipOf(ip net.IP) netip.Addr {
	a, ok := netip.AddrFromSlice(ip)
	if !ok {
		return netip.Addr{}
	}
	return a
}
