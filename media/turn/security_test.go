package turn

import (
	"io"
	"net"
	"net/netip"
	"testing"
	"time"
)

// TestPeerFilterSpecialPurpose walks the IANA IPv4 and IPv6
// special-purpose address registries: none of their blocks is a peer a
// call's media goes to, so the relay refuses them all, directly or
// embedded in an IPv6 translation prefix; ULAs stay private, which
// AllowedPeers can unlock. (Issue 13, item 29.)
func TestPeerFilterSpecialPurpose(t *testing.T) {
	ula := netip.MustParsePrefix("fd00::/8")
	tests := []struct {
		peer    string
		allowed []netip.Prefix
		want    string
	}{
		// IPv4 registry.
		{"0.0.0.0:80", nil, reasonUnspecified},
		{"0.255.255.255:80", nil, reasonUnspecified},
		{"192.0.0.1:80", nil, reasonReserved},   // IETF protocol assignments
		{"192.0.0.170:80", nil, reasonReserved}, // NAT64/DNS64 discovery
		{"192.0.2.1:80", nil, reasonReserved},   // TEST-NET-1
		{"192.88.99.1:80", nil, reasonReserved}, // deprecated 6to4 relay anycast
		{"198.18.0.1:80", nil, reasonReserved},  // benchmarking
		{"198.19.255.254:80", nil, reasonReserved},
		{"198.51.100.1:80", nil, reasonReserved}, // TEST-NET-2
		{"203.0.113.1:80", nil, reasonReserved},  // TEST-NET-3
		{"224.0.0.1:80", nil, reasonLinkLocal},   // link-local multicast
		{"239.255.255.250:1900", nil, reasonMulticast},
		{"240.0.0.1:80", nil, reasonReserved},
		{"255.255.255.255:80", nil, reasonReserved},
		{"[::ffff:198.18.0.1]:80", nil, reasonReserved},
		// IPv6 registry.
		{"[::]:80", nil, reasonUnspecified},
		{"[::1]:80", nil, reasonLoopback},
		{"[::ffff:0:c000:201]:80", nil, reasonReserved}, // SIIT IPv4-translated
		{"[64:ff9b::c000:201]:80", nil, reasonReserved}, // NAT64 of TEST-NET-1
		{"[64:ff9b::c612:1]:80", nil, reasonReserved},   // NAT64 of benchmarking
		{"[64:ff9b::e000:1]:80", nil, reasonLinkLocal},  // NAT64 of 224.0.0.1
		{"[64:ff9b::a00:1]:80", nil, reasonPrivate},     // NAT64 of 10.0.0.1
		{"[100::1]:80", nil, reasonReserved},            // discard-only
		{"[100:0:0:1::1]:80", nil, reasonReserved},      // dummy IPv6 prefix
		{"[2001::1]:80", nil, reasonReserved},           // Teredo
		{"[2001:2::1]:80", nil, reasonReserved},         // benchmarking
		{"[2001:20::1]:80", nil, reasonReserved},        // ORCHIDv2
		{"[2001:db8::1]:80", nil, reasonReserved},       // documentation
		{"[3fff::1]:80", nil, reasonReserved},           // documentation
		{"[2002:c000:201::1]:80", nil, reasonReserved},  // 6to4 of TEST-NET-1
		{"[2002:c612:1::1]:80", nil, reasonReserved},    // 6to4 of benchmarking
		{"[2002:ffff:ffff::1]:80", nil, reasonReserved}, // 6to4 of broadcast
		{"[5f00::1]:80", nil, reasonReserved},           // SRv6 SIDs
		{"[fc00::1]:80", nil, reasonPrivate},
		{"[fd12::1]:80", nil, reasonPrivate},
		{"[fd12::1]:80", []netip.Prefix{ula}, ""},
		{"[fec0::1]:80", nil, reasonReserved},
		{"[ff02::1]:80", nil, reasonLinkLocal},
		{"[ff05::2]:80", nil, reasonMulticast},
		{"[ff0e::1]:80", nil, reasonMulticast},
		// Ordinary public peers still pass.
		{"1.1.1.1:3478", nil, ""},
		{"9.9.9.9:3478", nil, ""},
		{"[2606:4700:4700::1111]:3478", nil, ""},
		{"[64:ff9b::101:101]:3478", nil, ""}, // NAT64 of 1.1.1.1
		{"[2002:909:909::1]:3478", nil, ""},  // 6to4 of 9.9.9.9
		{"192.0.1.1:80", nil, ""},            // next to 192.0.0.0/24
		{"198.20.0.1:80", nil, ""},           // next to 198.18.0.0/15
	}
	for _, tt := range tests {
		t.Run(tt.peer, func(t *testing.T) {
			f := newPeerFilter(tt.allowed, nil, nil, nil)
			ap := netip.MustParseAddrPort(tt.peer)
			if got := f.checkUDP(ap); got != tt.want {
				t.Errorf("checkUDP(%s) = %q, want %q", ap, got, tt.want)
			}
			if got := f.checkIP(ap.Addr()); got != tt.want {
				t.Errorf("checkIP(%s) = %q, want %q", ap.Addr(), got, tt.want)
			}
		})
	}
}

