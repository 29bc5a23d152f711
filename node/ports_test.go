package node

import (
	"context"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"siteline/node/apiclient"
)

func TestJoinableAt(t *testing.T) {
	for _, tc := range []struct {
		advertise, addr string
		ok              bool
	}{
		{"", "127.0.0.1:41234", false},
		{"", "[::1]:41234", false},
		{"", "localhost:7000", false},
		{"", "10.0.0.5:7000", true},
		{"", "hq.example.com:7000", true},
		{"127.0.0.1:7000", "127.0.0.1:7000", true}, // named on purpose: one machine
	} {
		err := joinableAt(tc.advertise, tc.addr)
		if (err == nil) != tc.ok {
			t.Errorf("joinableAt(%q, %q) = %v, want ok %v", tc.advertise, tc.addr, err, tc.ok)
		}
		if err != nil && (!strings.Contains(err.Error(), tc.addr) || !strings.Contains(err.Error(), "raft.listen") || !strings.Contains(err.Error(), "raft.advertise")) {
			t.Errorf("joinableAt(%q, %q) = %q: want the address and the settings to set", tc.advertise, tc.addr, err)
		}
	}
}

// A node on the single-node defaults (Raft on 127.0.0.1:0, the leaf port
// chosen with it) keeps the ports it chose across a restart, and refuses
// to mint join tokens, saying what to set: no other node could reach it.
func TestChosenPortsAreKeptAndLoopbackNodesMintNoTokens(t *testing.T) {
	cfg := testConfig(t, shortTempDir(t))
	if cfg.Raft.Listen != "127.0.0.1:0" || cfg.Raft.Advertise != "" || cfg.NATS.LeafListen != "" {
		t.Fatalf("not the single-node defaults: raft %q advertise %q leaf %q", cfg.Raft.Listen, cfg.Raft.Advertise, cfg.NATS.LeafListen)
	}
	first := startNodeAsIs(t, cfg, Options{})
	raftAddr, leafAddr := first.n.raft.Addr(), first.n.bus.LeafAddr()
	for _, a := range []string{raftAddr, leafAddr} {
		if _, port, err := net.SplitHostPort(a); err != nil || port == "0" {
			t.Fatalf("listening at %q", a)
		}
	}

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	err := apiclient.Socket(first.n.AdminSocket()).Do(ctx, "POST", "/cluster/tokens", map[string]string{"ttl": "10m"}, nil)
	var ae *apiclient.APIError
	if !errors.As(err, &ae) || ae.Status != 400 || !strings.Contains(ae.Message, "cannot be joined") ||
		!strings.Contains(ae.Message, raftAddr) || !strings.Contains(ae.Message, "raft.listen") {
		t.Errorf("mint a join token on loopback = %v; want 400 naming %s and raft.listen", err, raftAddr)
	}

	if err := first.n.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	again := startNodeAsIs(t, cfg, Options{})
	if got := again.n.raft.Addr(); got != raftAddr {
		t.Errorf("Raft address after a restart = %s, want %s", got, raftAddr)
	}
	if got := again.n.bus.LeafAddr(); got != leafAddr {
		t.Errorf("leaf address after a restart = %s, want %s", got, leafAddr)
	}
}
