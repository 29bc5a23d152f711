package turn

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha1" //nolint:gosec // forging a TURN REST password
	"encoding/base64"
	"errors"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"

	"siteline/internal/testutil"
)

func TestRelayRoundTrip(t *testing.T) {
	peer := newEchoPeer(t)
	ts := startServer(t, func(c *Config) { c.AllowedPeerAddrs = []netip.AddrPort{peer.addr} })

	for _, transport := range []string{"udp", "tcp", "tls"} {
		t.Run(transport, func(t *testing.T) {
			c := ts.dialUser(t, transport, "tech-"+transport)
			relay := c.allocate(t)
			if got := relay.LocalAddr().(*net.UDPAddr).IP; !got.Equal(net.IPv4(127, 0, 0, 1)) {
				t.Errorf("relayed address %v, want the RelayIP 127.0.0.1", got)
			}
			// Not below 5 bytes: pion's STUNConn holds an 8-byte ChannelData
			// frame back until more bytes arrive on TCP (it wants 9 to
			// decide what a frame is). Media packets are never that small.
			for _, size := range []int{5, 200, 1200} {
				payload := make([]byte, size)
				_, _ = rand.Read(payload)
				got := roundTrip(t, relay, udpAddr(peer.addr), payload)
				if !bytes.Equal(got, payload) {
					t.Fatalf("size %d: reply differs from what was sent", size)
				}
			}
			if n := ts.UserAllocations("tech-" + transport); n != 1 {
				t.Errorf("UserAllocations = %d, want 1", n)
			}
		})
	}
}

func TestAuthRefused(t *testing.T) {
	ts := startServer(t, nil)
	now := time.Now()
	expUser, expPass, _ := ts.Credentials(Grant{User: "alice"}, now.Add(-2*DefaultCredentialTTL))
	goodUser, _, _ := ts.Credentials(Grant{User: "alice"}, now)
	forge := func(username string) string {
		mac := hmac.New(sha1.New, []byte("not-the-secret-0123456789"))
		mac.Write([]byte(username))
		return base64.StdEncoding.EncodeToString(mac.Sum(nil))
	}
	future := strconv.FormatInt(now.Add(time.Hour).Unix(), 10)

	tests := []struct {
		name               string
		username, password string
		reason             string
	}{
		{"expired", expUser, expPass, authExpired},
		{"forged hmac", goodUser, forge(goodUser), authBadIntegrity},
		{"no expiry", "alice", forge("alice"), authMalformed},
		{"no user", future + ":", forge(future + ":"), authMalformed},
		{"non-numeric expiry", "soon:alice", forge("soon:alice"), authMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := ts.metric(t, "auth_failures_total", "reason", tt.reason)
			c := ts.dial(t, "udp", tt.username, tt.password)
			if relay, err := c.Allocate(); err == nil {
				_ = relay.Close()
				t.Fatal("Allocate succeeded, want refused")
			}
			if got := ts.metric(t, "auth_failures_total", "reason", tt.reason); got <= before {
				t.Errorf("auth_failures_total{reason=%q} = %v, want more than %v", tt.reason, got, before)
			}
			if !ts.logs.find("DEBUG turn auth refused", "reason="+tt.reason, "username="+tt.username) {
				t.Errorf("no debug log of the refusal with reason=%s", tt.reason)
			}
		})
	}
	if n := ts.Allocations(); n != 0 {
		t.Errorf("Allocations = %d after refused requests, want 0", n)
	}
	if got := ts.metric(t, "allocations_created_total"); got != 0 {
		t.Errorf("allocations_created_total = %v, want 0", got)
	}
}

