package turn

import (
	"bytes"
	"crypto/tls"
	"log/slog"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pion/turn/v5"
)

func validConfig() Config {
	return Config{
		ListenUDP:   "127.0.0.1:0",
		RelayBindIP: "127.0.0.1",
		Secret:      []byte("0123456789abcdef0123456789abcdef"),
	}
}

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*Config)
		field  string // "" means valid
	}{
		{"valid", func(*Config) {}, ""},
		{"tls listener", func(c *Config) {
			c.ListenTLS = "127.0.0.1:0"
			c.TLSConfig = &tls.Config{Certificates: []tls.Certificate{{}}}
		}, ""},
		{"no listener", func(c *Config) { c.ListenUDP = "" }, "ListenUDP"},
		{"bad listen address", func(c *Config) { c.ListenTCP = "nohostport" }, "ListenTCP"},
		{"tls without certificate", func(c *Config) { c.ListenTLS = ":0" }, "TLSConfig"},
		{"bad bind ip", func(c *Config) { c.RelayBindIP = "localhost" }, "RelayBindIP"},
		{"no relay ip", func(c *Config) { c.RelayBindIP = "0.0.0.0" }, "RelayIP"},
		{"relay ip given", func(c *Config) { c.RelayBindIP = ""; c.RelayIP = net.ParseIP("203.0.113.7") }, ""},
		{"unspecified relay ip", func(c *Config) { c.RelayIP = net.IPv4zero }, "RelayIP"},
		{"port range", func(c *Config) { c.PortMin, c.PortMax = 50000, 50100 }, ""},
		{"port min only", func(c *Config) { c.PortMin = 50000 }, "PortMax"},
		{"port max only", func(c *Config) { c.PortMax = 50000 }, "PortMin"},
		{"port max too big", func(c *Config) { c.PortMin, c.PortMax = 50000, 70000 }, "PortMax"},
		{"short secret", func(c *Config) { c.Secret = []byte("short") }, "Secret"},
		{"negative ttl", func(c *Config) { c.CredentialTTL = -time.Second }, "CredentialTTL"},
		{"long ttl", func(c *Config) { c.CredentialTTL = 30 * 24 * time.Hour }, "CredentialTTL"},
		{"allowed private", func(c *Config) {
			c.AllowedPeers = []netip.Prefix{netip.MustParsePrefix("10.20.0.0/16"), netip.MustParsePrefix("fd00::/8")}
		}, ""},
		{"allowed everything", func(c *Config) { c.AllowedPeers = []netip.Prefix{netip.MustParsePrefix("0.0.0.0/0")} }, "AllowedPeers[0]"},
		{"allowed loopback", func(c *Config) {
			c.AllowedPeers = []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("127.0.0.0/8")}
		}, "AllowedPeers[1]"},
		{"allowed link-local", func(c *Config) { c.AllowedPeers = []netip.Prefix{netip.MustParsePrefix("169.254.0.0/16")} }, "AllowedPeers[0]"},
		{"allowed cgnat", func(c *Config) { c.AllowedPeers = []netip.Prefix{netip.MustParsePrefix("100.64.0.0/16")} }, "AllowedPeers[0]"},
		{"allowed mapped", func(c *Config) { c.AllowedPeers = []netip.Prefix{netip.MustParsePrefix("::ffff:10.0.0.0/104")} }, "AllowedPeers[0]"},
		{"allowed invalid", func(c *Config) { c.AllowedPeers = []netip.Prefix{{}} }, "AllowedPeers[0]"},
		{"exact addr", func(c *Config) { c.AllowedPeerAddrs = []netip.AddrPort{netip.MustParseAddrPort("127.0.0.1:5000")} }, ""},
		{"exact addr port 0", func(c *Config) { c.AllowedPeerAddrs = []netip.AddrPort{netip.MustParseAddrPort("127.0.0.1:0")} }, "AllowedPeerAddrs[0]"},
		{"exact addr unspecified", func(c *Config) { c.AllowedPeerAddrs = []netip.AddrPort{netip.MustParseAddrPort("0.0.0.0:5000")} }, "AllowedPeerAddrs[0]"},
		{"exact addr in relay range", func(c *Config) {
			c.PortMin, c.PortMax = 50000, 50100
			c.AllowedPeerAddrs = []netip.AddrPort{netip.MustParseAddrPort("10.0.0.1:50050")}
		}, "AllowedPeerAddrs[0]"},
		{"negative user quota", func(c *Config) { c.MaxAllocationsPerUser = -1 }, "MaxAllocationsPerUser"},
		{"total below user quota", func(c *Config) { c.MaxAllocationsPerUser, c.MaxAllocations = 5, 2 }, "MaxAllocations"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := validConfig()
			tt.mutate(&c)
			err := c.Validate()
			switch {
			case tt.field == "" && err != nil:
				t.Fatalf("Validate() = %v, want nil", err)
			case tt.field != "" && err == nil:
				t.Fatalf("Validate() = nil, want an error naming %s", tt.field)
			case tt.field != "" && !strings.Contains(err.Error(), tt.field+":"):
				t.Fatalf("Validate() = %v, want it to name %s", err, tt.field)
			}
			if tt.field != "" {
				if _, err := New(c); err == nil {
					t.Fatal("New accepted a config Validate refuses")
				}
			}
		})
	}
}

