package turn

import (
	"errors"
	"io"
	"net"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/pion/stun/v4"

	"siteline/internal/testutil"
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

// TestQuotaPerUserAcrossCallsAndPerOrg: a user's allocations count
// together whatever the call, and an organisation's together whatever the
// user, so one user opening call after call cannot fill the relay.
// (Issue 13, item 6.)
func TestQuotaPerUserAcrossCallsAndPerOrg(t *testing.T) {
	ts := startServer(t, func(c *Config) {
		c.MaxAllocationsPerUser = 2
		c.MaxAllocationsPerOrg = 3
		c.MaxAllocations = 10
	})
	alloc := func(g Grant) error {
		username, password, _ := ts.Credentials(g, time.Now())
		relay, err := ts.dial(t, "udp", username, password).Allocate()
		if err == nil {
			t.Cleanup(func() { _ = relay.Close() })
		}
		return err
	}
	for i, call := range []string{"call-1", "call-2"} {
		if err := alloc(Grant{Org: "acme", Call: call, User: "mallory"}); err != nil {
			t.Fatalf("mallory's allocation %d: %v", i+1, err)
		}
	}
	if err := alloc(Grant{Org: "acme", Call: "call-3", User: "mallory"}); err == nil {
		t.Fatal("mallory's third allocation, in a third call, accepted beyond MaxAllocationsPerUser")
	}
	if got := ts.metric(t, "allocations_refused_total", "reason", refusedUserQuota); got != 1 {
		t.Errorf("allocations_refused_total{user_quota} = %v, want 1", got)
	}
	if n := ts.UserAllocations("mallory"); n != 2 {
		t.Errorf("UserAllocations(mallory) = %d, want 2", n)
	}

	if err := alloc(Grant{Org: "acme", Call: "call-4", User: "bob"}); err != nil {
		t.Fatalf("bob's first allocation: %v", err)
	}
	if err := alloc(Grant{Org: "acme", Call: "call-4", User: "carol"}); err == nil {
		t.Fatal("a fourth allocation of acme accepted beyond MaxAllocationsPerOrg")
	}
	if got := ts.metric(t, "allocations_refused_total", "reason", refusedOrgQuota); got != 1 {
		t.Errorf("allocations_refused_total{org_quota} = %v, want 1", got)
	}
	if n := ts.OrgAllocations("acme"); n != 3 {
		t.Errorf("OrgAllocations(acme) = %d, want 3", n)
	}
	// Another organisation still gets its share.
	if err := alloc(Grant{Org: "globex", Call: "call-5", User: "dave"}); err != nil {
		t.Fatalf("another organisation's allocation: %v", err)
	}
	if n := ts.Allocations(); n != 4 {
		t.Errorf("Allocations = %d, want 4", n)
	}
}

// grantBook is a CheckGrant whose calls can be ended and users
// deactivated while the relay runs.
type grantBook struct {
	mu    sync.Mutex
	ended map[string]bool // call ids
	gone  map[string]bool // user ids
	asked int
}

func newGrantBook() *grantBook {
	return &grantBook{ended: map[string]bool{}, gone: map[string]bool{}}
}

func (b *grantBook) check(g Grant) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.asked++
	switch {
	case b.ended[g.Call]:
		return errors.New("call ended")
	case b.gone[g.User]:
		return errors.New("user deactivated")
	}
	return nil
}

func (b *grantBook) endCall(id string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.ended[id] = true
}

func (b *grantBook) deactivate(id string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.gone[id] = true
}

// refresh sends a TURN Refresh of c's allocation with the given
// credentials over c's own 5-tuple (the long-term credential dance: the
// first answer brings the nonce) and returns the error code of the answer,
// 0 for a success.
func refresh(t *testing.T, c *turnClient, realm, username, password string) int {
	t.Helper()
	lifetime := stun.RawAttribute{Type: stun.AttrLifetime, Value: []byte{0, 0, 2, 88}} // 600 s
	send := func(setters ...stun.Setter) *stun.Message {
		msg, err := stun.Build(append([]stun.Setter{stun.TransactionID,
			stun.NewType(stun.MethodRefresh, stun.ClassRequest), lifetime}, setters...)...)
		if err != nil {
			t.Fatal(err)
		}
		res, err := c.PerformTransaction(msg, c.TURNServerAddr(), false)
		if err != nil {
			t.Fatalf("refresh: %v", err)
		}
		return res.Msg
	}
	first := send(stun.Fingerprint)
	var nonce stun.Nonce
	if err := nonce.GetFrom(first); err != nil {
		t.Fatalf("refresh: no nonce in the first answer: %v", err)
	}
	res := send(stun.NewUsername(username), stun.NewRealm(realm), nonce,
		stun.NewLongTermIntegrity(username, realm, password), stun.Fingerprint)
	if res.Type.Class == stun.ClassSuccessResponse {
		return 0
	}
	var code stun.ErrorCodeAttribute
	if err := code.GetFrom(res); err != nil {
		t.Fatalf("refresh: error answer without a code: %v", err)
	}
	return int(code.Code)
}

