package node

import (
	"net"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"
)

func TestExampleConfigsLoad(t *testing.T) {
	files, err := filepath.Glob("../configs/*.yaml")
	if err != nil || len(files) < 3 {
		t.Fatalf("example configs: %v %v", files, err)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			cfg, err := LoadConfig(f, nil, nil)
			if err != nil {
				t.Fatalf("load: %v", err)
			}
			if cfg.Organisation.Name == "" || cfg.Node.Site == "" {
				t.Errorf("loaded %+v", cfg)
			}
		})
	}
	// The single-node example is the defaults written out.
	cfg, err := LoadConfig("../configs/single-node.yaml", nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	def := Default()
	def.DataDir = "./siteline-data"
	if !reflect.DeepEqual(cfg, def) {
		t.Errorf("single-node.yaml differs from Default():\n got %+v\nwant %+v", cfg, def)
	}
}

func TestConfigLayers(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "c.yaml")
	os.WriteFile(file, []byte("http:\n  listen: 127.0.0.1:9000\nlog:\n  level: debug\n"), 0o600)
	env := []string{"SITELINE_HTTP_LISTEN=127.0.0.1:9100", "SITELINE_AUTH_IDLE_TTL=30m", "HOME=/x"}
	cfg, err := LoadConfig(file, env, func(c *Config) { c.Log.Level = "warn" })
	if err != nil {
		t.Fatal(err)
	}
	if cfg.HTTP.Listen != "127.0.0.1:9100" {
		t.Errorf("env did not override file: %s", cfg.HTTP.Listen)
	}
	if cfg.Auth.IdleTTL != 30*time.Minute {
		t.Errorf("duration from env: %s", cfg.Auth.IdleTTL)
	}
	if cfg.Log.Level != "warn" {
		t.Errorf("flag did not override file: %s", cfg.Log.Level)
	}
}

func TestConfigErrorsNameTheKey(t *testing.T) {
	cases := []struct {
		name, yaml string
		env        []string
		want       string
	}{
		{"unknown key", "htttp:\n  listen: :1\n", nil, "htttp"},
		{"wrong type", "http:\n  body_limit: lots\n", nil, "body_limit"},
		{"bad listen", "http:\n  listen: nowhere\n", nil, "http.listen"},
		{"bad tls", "http:\n  tls: maybe\n", nil, "http.tls"},
		{"tls files", "http:\n  tls: files\n", nil, "http.tls"},
		{"bad level", "log:\n  level: loud\n", nil, "log.level"},
		{"member link too long", "invite:\n  member_link_ttl: 2400h\n", nil, "invite.member_link_ttl"},
		{"bad email", "organisation:\n  admin_email: nobody\n", nil, "organisation.admin_email"},
		{"idle above ttl", "auth:\n  session_ttl: 1h\n  idle_ttl: 2h\n", nil, "auth.idle_ttl"},
		{"idle after too short", "supervision:\n  idle_after: 1s\n", nil, "supervision.idle_after"},
		{"raft heartbeat too short", "raft:\n  heartbeat_timeout: 10ms\n", nil, "raft.heartbeat_timeout"},
		{"bad node id", "node:\n  id: a/b\n", nil, "node.id"},
		{"no ice udp", "media:\n  ice_udp: \"\"\n", nil, "media.ice_udp"},
		{"bad ice tcp", "media:\n  ice_tcp: nowhere\n", nil, "media.ice_tcp"},
		{"bad public ip", "media:\n  public_ips: [not-an-ip]\n", nil, "media.public_ips"},
		{"bad copy policy", "media:\n  copy_from_sites: sometimes\n", nil, "media.copy_from_sites"},
		{"bad turn udp", "turn:\n  udp: nowhere\n", nil, "turn.udp"},
		{"turn tls without cert", "http:\n  tls: \"off\"\nturn:\n  tls: :5349\n", nil, "turn.tls"},
		{"short turn secret", "turn:\n  secret: short\n", nil, "turn.secret"},
		{"loopback peers", "turn:\n  allowed_peers: [127.0.0.0/8]\n", nil, "turn.allowed_peers"},
		{"peers of a reserved range", "turn:\n  allowed_peers: [100.64.0.0/10]\n", nil, "turn.allowed_peer_addrs"},
		{"exact peer on the relay", "turn:\n  allowed_peer_addrs: [\"127.0.0.1:3478\"]\n", nil, "turn.allowed_peer_addrs: entry 0, 127.0.0.1:3478, is the relay's own listener"},
		{"bad peers env", "", []string{"SITELINE_TURN_ALLOWED_PEERS=10.0.0.0/8,nope"}, "turn.allowed_peers"},
		{"unknown env", "", []string{"SITELINE_HTTP_LISTN=:1"}, "SITELINE_HTTP_LISTN"},
		{"bad env duration", "", []string{"SITELINE_AUTH_LOGIN_WINDOW=soon"}, "SITELINE_AUTH_LOGIN_WINDOW"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			file := filepath.Join(t.TempDir(), "c.yaml")
			os.WriteFile(file, []byte(c.yaml), 0o600)
			_, err := LoadConfig(file, c.env, nil)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("error = %v, want one naming %q", err, c.want)
			}
			if err != nil && regexp.MustCompile(`\bAllowed[A-Z]|\bMax[A-Z]|\bCredentialTTL`).MatchString(err.Error()) {
				t.Errorf("error = %v names a Go field, not its YAML key", err)
			}
		})
	}
}

