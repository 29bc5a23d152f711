package turn

import (
	"net/netip"
	"testing"
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
			f := newPeerFilter(tt.allowed, nil, nil)
			ap := netip.MustParseAddrPort(tt.peer)
			if got := f.checkAddr(ap); got != tt.want {
				t.Errorf("checkAddr(%s) = %q, want %q", ap, got, tt.want)
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