func TestPermissionFilter(t *testing.T) {
	peer := newEchoPeer(t)
	tests := []struct {
		name       string
		allowed    []netip.Prefix
		exact      []netip.AddrPort
		peer       string
		wantPermit bool
	}{
		{"loopback not listed", nil, nil, "127.0.0.1:9", false},
		{"mapped loopback not listed", nil, nil, "[::ffff:127.0.0.1]:9", false},
		{"loopback listed", nil, []netip.AddrPort{peer.addr}, peer.addr.String(), true},
		{"unspecified", nil, []netip.AddrPort{peer.addr}, "0.0.0.0:" + strconv.Itoa(int(peer.addr.Port())), false},
		{"link-local", nil, nil, "169.254.1.1:80", false},
		{"cgnat", nil, nil, "100.64.0.1:80", false},
		{"private not allowed", nil, nil, "10.0.0.1:80", false},
		{"private allowed", []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}, nil, "10.0.0.1:80", true},
		{"other private range", []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}, nil, "192.168.1.1:80", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ts := startServer(t, func(c *Config) {
				c.AllowedPeers = tt.allowed
				c.AllowedPeerAddrs = tt.exact
			})
			c := ts.dialUser(t, "udp", "alice")
			c.allocate(t)
			before := ts.metric(t, "peer_refused_total", "stage", stagePermission)
			// CreatePermission only talks to the TURN server: no traffic
			// goes to the peer address.
			err := c.CreatePermission(udpAddr(netip.MustParseAddrPort(tt.peer)))
			if tt.wantPermit && err != nil {
				t.Fatalf("CreatePermission(%s) = %v, want granted", tt.peer, err)
			}
			if !tt.wantPermit {
				if err == nil {
					t.Fatalf("CreatePermission(%s) granted, want refused", tt.peer)
				}
				if got := ts.metric(t, "peer_refused_total", "stage", stagePermission); got != before+1 {
					t.Errorf("peer_refused_total{stage=permission} = %v, want %v", got, before+1)
				}
			}
		})
	}
}

// TestPortFilter checks the port-level rules on the relay socket: on an IP
// whose only allowed peer is one exact host:port, datagrams to and from its
// other ports are dropped, in either address form.
func TestPortFilter(t *testing.T) {
	peer := newEchoPeer(t)
	other, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	otherAddr := other.LocalAddr().(*net.UDPAddr).AddrPort()

	ts := startServer(t, func(c *Config) { c.AllowedPeerAddrs = []netip.AddrPort{peer.addr} })
	c := ts.dialUser(t, "udp", "alice")
	relay := c.allocate(t)
	relayAddr := relay.LocalAddr().(*net.UDPAddr)

	// Client to a forbidden port, plain and IPv4-mapped: dropped by the relay.
	mapped := netip.AddrPortFrom(netip.AddrFrom16(otherAddr.Addr().As16()), otherAddr.Port())
	for _, to := range []netip.AddrPort{otherAddr, mapped} {
		if _, err := relay.WriteTo([]byte("to forbidden port"), udpAddr(to)); err != nil {
			t.Fatalf("WriteTo %s: %v", to, err)
		}
	}
	testutil.Eventually(t, 10*time.Second, "two datagrams refused at send", func() bool {
		return ts.metric(t, "peer_refused_total", "stage", stageSend, "reason", reasonPort) >= 2
	})

	// Forbidden port to the relay: discarded before it reaches the client.
	if _, err := other.WriteToUDP([]byte("from forbidden port"), relayAddr); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 10*time.Second, "a datagram refused at receive", func() bool {
		return ts.metric(t, "peer_refused_total", "stage", stageReceive, "reason", reasonPort) >= 1
	})
	// The next datagram the client gets is the allowed peer's echo.
	payload := []byte("allowed")
	if got := roundTrip(t, relay, udpAddr(peer.addr), payload); !bytes.Equal(got, payload) {
		t.Fatalf("echo = %q, want %q", got, payload)
	}
	// And nothing reached the forbidden port.
	if err := other.SetReadDeadline(time.Now()); err != nil {
		t.Fatal(err)
	}
	if n, from, err := other.ReadFromUDP(make([]byte, 64)); err == nil {
		t.Fatalf("forbidden port received %d bytes from %s", n, from)
	}
}