// allowed_peer_addrs opens UDP addresses: one that shares its number with
// the relay's TCP listener is another socket, and allowed (the SFU's media
// port may draw the number of turn.tcp).
func TestAllowedPeerAddrOnTheTCPListenersNumber(t *testing.T) {
	file := filepath.Join(t.TempDir(), "c.yaml")
	yaml := "turn:\n  tcp: 127.0.0.1:3479\n  allowed_peer_addrs: [\"127.0.0.1:3479\"]\n"
	if err := os.WriteFile(file, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadConfig(file, nil, nil); err != nil {
		t.Fatalf("LoadConfig = %v, want the UDP peer on turn.tcp's number accepted", err)
	}
}

// The address a node gives out (in presence announcements, links, sign-on
// redirects) is one other machines can open: public_url when set, else
// the listener's address, with raft.advertise's host for a listener on
// every interface.
func TestPublicURL(t *testing.T) {
	tcp := func(s string) net.Addr { a, _ := net.ResolveTCPAddr("tcp", s); return a }
	for _, c := range []struct {
		name                     string
		listen, tls, public, adv string
		bound                    net.Addr
		want                     string
	}{
		{"public_url wins", "0.0.0.0:8443", "", "https://plant.example.com", "10.0.0.5:7000", nil, "https://plant.example.com"},
		{"bound address", "127.0.0.1:0", "", "", "", tcp("127.0.0.1:40001"), "https://127.0.0.1:40001"},
		{"plain HTTP", "127.0.0.1:8080", "off", "", "", nil, "http://127.0.0.1:8080"},
		{"every interface, alone", "0.0.0.0:8443", "", "", "", nil, "https://localhost:8443"},
		{"every interface, IPv6", "[::]:8443", "", "", "", tcp("[::]:8443"), "https://localhost:8443"},
		{"every interface, federated", ":8443", "", "", "plant-a.lan:7000", nil, "https://plant-a.lan:8443"},
		{"every interface, federated by address", "0.0.0.0:0", "", "", "[fd00::5]:7000", tcp("0.0.0.0:41000"), "https://[fd00::5]:41000"},
		{"a named host stays", "plant-a.lan:8443", "", "", "10.0.0.5:7000", nil, "https://plant-a.lan:8443"},
	} {
		var cfg Config
		cfg.HTTP.Listen, cfg.HTTP.TLS, cfg.HTTP.PublicURL, cfg.Raft.Advertise = c.listen, c.tls, c.public, c.adv
		if got := publicURL(cfg, c.bound); got != c.want {
			t.Errorf("%s: %s, want %s", c.name, got, c.want)
		}
	}
}