func TestConfigDefaults(t *testing.T) {
	c := validConfig().withDefaults()
	if c.Realm != DefaultRealm || c.CredentialTTL != DefaultCredentialTTL ||
		c.MaxAllocationsPerUser != DefaultMaxAllocationsPerUser || c.MaxAllocations != DefaultMaxAllocations {
		t.Errorf("defaults not applied: %+v", c)
	}
	if !c.RelayIP.Equal(net.ParseIP("127.0.0.1")) {
		t.Errorf("RelayIP = %v, want the RelayBindIP 127.0.0.1", c.RelayIP)
	}
}

func TestParseUsername(t *testing.T) {
	s, err := New(validConfig())
	if err != nil {
		t.Fatal(err)
	}
	now := time.Unix(1_800_000_000, 0)
	tests := []struct {
		username, realm string
		user, reason    string
	}{
		{"1800000060:alice", DefaultRealm, "alice", ""},
		{"1800000000:alice", DefaultRealm, "alice", ""}, // expires this second
		{"1800000060:a:b", DefaultRealm, "a:b", ""},
		{"1799999999:alice", DefaultRealm, "", authExpired},
		{"1800000060:alice", "other", "", authRealm},
		{"alice", DefaultRealm, "", authMalformed},
		{"1800000060", DefaultRealm, "", authMalformed},
		{"1800000060:", DefaultRealm, "", authMalformed},
		{":alice", DefaultRealm, "", authMalformed},
		{"+1800000060:alice", DefaultRealm, "", authMalformed},
		{"-1:alice", DefaultRealm, "", authMalformed},
		{"18e8:alice", DefaultRealm, "", authMalformed},
		{"99999999999999999999:alice", DefaultRealm, "", authMalformed},
	}
	for _, tt := range tests {
		user, reason := s.parseUsername(tt.username, tt.realm, now)
		if user != tt.user || reason != tt.reason {
			t.Errorf("parseUsername(%q, %q) = %q, %q; want %q, %q", tt.username, tt.realm, user, reason, tt.user, tt.reason)
		}
	}
}

func TestCredentials(t *testing.T) {
	s, err := New(validConfig())
	if err != nil {
		t.Fatal(err)
	}
	now := time.Unix(time.Now().Unix(), 500_000_000)
	username, password, expires := s.Credentials(Grant{Org: "acme", Call: "c1", User: "alice"}, now)
	if want := time.Unix(now.Unix(), 0).Add(DefaultCredentialTTL); !expires.Equal(want) {
		t.Errorf("expires = %v, want %v", expires, want)
	}
	if want := strconv.FormatInt(expires.Unix(), 10) + ":acme:c1:alice"; username != want {
		t.Errorf("username = %q, want %q", username, want)
	}
	// pion's own TURN REST handler (coturn's use-auth-secret scheme) must
	// derive the same key from the same secret.
	pionAuth := turn.LongTermTURNRESTAuthHandler("0123456789abcdef0123456789abcdef", pionLogs(slog.New(slog.DiscardHandler)).NewLogger("turn"))
	// (pion's handler takes the field after the expiry as the user.)
	user, key, ok := pionAuth(&turn.RequestAttributes{Username: username, Realm: DefaultRealm})
	if !ok || user != "acme" {
		t.Fatalf("pion handler = %q, %v", user, ok)
	}
	if want := turn.GenerateAuthKey(username, DefaultRealm, password); !bytes.Equal(key, want) {
		t.Errorf("password %q does not match pion's TURN REST derivation", password)
	}
	ourUser, ourKey, ok := s.authenticate(&turn.RequestAttributes{Username: username, Realm: DefaultRealm})
	if !ok || ourUser != "acme:c1:alice" || !bytes.Equal(ourKey, key) {
		t.Errorf("authenticate = %q, %x, %v; want acme:c1:alice, %x, true", ourUser, ourKey, ok, key)
	}
}
