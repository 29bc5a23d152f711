package turn

import (
	"net"
	"net/netip"
	"testing"
)

func TestPeerFilter(t *testing.T) {
	sfu := netip.MustParseAddrPort("127.0.0.1:5000")
	sfuPrivate := netip.MustParseAddrPort("10.1.0.5:7000")
	own := []netip.Addr{netip.MustParseAddr("100.128.0.7"), netip.MustParseAddr("10.1.0.9")}
	camVLAN := netip.MustParsePrefix("10.0.0.0/8")

	tests := []struct {
		name    string
		allowed []netip.Prefix
		peer    string // host:port
		want    string // "" means allowed
		wantIP  string // IP-level (permission) decision
	}{
		{"allowed exact loopback", nil, "127.0.0.1:5000", "", ""},
		{"loopback other port", nil, "127.0.0.1:5001", reasonPort, ""},
		{"mapped loopback exact", nil, "[::ffff:127.0.0.1]:5000", "", ""},
		{"mapped loopback other port", nil, "[::ffff:127.0.0.1]:5001", reasonPort, ""},
		{"other loopback", nil, "127.0.0.2:5000", reasonLoopback, reasonLoopback},
		{"mapped other loopback", nil, "[::ffff:127.0.0.2]:5000", reasonLoopback, reasonLoopback},
		{"ipv6 loopback", nil, "[::1]:5000", reasonLoopback, reasonLoopback},
		{"unspecified v4", nil, "0.0.0.0:5000", reasonUnspecified, reasonUnspecified},
		{"this network", nil, "0.1.2.3:5000", reasonUnspecified, reasonUnspecified},
		{"mapped unspecified", nil, "[::ffff:0.0.0.0]:5000", reasonUnspecified, reasonUnspecified},
		{"unspecified v6", nil, "[::]:5000", reasonUnspecified, reasonUnspecified},
		{"v4-compatible loopback", nil, "[::127.0.0.1]:5000", reasonReserved, reasonReserved},
		{"nat64 loopback", nil, "[64:ff9b::127.0.0.1]:5000", reasonLoopback, reasonLoopback},
		{"nat64 local-use private", nil, "[64:ff9b:1:a00:1:100::]:80", reasonPrivate, reasonPrivate},
		{"6to4 loopback", nil, "[2002:7f00:1::1]:5000", reasonLoopback, reasonLoopback},
		{"6to4 public", nil, "[2002:909:909::1]:5000", "", ""},
		{"nat64 public", nil, "[64:ff9b::9.9.9.9]:5000", "", ""},
		{"link-local v4", nil, "169.254.1.1:80", reasonLinkLocal, reasonLinkLocal},
		{"mapped link-local", nil, "[::ffff:169.254.169.254]:80", reasonLinkLocal, reasonLinkLocal},
		{"link-local v6", nil, "[fe80::1]:80", reasonLinkLocal, reasonLinkLocal},
		{"cgnat", nil, "100.64.0.1:80", reasonCGNAT, reasonCGNAT},
		{"cgnat top", nil, "100.127.255.254:80", reasonCGNAT, reasonCGNAT},
		{"multicast v4", nil, "239.1.1.1:80", reasonMulticast, reasonMulticast},
		{"multicast v6", nil, "[ff02::1]:80", reasonLinkLocal, reasonLinkLocal},
		{"multicast v6 global", nil, "[ff0e::1]:80", reasonMulticast, reasonMulticast},
		{"broadcast", nil, "255.255.255.255:80", reasonReserved, reasonReserved},
		{"class E", nil, "240.0.0.1:80", reasonReserved, reasonReserved},
		{"private 10 refused", nil, "10.0.0.1:80", reasonPrivate, reasonPrivate},
		{"private 10 allowed", []netip.Prefix{camVLAN}, "10.0.0.1:80", "", ""},
		{"mapped private allowed", []netip.Prefix{camVLAN}, "[::ffff:10.0.0.1]:80", "", ""},
		{"private 172", []netip.Prefix{camVLAN}, "172.16.5.4:80", reasonPrivate, reasonPrivate},
		{"private 192.168", nil, "192.168.1.1:80", reasonPrivate, reasonPrivate},
		{"ula", nil, "[fd00::2]:80", reasonPrivate, reasonPrivate},
		{"own public address", nil, "100.128.0.7:443", reasonOwnAddress, reasonOwnAddress},
		{"own address inside allowed range", []netip.Prefix{camVLAN}, "10.1.0.9:80", reasonOwnAddress, reasonOwnAddress},
		{"exact private SFU", nil, "10.1.0.5:7000", "", ""},
		{"private SFU other port", nil, "10.1.0.5:7001", reasonPort, ""},
		{"private SFU other port, range allowed", []netip.Prefix{camVLAN}, "10.1.0.5:7001", "", ""},
		{"public", nil, "9.9.9.9:3478", "", ""},
		{"public ipv6", nil, "[2606:4700:4700::1111]:3478", "", ""},
		{"port zero", nil, "9.9.9.9:0", reasonPort, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newPeerFilter(tt.allowed, []netip.AddrPort{sfu, sfuPrivate}, nil, own)
			ap := netip.MustParseAddrPort(tt.peer)
			if got := f.checkUDP(ap); got != tt.want {
				t.Errorf("checkAddr(%s) = %q, want %q", ap, got, tt.want)
			}
			// The IP as pion hands it over: 16-byte net.IP for IPv4 too.
			ip := net.IP(ap.Addr().AsSlice()).To16()
			if got := f.checkIP(ipOf(ip)); got != tt.wantIP {
				t.Errorf("checkIP(%s) = %q, want %q", ip, got, tt.wantIP)
			}
			// Through a net.Addr, as the relay socket sees it.
			udp := net.UDPAddrFromAddrPort(ap)
			uap, _ := addrPortOf(udp)
			if got := f.checkUDP(uap); got != tt.want {
				t.Errorf("checkAddr(UDPAddr %s) = %q, want %q", udp, got, tt.want)
			}
		})
	}
}

func TestPeerFilterNoExactAddrs(t *testing.T) {
	f := newPeerFilter(nil, nil, nil, nil)
	for _, s := range []string{"127.0.0.1", "::ffff:127.0.0.1", "0.0.0.0", "::", "169.254.1.1", "100.64.0.1", "10.0.0.1"} {
		if got := f.checkIP(netip.MustParseAddr(s)); got == "" {
			t.Errorf("checkIP(%s) allowed, want refused", s)
		}
	}
	if got := f.checkIP(netip.Addr{}); got != reasonInvalid {
		t.Errorf("checkIP(invalid) = %q, want %q", got, reasonInvalid)
	}
	if _, ok := addrPortOf(&net.IPAddr{}); ok {
		t.Error("addrPortOf(IPAddr) ok, want not ok")
	}
}
