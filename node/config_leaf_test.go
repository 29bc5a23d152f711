package node

import (
	"strings"
	"testing"
	"time"
)

func TestLeafConfig(t *testing.T) {
	for _, c := range []struct {
		name string
		mod  func(*Config)
		err  string // "" for valid
	}{
		{"defaults", func(*Config) {}, ""},
		{"listen off", func(c *Config) { c.NATS.LeafListen = "off" }, ""},
		{"listen", func(c *Config) { c.NATS.LeafListen = "0.0.0.0:7422" }, ""},
		{"listen junk", func(c *Config) { c.NATS.LeafListen = "anywhere" }, "nats.leaf_listen"},
		{"advertise unspecified", func(c *Config) { c.NATS.LeafAdvertise = "0.0.0.0:7422" }, "nats.leaf_advertise"},
		{"advertise no port", func(c *Config) { c.NATS.LeafAdvertise = "hq.example" }, "nats.leaf_advertise"},
		{"remote", func(c *Config) { c.NATS.LeafRemotes = []string{"tls://hq.example:7422"} }, ""},
		{"remote plain", func(c *Config) { c.NATS.LeafRemotes = []string{"nats://hq.example:7422"} }, "nats.leaf_remotes"},
		{"remote no port", func(c *Config) { c.NATS.LeafRemotes = []string{"tls://hq.example"} }, "nats.leaf_remotes"},
		{"window", func(c *Config) { c.NATS.DuplicateWindow = time.Minute }, ""},
		{"window too short", func(c *Config) { c.NATS.DuplicateWindow = time.Millisecond }, "nats.duplicate_window"},
	} {
		cfg := Default()
		c.mod(&cfg)
		err := cfg.Validate()
		switch {
		case c.err == "" && err != nil:
			t.Errorf("%s: %v", c.name, err)
		case c.err != "" && (err == nil || !strings.Contains(err.Error(), c.err)):
			t.Errorf("%s: error %v, want one naming %s", c.name, err, c.err)
		}
	}
}

func TestLeafListenAndAdvertiseDefaults(t *testing.T) {
	cfg := Default()
	for _, c := range []struct {
		raftListen, raftAdvertise, leafListen, leafAdvertise string
		wantListen, bound, wantAdvertise                     string
	}{
		// A voter's leaf port follows its Raft port.
		{"0.0.0.0:7443", "hq.example:7443", "", "", "0.0.0.0:7444", "0.0.0.0:7444", "hq.example:7444"},
		// Any Raft port: any leaf port, advertised on the bound host.
		{"127.0.0.1:0", "", "", "", "127.0.0.1:0", "127.0.0.1:40001", "127.0.0.1:40001"},
		{"0.0.0.0:7443", "", "off", "", "", "", ""},
		{"0.0.0.0:7443", "", "0.0.0.0:7422", "hq.example:17422", "0.0.0.0:7422", "0.0.0.0:7422", "hq.example:17422"},
	} {
		cfg.Raft.Listen, cfg.Raft.Advertise = c.raftListen, c.raftAdvertise
		cfg.NATS.LeafListen, cfg.NATS.LeafAdvertise = c.leafListen, c.leafAdvertise
		if got := cfg.leafListen(); got != c.wantListen {
			t.Errorf("raft %s, leaf_listen %q: listen on %q, want %q", c.raftListen, c.leafListen, got, c.wantListen)
		}
		if c.bound == "" {
			continue
		}
		if got := cfg.leafAdvertise(c.bound, "10.0.0.5:7443"); got != c.wantAdvertise {
			t.Errorf("raft %s/%s, bound %s: advertise %q, want %q", c.raftListen, c.raftAdvertise, c.bound, got, c.wantAdvertise)
		}
	}
	// Bound to every address with no Raft advertise: the Raft address.
	cfg.Raft.Advertise, cfg.NATS.LeafAdvertise = "", ""
	if got := cfg.leafAdvertise("0.0.0.0:7444", "10.0.0.5:7443"); got != "10.0.0.5:7444" {
		t.Errorf("advertise = %q, want 10.0.0.5:7444", got)
	}
}
