package turn

import (
	"net"
	"testing"
)

// A revoked allocation's socket is closed twice: by Revoke, then by pion
// when it drops the allocation or shuts down. pion's allocation manager
// stops closing the others at the first error, so the second close must
// not fail, and the quota slot is given back once.
func TestRelaySocketClosesOnce(t *testing.T) {
	q := newQuotas(10, 10, 10)
	g := Grant{Org: "acme", Call: "pump-4", User: "tech"}
	if reason := q.acquire(g); reason != "" {
		t.Fatalf("acquire: %s", reason)
	}
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	c := &relayPacketConn{PacketConn: pc, deps: &relayDeps{quotas: q}, grant: g}
	q.track(c, g)
	if err := c.Close(); err != nil {
		t.Fatalf("first Close: %v", err)
	}
	if err := c.Close(); err != nil {
		t.Fatalf("second Close: %v, want nil", err)
	}
	if n := q.count(); n != 0 {
		t.Fatalf("%d allocations counted after Close, want 0", n)
	}

	if reason := q.acquire(g); reason != "" {
		t.Fatalf("acquire: %s", reason)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l := &relayListener{Listener: ln, deps: &relayDeps{quotas: q}, grant: g}
	q.track(l, g)
	if err := l.Close(); err != nil {
		t.Fatalf("first Close of the listener: %v", err)
	}
	if err := l.Close(); err != nil {
		t.Fatalf("second Close of the listener: %v, want nil", err)
	}
	if n := q.count(); n != 0 {
		t.Fatalf("%d allocations counted after the listener's Close, want 0", n)
	}
}
