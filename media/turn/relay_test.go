package turn

import (
	"errors"
	"log/slog"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/pion/turn/v5"
	"github.com/prometheus/client_golang/prometheus"
)

// freeTCPPort returns a loopback port that was free a moment ago.
func freeTCPPort(t *testing.T) netip.AddrPort {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).AddrPort()
}

// TestTCPRelayFilter covers the RFC 6062 hooks of the relay generator: the
// outbound Connect and the inbound connections to a TCP allocation.
func TestTCPRelayFilter(t *testing.T) {
	allowed := freeTCPPort(t)
	m, err := newMetrics(prometheus.NewRegistry(), func() float64 { return 0 })
	if err != nil {
		t.Fatal(err)
	}
	deps := &relayDeps{
		filter:  newPeerFilter(nil, nil, []netip.AddrPort{allowed}, nil),
		quotas:  newQuotas(1, 1, 1),
		metrics: m,
		log:     slog.New(slog.DiscardHandler),
	}
	g := &relayGenerator{
		inner: &turn.RelayAddressGeneratorStatic{RelayAddress: net.IPv4(127, 0, 0, 1), Address: "127.0.0.1"},
		deps:  deps,
	}
	if err := g.Validate(); err != nil {
		t.Fatal(err)
	}

	// Outbound: only the exact allowed host:port is dialled.
	for _, to := range []string{"127.0.0.1:9", "[::ffff:127.0.0.1]:9", "169.254.1.1:80", "10.0.0.1:80"} {
		_, err := g.AllocateConn(turn.AllocateConnConfig{
			Network: "tcp4", UserID: "::alice", RemoteAddr: net.TCPAddrFromAddrPort(netip.MustParseAddrPort(to)),
		})
		if !errors.Is(err, ErrPeerRefused) {
			t.Errorf("AllocateConn %s = %v, want ErrPeerRefused", to, err)
		}
	}

	ln, relayAddr, err := g.AllocateListener(turn.AllocateListenerConfig{Network: "tcp4", UserID: "::alice"})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := g.AllocateListener(turn.AllocateListenerConfig{Network: "tcp4", UserID: "::alice"}); !errors.Is(err, ErrQuota) {
		t.Fatalf("second allocation = %v, want ErrQuota", err)
	}
	accepted := make(chan net.Conn, 1)
	go func() {
		conn, err := ln.Accept()
		if err == nil {
			accepted <- conn
		}
		close(accepted)
	}()
	// Inbound from another port of the same IP: closed by the relay.
	bad, err := net.Dial("tcp", relayAddr.String())
	if err != nil {
		t.Fatal(err)
	}
	defer bad.Close()
	if err := bad.SetReadDeadline(time.Now().Add(10 * time.Second)); err != nil {
		t.Fatal(err)
	}
	if _, err := bad.Read(make([]byte, 1)); err == nil {
		t.Fatal("connection from a forbidden port left open")
	}
	// Inbound from the allowed host:port: accepted.
	d := net.Dialer{LocalAddr: net.TCPAddrFromAddrPort(allowed)}
	good, err := d.Dial("tcp", relayAddr.String())
	if err != nil {
		t.Fatal(err)
	}
	defer good.Close()
	conn := <-accepted
	if conn == nil {
		t.Fatal("no connection accepted from the allowed peer")
	}
	if got := conn.RemoteAddr().(*net.TCPAddr).AddrPort(); got != allowed {
		t.Errorf("accepted %s, want %s", got, allowed)
	}
	_ = conn.Close()

	if err := ln.Close(); err != nil {
		t.Fatal(err)
	}
	if n := deps.quotas.count(); n != 0 {
		t.Errorf("quota count = %d after closing the relay listener, want 0", n)
	}
}