func TestQuotas(t *testing.T) {
	ts := startServer(t, func(c *Config) {
		c.MaxAllocationsPerUser = 2
		c.MaxAllocations = 3
	})
	alloc := func(user string) (net.PacketConn, error) {
		c := ts.dialUser(t, "udp", user)
		return c.Allocate()
	}
	a1, err := alloc("alice")
	if err != nil {
		t.Fatalf("alice 1: %v", err)
	}
	if _, err := alloc("alice"); err != nil {
		t.Fatalf("alice 2: %v", err)
	}
	if _, err := alloc("alice"); err == nil {
		t.Fatal("alice 3: allocated beyond MaxAllocationsPerUser")
	}
	if got := ts.metric(t, "allocations_refused_total", "reason", refusedUserQuota); got != 1 {
		t.Errorf("allocations_refused_total{user_quota} = %v, want 1", got)
	}
	if _, err := alloc("bob"); err != nil {
		t.Fatalf("bob 1: %v", err)
	}
	if _, err := alloc("bob"); err == nil {
		t.Fatal("bob 2: allocated beyond MaxAllocations")
	}
	if got := ts.metric(t, "allocations_refused_total", "reason", refusedTotalQuota); got != 1 {
		t.Errorf("allocations_refused_total{total_quota} = %v, want 1", got)
	}
	if n := ts.Allocations(); n != 3 {
		t.Fatalf("Allocations = %d, want 3", n)
	}

	// Closing an allocation (Refresh with lifetime 0) frees its slot.
	if err := a1.Close(); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 10*time.Second, "alice's first allocation to be released", func() bool { return ts.UserAllocations("alice") == 1 })
	if _, err := alloc("carol"); err != nil {
		t.Fatalf("carol after a release: %v", err)
	}
	if got := ts.Allocations(); got != 3 {
		t.Fatalf("Allocations = %d, want 3", got)
	}
}

func TestQuotaReleasedWithTCPConnection(t *testing.T) {
	ts := startServer(t, func(c *Config) { c.MaxAllocationsPerUser = 1 })
	c := ts.dialUser(t, "tcp", "alice")
	c.allocate(t)
	if _, err := ts.dialUser(t, "tls", "alice").Allocate(); err == nil {
		t.Fatal("second allocation for alice accepted")
	}
	c.Close()
	testutil.Eventually(t, 10*time.Second, "the TCP allocation to be released", func() bool { return ts.Allocations() == 0 })
	ts.dialUser(t, "tls", "alice").allocate(t)
}

// TestQuotaGenerator checks the authoritative count in the relay generator,
// which holds even when the QuotaHandler is raced.
func TestQuotaGenerator(t *testing.T) {
	q := newQuotas(1, 2, 2)
	a, b, c := Grant{User: "a"}, Grant{User: "b"}, Grant{User: "c"}
	if r := q.acquire(a); r != "" {
		t.Fatal(r)
	}
	if r := q.acquire(a); r != refusedUserQuota {
		t.Fatalf("second slot for a: %q, want %q", r, refusedUserQuota)
	}
	if r := q.acquire(b); r != "" {
		t.Fatal(r)
	}
	if r := q.acquire(c); r != refusedTotalQuota {
		t.Fatalf("third slot: %q, want %q", r, refusedTotalQuota)
	}
	q.release(a, nil)
	q.close()
	if r := q.acquire(c); r != refusedShutdown {
		t.Fatalf("after close: %q, want %q", r, refusedShutdown)
	}
	select {
	case <-q.drained:
		t.Fatal("drained with a slot taken")
	default:
	}
	q.release(b, nil)
	<-q.drained
}

func TestMetrics(t *testing.T) {
	peer := newEchoPeer(t)
	ts := startServer(t, func(c *Config) { c.AllowedPeerAddrs = []netip.AddrPort{peer.addr} })
	if got := ts.metric(t, "allocations"); got != 0 {
		t.Fatalf("allocations = %v before any client, want 0", got)
	}
	c := ts.dialUser(t, "udp", "alice")
	relay := c.allocate(t)
	if got := ts.metric(t, "allocations"); got != 1 {
		t.Errorf("allocations = %v, want 1", got)
	}
	if got := ts.metric(t, "allocations_created_total"); got != 1 {
		t.Errorf("allocations_created_total = %v, want 1", got)
	}

	payload := bytes.Repeat([]byte{0xab}, 500)
	roundTrip(t, relay, udpAddr(peer.addr), payload)
	testutil.Eventually(t, 10*time.Second, "relayed counters", func() bool {
		return ts.metric(t, "relayed_packets_total", "direction", dirClientToPeer) >= 1 &&
			ts.metric(t, "relayed_packets_total", "direction", dirPeerToClient) >= 1
	})
	for _, dir := range []string{dirClientToPeer, dirPeerToClient} {
		packets := ts.metric(t, "relayed_packets_total", "direction", dir)
		if b := ts.metric(t, "relayed_bytes_total", "direction", dir); b != packets*500 {
			t.Errorf("relayed_bytes_total{%s} = %v, want %v (%v packets of 500 bytes)", dir, b, packets*500, packets)
		}
	}

	if err := relay.Close(); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 10*time.Second, "allocations gauge back to 0", func() bool { return ts.metric(t, "allocations") == 0 })
}

