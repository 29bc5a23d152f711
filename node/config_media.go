package node

import (
	"fmt"
	"net"
	"net/netip"
	"strings"
	"time"

	"siteline/media/turn"
)

// MediaConfig is the SFU's ICE transport: one UDP port and one TCP port
// shared by every call.
type MediaConfig struct {
	// ICEUDP is the UDP address of every call's media (ICE UDP mux).
	ICEUDP string `yaml:"ice_udp"`
	// ICETCP accepts ICE over TCP for clients whose UDP is blocked; ""
	// turns it off.
	ICETCP string `yaml:"ice_tcp"`
	// PublicIPs are the node's public addresses behind a static (1:1) NAT,
	// announced to clients in place of the local ones.
	PublicIPs []string `yaml:"public_ips"`
	// MaxUpload is the largest snapshot or file shared in a call, in
	// bytes; only uploads may send request bodies over http.body_limit.
	MaxUpload int `yaml:"max_upload"`
	// MaxConcurrentUploads is how many uploads the node receives at once;
	// the next gets 503 until one ends.
	MaxConcurrentUploads int `yaml:"max_concurrent_uploads"`
	// CopyFromSites is when a node (headquarters) copies the bytes of media
	// forwarded from other sites: "on_view" (the default) the first time
	// someone opens them, "always" as soon as their rows arrive.
	CopyFromSites string `yaml:"copy_from_sites"`
	// EmptyCallGrace is how long a call everyone has left stays open (a
	// page reload rejoins it) before it ends, as if ended for all.
	EmptyCallGrace time.Duration `yaml:"empty_call_grace"`
	// UnjoinedCallTTL is how long a new call waits for someone to join it
	// before it ends; it no longer counts against max_active_calls then.
	UnjoinedCallTTL time.Duration `yaml:"unjoined_call_ttl"`
	// MaxParticipants caps the participants of one call, supervisors
	// sitting in included.
	MaxParticipants int `yaml:"max_participants"`
	// MaxActiveCalls caps the calls one user has started that have not
	// ended.
	MaxActiveCalls int `yaml:"max_active_calls"`
	// DirectTimeout is how long a WHIP or WHEP session's connection may
	// take to connect, or stay disconnected, before the session is
	// removed as if it had left; 0 means 30s.
	DirectTimeout time.Duration `yaml:"direct_timeout"`
	// SweepEvery is how often the node removes orphan blobs, the bytes of
	// media no live row refers to (the bytes of a deleted snapshot, file
	// or recording go at once).
	SweepEvery time.Duration `yaml:"sweep_every"`
	// SweepGrace is how old an orphan blob must be before it is removed,
	// so that the bytes of an upload whose row is still being written stay.
	SweepGrace time.Duration `yaml:"sweep_grace"`
}

// Values of media.copy_from_sites.
const (
	copyOnView = "on_view"
	copyAlways = "always"
)

// Bounds of media.max_upload.
const (
	minUpload = 1 << 10
	maxUpload = 4 << 30
	// maxConcurrentUploads bounds media.max_concurrent_uploads.
	maxConcurrentUploads = 1024
)

// TURNConfig is the embedded TURN relay. Credentials are minted per call
// from Secret; each listener is optional and all three empty turns the
// relay off.
type TURNConfig struct {
	UDP string `yaml:"udp"`
	TCP string `yaml:"tcp"`
	// TLS is the TURN-over-TLS address; it uses the HTTP certificate, so
	// http.tls must not be off. "" turns it off.
	TLS string `yaml:"tls"`
	// Secret is the HMAC secret of the credentials; when empty one is
	// generated into the data directory on first start.
	Secret string `yaml:"secret"`
	// AllowedPeers are private ranges (CIDRs) the relay may reach, such as a
	// camera VLAN. Loopback and the other never-relayed ranges cannot be
	// unlocked.
	AllowedPeers []string `yaml:"allowed_peers"`
	// AllowedPeerAddrs are exact host:port pairs UDP relays may reach
	// whatever their range, loopback included: a TURN load test's echo
	// peer on 127.0.0.1, say. Each opens exactly one UDP address, never
	// the TCP port of the same number; prefer AllowedPeers for a network.
	AllowedPeerAddrs []string `yaml:"allowed_peer_addrs"`
	// CredentialTTL is how long the credentials of
	// /api/v1/calls/{id}/ice-servers may open new allocations; the call
	// page fetches new ones before then. An allocation lives on only while
	// its call is open and its user active.
	CredentialTTL time.Duration `yaml:"credential_ttl"`
	// MaxAllocations, MaxAllocationsPerUser and MaxAllocationsPerOrg bound
	// the live relay allocations: in total, of one user across all their
	// calls, and of one organisation.
	MaxAllocations        int `yaml:"max_allocations"`
	MaxAllocationsPerUser int `yaml:"max_allocations_per_user"`
	MaxAllocationsPerOrg  int `yaml:"max_allocations_per_org"`
}