// TestCredentialsEndWithCallAndUser: credentials make new allocations only
// until they expire; an allocation they made is refreshed while its call is
// open and its user active, and refused, then closed, once either ends.
// (Issue 13, item 16.)
func TestCredentialsEndWithCallAndUser(t *testing.T) {
	book := newGrantBook()
	ts := startServer(t, func(c *Config) {
		c.CredentialTTL = time.Second
		c.CheckGrant = book.check
		c.RecheckInterval = 10 * time.Millisecond
	})
	realm := ts.Realm()
	alice := Grant{Org: "acme", Call: "pump-4", User: "alice"}
	bob := Grant{Org: "acme", Call: "valve-2", User: "bob"}

	aliceUser, alicePass, expires := ts.Credentials(alice, time.Now())
	ca := ts.dial(t, "udp", aliceUser, alicePass)
	ca.allocate(t)
	bobUser, bobPass, _ := ts.Credentials(bob, time.Now())
	cb := ts.dial(t, "udp", bobUser, bobPass)
	cb.allocate(t)

	// Past the expiry, the credentials make no new allocation...
	testutil.Eventually(t, 10*time.Second, "the credentials to expire", func() bool { return time.Now().Unix() > expires.Unix() })
	if relay, err := ts.dial(t, "udp", aliceUser, alicePass).Allocate(); err == nil {
		_ = relay.Close()
		t.Fatal("expired credentials made a new allocation")
	}
	// ...but keep the allocation they made while the call and user live.
	if code := refresh(t, ca, realm, aliceUser, alicePass); code != 0 {
		t.Fatalf("refresh of a live call's allocation = error %d, want success", code)
	}

	// The call ends: its refreshes are refused, new allocations too, and
	// its live allocation is closed; bob's call goes on.
	book.endCall(alice.Call)
	if code := refresh(t, ca, realm, aliceUser, alicePass); code != int(stun.CodeUnauthorized) {
		t.Errorf("refresh after the call ended = %d, want %d", code, stun.CodeUnauthorized)
	}
	freshUser, freshPass, _ := ts.Credentials(alice, time.Now())
	if relay, err := ts.dial(t, "udp", freshUser, freshPass).Allocate(); err == nil {
		_ = relay.Close()
		t.Fatal("fresh credentials of an ended call made an allocation")
	}
	testutil.Eventually(t, 10*time.Second, "the ended call's allocation to close", func() bool { return ts.UserAllocations("alice") == 0 })
	if n := ts.UserAllocations("bob"); n != 1 {
		t.Fatalf("bob's allocations = %d, want 1", n)
	}
	if code := refresh(t, cb, realm, bobUser, bobPass); code != 0 {
		t.Fatalf("refresh of bob's allocation = error %d, want success", code)
	}
	if got := ts.metric(t, "auth_failures_total", "reason", authRevoked); got < 2 {
		t.Errorf("auth_failures_total{revoked} = %v, want at least 2", got)
	}

	// The user is deactivated: the same for bob.
	book.deactivate(bob.User)
	if code := refresh(t, cb, realm, bobUser, bobPass); code != int(stun.CodeUnauthorized) {
		t.Errorf("refresh after the user's deactivation = %d, want %d", code, stun.CodeUnauthorized)
	}
	testutil.Eventually(t, 10*time.Second, "the deactivated user's allocation to close", func() bool { return ts.Allocations() == 0 })
}

// TestRevokeClosesAllocations: Revoke closes the matching allocations at
// once, on every transport, and their quota slots come back. (Issue 13,
// item 16.)
func TestRevokeClosesAllocations(t *testing.T) {
	ts := startServer(t, nil)
	for _, transport := range []string{"udp", "tcp", "tls"} {
		username, password, _ := ts.Credentials(Grant{Org: "acme", Call: "pump-4", User: "tech-" + transport}, time.Now())
		ts.dial(t, transport, username, password).allocate(t)
	}
	username, password, _ := ts.Credentials(Grant{Org: "acme", Call: "valve-2", User: "other"}, time.Now())
	ts.dial(t, "udp", username, password).allocate(t)

	if n := ts.Revoke(func(g Grant) bool { return g.Call == "pump-4" }); n != 3 {
		t.Fatalf("Revoke closed %d allocations, want 3", n)
	}
	if n := ts.Allocations(); n != 1 {
		t.Fatalf("Allocations = %d after Revoke, want 1", n)
	}
	if n := ts.UserAllocations("other"); n != 1 {
		t.Errorf("the other call's allocation was closed too")
	}
}