func TestLifecycle(t *testing.T) {
	t.Run("shutdown closes allocations on every transport", func(t *testing.T) {
		ts := startServer(t, nil)
		for _, transport := range []string{"udp", "tcp", "tls"} {
			ts.dialUser(t, transport, "tech").allocate(t)
		}
		if n := ts.Allocations(); n != 3 {
			t.Fatalf("Allocations = %d, want 3", n)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := ts.Shutdown(ctx); err != nil {
			t.Fatalf("Shutdown: %v", err)
		}
		if n := ts.Allocations(); n != 0 {
			t.Fatalf("Allocations = %d after Shutdown, want 0", n)
		}
		if err := ts.Start(context.Background()); !errors.Is(err, ErrClosed) {
			t.Fatalf("Start after Shutdown = %v, want ErrClosed", err)
		}
	})
	t.Run("start twice", func(t *testing.T) {
		ts := startServer(t, nil)
		if err := ts.Start(context.Background()); err == nil {
			t.Fatal("second Start succeeded")
		}
	})
	t.Run("port in use", func(t *testing.T) {
		ts := startServer(t, nil)
		s, err := New(Config{
			ListenUDP: ts.Addrs().UDP.String(), RelayBindIP: "127.0.0.1", Secret: []byte(testSecret),
		})
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Start(context.Background()); err == nil {
			t.Fatal("Start on a busy port succeeded")
		}
		if err := s.Shutdown(context.Background()); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("shutdown before start", func(t *testing.T) {
		s, err := New(validConfig())
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Shutdown(context.Background()); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("one registry per server", func(t *testing.T) {
		ts := startServer(t, nil)
		cfg := validConfig()
		cfg.Registerer = ts.reg
		if _, err := New(cfg); err == nil {
			t.Fatal("New registered its metrics twice on one registry")
		}
	})
}

func TestAllowedAddrIsListener(t *testing.T) {
	// Reserve a port number free on both transports, then give it to the
	// relay's own listeners: UDP and TCP share the number.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().(*net.TCPAddr).AddrPort()
	ln.Close()
	start := func(c Config) error {
		c.RelayBindIP, c.Secret = "127.0.0.1", []byte(testSecret)
		s, err := New(c)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Shutdown(context.Background())
		return s.Start(context.Background())
	}
	for _, tc := range []struct {
		name string
		cfg  Config
		err  string // "" when Start succeeds
	}{
		{"udp peer on the udp listener", Config{ListenUDP: addr.String(), AllowedPeerAddrs: []netip.AddrPort{addr}}, "AllowedPeerAddrs[0]"},
		{"tcp peer on the tcp listener", Config{ListenTCP: addr.String(), AllowedTCPPeerAddrs: []netip.AddrPort{addr}}, "AllowedTCPPeerAddrs[0]"},
		// A UDP relay cannot reach a TCP socket: the same number on the
		// other transport is another service (the SFU's media port, say).
		{"udp peer on the tcp listener's number", Config{ListenTCP: addr.String(), AllowedPeerAddrs: []netip.AddrPort{addr}}, ""},
		{"tcp peer on the udp listener's number", Config{ListenUDP: addr.String(), AllowedTCPPeerAddrs: []netip.AddrPort{addr}}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := start(tc.cfg)
			switch {
			case tc.err == "" && err != nil:
				t.Fatalf("Start = %v, want it to start", err)
			case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err+": "+addr.String()+" is a TURN listener")):
				t.Fatalf("Start = %v, want %s refused as a TURN listener", err, tc.err)
			}
		})
	}
}