// TestAllowedPeersSpecialPurpose: AllowedPeers cannot unlock a
// special-purpose block, only private ones. (Issue 13, item 29.)
func TestAllowedPeersSpecialPurpose(t *testing.T) {
	for _, p := range []string{"198.18.0.0/15", "192.0.0.0/24", "192.0.2.0/24", "203.0.113.0/24",
		"2001:db8::/32", "64:ff9b::/96", "2002::/16", "2001::/32", "3fff::/20", "5f00::/16"} {
		cfg := validConfig()
		cfg.AllowedPeers = []netip.Prefix{netip.MustParsePrefix(p)}
		if err := cfg.Validate(); err == nil {
			t.Errorf("AllowedPeers %s accepted, want refused", p)
		}
	}
}

// sharedPort opens a UDP socket and a TCP listener on the same loopback
// port, as the node's media UDP and HTTPS ports were by default.
func sharedPort(t *testing.T) (*net.UDPConn, net.Listener) {
	t.Helper()
	for range 20 {
		udp, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
		if err != nil {
			t.Fatal(err)
		}
		ln, err := net.Listen("tcp4", udp.LocalAddr().String())
		if err != nil {
			udp.Close()
			continue
		}
		t.Cleanup(func() { udp.Close(); ln.Close() })
		return udp, ln
	}
	t.Fatal("no loopback port free for both UDP and TCP")
	return nil, nil
}

// TestTCPRelayIgnoresUDPAllowList: the SFU's UDP port is allowed to UDP
// relays only. A TCP allocation (RFC 6062) cannot Connect to the same
// host:port over TCP, where the node's HTTPS listens. (Issue 13, item 5.)
func TestTCPRelayIgnoresUDPAllowList(t *testing.T) {
	sfu, https := sharedPort(t)
	shared := sfu.LocalAddr().(*net.UDPAddr).AddrPort()
	accepted := make(chan struct{}, 1)
	go func() {
		for {
			conn, err := https.Accept()
			if err != nil {
				return
			}
			accepted <- struct{}{}
			conn.Close()
		}
	}()
	// A TCP peer listed for TCP relays stays reachable.
	echo, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer echo.Close()
	go func() {
		for {
			conn, err := echo.Accept()
			if err != nil {
				return
			}
			go func() { defer conn.Close(); _, _ = io.Copy(conn, conn) }()
		}
	}()
	echoAddr := echo.Addr().(*net.TCPAddr).AddrPort()
	ts := startServer(t, func(c *Config) {
		c.AllowedPeerAddrs = []netip.AddrPort{shared}
		c.AllowedTCPPeerAddrs = []netip.AddrPort{echoAddr}
	})

	// pion's client dials its data connections in plain TCP, so TCP only.
	for _, transport := range []string{"tcp"} {
		c := ts.dialUser(t, transport, "mallory-"+transport)
		alloc, err := c.AllocateTCP()
		if err != nil {
			t.Fatalf("%s: AllocateTCP: %v", transport, err)
		}
		before := ts.metric(t, "peer_refused_total", "stage", stageConnect)
		if conn, err := alloc.Dial("tcp4", shared.String()); err == nil {
			conn.Close()
			t.Errorf("%s: TCP relay connected to %s, the UDP-only allowed address", transport, shared)
		}
		if got := ts.metric(t, "peer_refused_total", "stage", stageConnect); got != before+1 {
			t.Errorf("%s: peer_refused_total{stage=connect} = %v, want %v", transport, got, before+1)
		}
		conn, err := alloc.Dial("tcp4", echoAddr.String())
		if err != nil {
			t.Fatalf("%s: TCP relay to the allowed TCP peer %s: %v", transport, echoAddr, err)
		}
		if err := conn.SetDeadline(time.Now().Add(10 * time.Second)); err != nil {
			t.Fatal(err)
		}
		if _, err := conn.Write([]byte("ping over tcp")); err != nil {
			t.Fatal(err)
		}
		got := make([]byte, len("ping over tcp"))
		if _, err := io.ReadFull(conn, got); err != nil || string(got) != "ping over tcp" {
			t.Fatalf("%s: echo through the TCP relay = %q, %v", transport, got, err)
		}
		conn.Close()
		_ = alloc.Close()
	}
	select {
	case <-accepted:
		t.Fatal("the TCP listener on the SFU's port accepted a relayed connection")
	default:
	}
}