// enabled reports whether any TURN listener is configured.
func (t TURNConfig) enabled() bool { return t.UDP != "" || t.TCP != "" || t.TLS != "" }

// allowedPeers parses AllowedPeers.
func (t TURNConfig) allowedPeers() ([]netip.Prefix, error) {
	out := make([]netip.Prefix, 0, len(t.AllowedPeers))
	for _, s := range t.AllowedPeers {
		p, err := netip.ParsePrefix(strings.TrimSpace(s))
		if err != nil {
			return nil, fmt.Errorf("%q is not a CIDR such as 10.20.0.0/16", s)
		}
		out = append(out, p.Masked())
	}
	return out, nil
}

// allowedPeerAddrs parses AllowedPeerAddrs.
func (t TURNConfig) allowedPeerAddrs() ([]netip.AddrPort, error) {
	out := make([]netip.AddrPort, 0, len(t.AllowedPeerAddrs))
	for _, s := range t.AllowedPeerAddrs {
		ap, err := netip.ParseAddrPort(strings.TrimSpace(s))
		if err != nil {
			return nil, fmt.Errorf("%q is not an address such as 127.0.0.1:3480", s)
		}
		out = append(out, netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port()))
	}
	return out, nil
}

// validateMedia checks the media and turn sections, naming the key at
// fault.
func (c *Config) validateMedia() error {
	bad := func(key, format string, args ...any) error {
		return fmt.Errorf("config %s: %s", key, fmt.Sprintf(format, args...))
	}
	if c.Media.ICEUDP == "" {
		return bad("media.ice_udp", "must not be empty: calls need a UDP port")
	}
	if err := validAddr(c.Media.ICEUDP); err != nil {
		return bad("media.ice_udp", "%v", err)
	}
	if c.Media.ICETCP != "" {
		if err := validAddr(c.Media.ICETCP); err != nil {
			return bad("media.ice_tcp", "%v", err)
		}
	}
	if c.Media.MaxUpload < minUpload || c.Media.MaxUpload > maxUpload {
		return bad("media.max_upload", "%d bytes is outside %d (1 KiB) to %d (4 GiB)", c.Media.MaxUpload, minUpload, maxUpload)
	}
	if c.Media.MaxConcurrentUploads < 1 || c.Media.MaxConcurrentUploads > maxConcurrentUploads {
		return bad("media.max_concurrent_uploads", "%d is outside 1 to %d", c.Media.MaxConcurrentUploads, maxConcurrentUploads)
	}
	if c.Media.EmptyCallGrace <= 0 || c.Media.EmptyCallGrace > 24*time.Hour {
		return bad("media.empty_call_grace", "%v must be above 0 and at most 24h", c.Media.EmptyCallGrace)
	}
	if c.Media.UnjoinedCallTTL < c.Media.EmptyCallGrace || c.Media.UnjoinedCallTTL > 24*time.Hour {
		return bad("media.unjoined_call_ttl", "%v must be at least media.empty_call_grace (%v) and at most 24h", c.Media.UnjoinedCallTTL, c.Media.EmptyCallGrace)
	}
	if c.Media.MaxParticipants < 2 || c.Media.MaxParticipants > 10000 {
		return bad("media.max_participants", "%d must be from 2 to 10000", c.Media.MaxParticipants)
	}
	if c.Media.MaxActiveCalls < 1 || c.Media.MaxActiveCalls > 10000 {
		return bad("media.max_active_calls", "%d must be from 1 to 10000", c.Media.MaxActiveCalls)
	}
	if c.Media.DirectTimeout < 0 || c.Media.DirectTimeout > time.Hour {
		return bad("media.direct_timeout", "%v must be from 0 (30s) to 1h", c.Media.DirectTimeout)
	}
	if c.Media.SweepEvery < time.Second || c.Media.SweepEvery > 7*24*time.Hour {
		return bad("media.sweep_every", "%v must be from 1s to 168h", c.Media.SweepEvery)
	}
	if c.Media.SweepGrace < time.Minute || c.Media.SweepGrace > 30*24*time.Hour {
		return bad("media.sweep_grace", "%v must be from 1m to 720h", c.Media.SweepGrace)
	}
	switch c.Media.CopyFromSites {
	case "", copyOnView, copyAlways:
	default:
		return bad("media.copy_from_sites", "%q must be %q or %q", c.Media.CopyFromSites, copyOnView, copyAlways)
	}
	for _, s := range c.Media.PublicIPs {
		ip := net.ParseIP(strings.TrimSpace(s))
		if ip == nil || ip.IsUnspecified() || ip.IsMulticast() {
			return bad("media.public_ips", "%q is not a unicast IP address", s)
		}
	}
	for key, addr := range map[string]string{"turn.udp": c.TURN.UDP, "turn.tcp": c.TURN.TCP, "turn.tls": c.TURN.TLS} {
		if addr == "" {
			continue
		}
		if err := validAddr(addr); err != nil {
			return bad(key, "%v", err)
		}
	}
	if c.TURN.TLS != "" && c.HTTP.TLS == "off" {
		return bad("turn.tls", "needs the HTTP certificate, but http.tls is off")
	}
	if c.TURN.Secret != "" && len(c.TURN.Secret) < turn.MinSecretLen {
		return bad("turn.secret", "is %d bytes, at least %d are needed", len(c.TURN.Secret), turn.MinSecretLen)
	}
	prefixes, err := c.TURN.allowedPeers()
	if err != nil {
		return bad("turn.allowed_peers", "%v", err)
	}
	// The relay's own rules say which ranges may be unlocked.
	probe := turn.Config{ListenUDP: "127.0.0.1:0", RelayIP: net.IPv4(192, 0, 2, 1),
		Secret: make([]byte, turn.MinSecretLen), AllowedPeers: prefixes}
	if err := probe.Validate(); err != nil {
		return bad("turn.allowed_peers", "%v", turnKeys(err))
	}
	probe = turn.Config{ListenUDP: "127.0.0.1:0", RelayIP: net.IPv4(192, 0, 2, 1),
		Secret: make([]byte, turn.MinSecretLen), CredentialTTL: c.TURN.CredentialTTL,
		MaxAllocations: c.TURN.MaxAllocations, MaxAllocationsPerUser: c.TURN.MaxAllocationsPerUser,
		MaxAllocationsPerOrg: c.TURN.MaxAllocationsPerOrg}
	switch {
	case c.TURN.CredentialTTL <= 0 || c.TURN.CredentialTTL > turn.MaxCredentialTTL:
		return bad("turn.credential_ttl", "%s is outside (0, %s]", c.TURN.CredentialTTL, turn.MaxCredentialTTL)
	case c.TURN.MaxAllocationsPerUser < 1:
		return bad("turn.max_allocations_per_user", "%d, at least 1 is needed", c.TURN.MaxAllocationsPerUser)
	case c.TURN.MaxAllocationsPerOrg < c.TURN.MaxAllocationsPerUser:
		return bad("turn.max_allocations_per_org", "%d is less than turn.max_allocations_per_user (%d)",
			c.TURN.MaxAllocationsPerOrg, c.TURN.MaxAllocationsPerUser)
	case c.TURN.MaxAllocations < c.TURN.MaxAllocationsPerOrg:
		return bad("turn.max_allocations", "%d is less than turn.max_allocations_per_org (%d)",
			c.TURN.MaxAllocations, c.TURN.MaxAllocationsPerOrg)
	}
	if err := probe.Validate(); err != nil {
		return bad("turn", "%v", turnKeys(err))
	}
	addrs, err := c.TURN.allowedPeerAddrs()
	if err != nil {
		return bad("turn.allowed_peer_addrs", "%v", err)
	}
	probe = turn.Config{ListenUDP: "127.0.0.1:0", RelayIP: net.IPv4(192, 0, 2, 1),
		Secret: make([]byte, turn.MinSecretLen), AllowedPeerAddrs: addrs}
	if err := probe.Validate(); err != nil {
		return bad("turn.allowed_peer_addrs", "%v", turnKeys(err))
	}
	// The entries open UDP addresses: only the relay's UDP listener can be
	// looped into (a TCP listener of the same number is another socket).
	for i, ap := range addrs {
		listen := c.TURN.UDP
		if l, err := netip.ParseAddrPort(listen); err == nil && l.Port() == ap.Port() &&
			(l.Addr().Unmap() == ap.Addr().Unmap() || l.Addr().IsUnspecified()) {
			return bad("turn.allowed_peer_addrs", "entry %d, %s, is the relay's own listener (turn.udp)", i, ap)
		}
		if host, port, err := net.SplitHostPort(listen); err == nil && host == "" && port == fmt.Sprint(ap.Port()) {
			return bad("turn.allowed_peer_addrs", "entry %d, %s, is the relay's own listener (turn.udp)", i, ap)
		}
	}
	return nil
}

// turnKeyNames are the relay's Config fields by the YAML keys that set
// them, so that its errors name what the operator wrote.
var turnKeyNames = strings.NewReplacer(
	"AllowedPeerAddrs", "turn.allowed_peer_addrs",
	"AllowedPeers", "turn.allowed_peers",
	"CredentialTTL", "turn.credential_ttl",
	"MaxAllocationsPerUser", "turn.max_allocations_per_user",
	"MaxAllocationsPerOrg", "turn.max_allocations_per_org",
	"MaxAllocations", "turn.max_allocations",
)

// turnKeys is a turn.Config error as the node reports it: without the
// package's prefix, naming YAML keys instead of Go fields.
func turnKeys(err error) string {
	return turnKeyNames.Replace(strings.TrimPrefix(err.Error(), "turn config: "))
}
