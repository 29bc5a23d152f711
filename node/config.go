package node

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/mail"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"siteline/cluster/raft"
	"siteline/node/attachments"
	"siteline/node/federation"
)

// Config is the whole configuration of a node. It is read from a YAML file,
// then SITELINE_* environment variables, then flags, in that order; Default
// holds every default in one place and Validate names the key at fault.
type Config struct {
	// DataDir holds everything the node stores: SQLite, Raft, JetStream,
	// media, the TLS certificate it generated.
	DataDir string `yaml:"data_dir"`

	Node         NodeConfig         `yaml:"node"`
	Organisation OrganisationConfig `yaml:"organisation"`
	HTTP         HTTPConfig         `yaml:"http"`
	Raft         RaftConfig         `yaml:"raft"`
	Cluster      ClusterConfig      `yaml:"cluster"`
	NATS         NATSConfig         `yaml:"nats"`
	Media        MediaConfig        `yaml:"media"`
	TURN         TURNConfig         `yaml:"turn"`
	Log          LogConfig          `yaml:"log"`
	Auth         AuthConfig         `yaml:"auth"`
	Mail         MailConfig         `yaml:"mail"`
	SMS          SMSConfig          `yaml:"sms"`
	Tokens       TokensConfig       `yaml:"tokens"`
	Metrics      MetricsConfig      `yaml:"metrics"`
	Invite       InviteConfig       `yaml:"invite"`
	Queue        QueueConfig        `yaml:"queue"`
	Supervision  SupervisionConfig  `yaml:"supervision"`
	Storage      StorageConfig      `yaml:"storage"`
}

// NodeConfig names this node and its site.
type NodeConfig struct {
	// ID is generated on first start and kept in the data directory when
	// left empty.
	ID string `yaml:"id"`
	// Site is the plant or headquarters this node serves; used on first
	// start to create it.
	Site string `yaml:"site"`
}

// OrganisationConfig seeds a brand-new node.
type OrganisationConfig struct {
	Name       string `yaml:"name"`
	AdminEmail string `yaml:"admin_email"`
	AdminName  string `yaml:"admin_name"`
}

// HTTPConfig is the web UI, API and signaling listener.
type HTTPConfig struct {
	Listen string `yaml:"listen"`
	// TLS is "auto" (a self-signed certificate generated into the data
	// directory), "files" (CertFile and KeyFile) or "off" (plain HTTP, for
	// use behind a TLS-terminating proxy or on localhost).
	TLS      string `yaml:"tls"`
	CertFile string `yaml:"cert_file"`
	KeyFile  string `yaml:"key_file"`
	// PublicURL is the address users open; derived from Listen when empty.
	PublicURL string `yaml:"public_url"`
	// TrustedProxies are the reverse proxies in front of the node, as
	// CIDRs or addresses: only a request from one of them has its
	// X-Forwarded-For (the client's address, for login throttling and the
	// session list), X-Forwarded-Proto and X-Forwarded-Host believed.
	TrustedProxies []string `yaml:"trusted_proxies"`
	// BodyLimit is the largest request body accepted, in bytes.
	BodyLimit       int           `yaml:"body_limit"`
	ShutdownTimeout time.Duration `yaml:"shutdown_timeout"`
}

// RaftConfig is the organisation data's replication transport.
type RaftConfig struct {
	Listen    string `yaml:"listen"`
	Advertise string `yaml:"advertise"`
	// LinearizableReadsPerSecond and LinearizableReadBurst limit each
	// user's API reads with Siteline-Read: linearizable, each of which
	// writes a barrier to the Raft log: bursts of LinearizableReadBurst,
	// refilled at LinearizableReadsPerSecond; beyond, 429.
	LinearizableReadsPerSecond int `yaml:"linearizable_reads_per_second"`
	LinearizableReadBurst      int `yaml:"linearizable_read_burst"`
	// HeartbeatTimeout is how long a voter goes without hearing from the
	// leader before it calls an election (a time drawn between it and
	// twice it); the leader steps down after half of it without hearing
	// from a majority. Raise it where voters are far apart or their hosts
	// slow. A node that is the only voter elects itself at once whatever
	// it is.
	HeartbeatTimeout time.Duration `yaml:"heartbeat_timeout"`
}

// ClusterConfig is the federation's mutual TLS. Empty files mean the
// federation's own CA in DATA/pki (created at first start, or received when
// joining); set all three to bring your own PKI.
type ClusterConfig struct {
	CAFile   string `yaml:"ca_file"`
	CertFile string `yaml:"cert_file"`
	KeyFile  string `yaml:"key_file"`
}

// NATSConfig is the embedded message bus, which also carries site history
// to headquarters over NATS leaf node links (mutual TLS with the
// federation's certificates).
type NATSConfig struct {
	// Listen opens a client port for other nodes; empty keeps the bus
	// in-process only.
	Listen string `yaml:"listen"`
	// LeafListen is where a headquarters voter accepts the plants' leaf
	// links. Empty means the host of raft.listen with the Raft port plus
	// one (any free port when raft.listen asks for any); "off" accepts
	// none. Only voters listen unless it is set.
	LeafListen string `yaml:"leaf_listen"`
	// LeafAdvertise is the host:port plants are told to link to; empty
	// means the host of raft.advertise (or of the listener) and the leaf
	// port.
	LeafAdvertise string `yaml:"leaf_advertise"`
	// LeafRemotes are the headquarters leaf URLs (tls://host:port) a plant
	// links to; empty means the one learnt when the node joined.
	LeafRemotes []string `yaml:"leaf_remotes"`
	// DuplicateWindow is how long JetStream drops a republished history
	// message by its id; 0 means 2m. Headquarters applies by id anyway.
	DuplicateWindow time.Duration `yaml:"duplicate_window"`
}

// LogConfig sets the structured logger.
type LogConfig struct {
	Level  string `yaml:"level"`  // debug, info, warn, error
	Format string `yaml:"format"` // text or json
}

// AuthConfig sets login and session behaviour.
type AuthConfig struct {
	SessionTTL time.Duration `yaml:"session_ttl"`
	IdleTTL    time.Duration `yaml:"idle_ttl"`
	// LoginFailuresPerAddress is how many failed logins an address may
	// make per LoginWindow; then it is refused with 429 until the window
	// ends. LoginFailuresPerAccount is how many an account may have before
	// attempts on it from addresses that failed recently wait a delay that
	// doubles with each failure (up to LoginWindow); an address without
	// failures is not held.
	LoginFailuresPerAccount int           `yaml:"login_failures_per_account"`
	LoginFailuresPerAddress int           `yaml:"login_failures_per_address"`
	LoginWindow             time.Duration `yaml:"login_window"`
}

// Default returns the configuration of a complete single node that needs
// no file: data in ./siteline-data, HTTPS on port 8443 with a generated
// certificate.
func Default() Config {
	return Config{
		DataDir: "siteline-data",
		Node:    NodeConfig{Site: "Main site"},
		Organisation: OrganisationConfig{
			Name:       "My organisation",
			AdminEmail: "admin@siteline.local",
			AdminName:  "Administrator",
		},
		HTTP: HTTPConfig{
			Listen:          ":8443",
			TLS:             "auto",
			BodyLimit:       4 << 20,
			ShutdownTimeout: 15 * time.Second,
		},
		Raft: RaftConfig{Listen: "127.0.0.1:0", LinearizableReadsPerSecond: 10, LinearizableReadBurst: 20,
			HeartbeatTimeout: raft.DefaultHeartbeatTimeout},
		// Every listener has its own number, whatever the protocol: a
		// relayed or misdirected packet to one never reaches another.
		Media: MediaConfig{ICEUDP: ":8445", ICETCP: ":8444", MaxUpload: 50 << 20, MaxConcurrentUploads: 8,
			EmptyCallGrace: 2 * time.Minute, UnjoinedCallTTL: time.Hour, MaxParticipants: 50, MaxActiveCalls: 10,
			DirectTimeout: 30 * time.Second, SweepEvery: attachments.DefaultSweepEvery, SweepGrace: attachments.DefaultSweepGrace},
		TURN: TURNConfig{UDP: ":3478", TCP: ":3478", CredentialTTL: 10 * time.Minute,
			MaxAllocations: 1000, MaxAllocationsPerUser: 20, MaxAllocationsPerOrg: 500},
		Log: LogConfig{Level: "info", Format: "text"},
		Auth: AuthConfig{
			SessionTTL:              7 * 24 * time.Hour,
			IdleTTL:                 12 * time.Hour,
			LoginFailuresPerAccount: 5,
			LoginFailuresPerAddress: 20,
			LoginWindow:             15 * time.Minute,
		},
		Mail:        MailConfig{SMTPPort: 587, TLS: "starttls"},
		SMS:         SMSConfig{Provider: "log"},
		Tokens:      defaultTokens(),
		Invite:      InviteConfig{EmailsPerUserPerHour: 20, EmailsPerOrgPerHour: 200, MemberLinkTTL: 7 * 24 * time.Hour},
		Queue:       defaultQueue(),
		Supervision: SupervisionConfig{IdleAfter: 5 * time.Minute},
		Storage:     defaultStorage(),
	}
}

// LoadFile decodes a YAML file over cfg. Unknown keys are errors.
func LoadFile(cfg *Config, path string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("read config: %w", err)
	}
	return decodeYAML(cfg, data, path)
}

func decodeYAML(cfg *Config, data []byte, name string) error {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(cfg); err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("config %s: %s", name, withSourceLine(err, data))
	}
	return nil
}

// withSourceLine adds the offending line to a YAML error ("line 3: cannot
// unmarshal !!str into int" names no key; the line does).
func withSourceLine(err error, data []byte) string {
	msg := err.Error()
	var n int
	if i := strings.Index(msg, "line "); i >= 0 {
		fmt.Sscanf(msg[i:], "line %d", &n)
	}
	lines := strings.Split(string(data), "\n")
	if n < 1 || n > len(lines) {
		return msg
	}
	return fmt.Sprintf("%s (at %q)", msg, strings.TrimSpace(lines[n-1]))
}

// EnvPrefix starts every environment variable the node reads.
const EnvPrefix = "SITELINE_"

// LoadEnv overlays SITELINE_* variables: each key of the YAML file has one,
// upper case with dots as underscores (http.listen is SITELINE_HTTP_LISTEN).
// A variable that names no key is an error, so a typo is not ignored.
func LoadEnv(cfg *Config, environ []string) error {
	fields := map[string]reflect.Value{}
	collectFields(reflect.ValueOf(cfg).Elem(), "", fields)
	for _, kv := range environ {
		name, value, ok := strings.Cut(kv, "=")
		if !ok || !strings.HasPrefix(name, EnvPrefix) {
			continue
		}
		key := strings.ToLower(strings.TrimPrefix(name, EnvPrefix))
		f, ok := fields[key]
		if !ok {
			if name == EnvPrefix+"CONFIG" {
				continue // names the file, read by the caller
			}
			return fmt.Errorf("environment %s: no such setting", name)
		}
		if err := setField(f, value); err != nil {
			return fmt.Errorf("environment %s: %w", name, err)
		}
	}
	return nil
}

// collectFields maps "http_listen" style keys to settable leaf fields.
func collectFields(v reflect.Value, prefix string, out map[string]reflect.Value) {
	t := v.Type()
	for i := 0; i < t.NumField(); i++ {
		tag := strings.Split(t.Field(i).Tag.Get("yaml"), ",")[0]
		if tag == "" || tag == "-" {
			continue
		}
		key := prefix + tag
		if f := v.Field(i); f.Kind() == reflect.Struct {
			collectFields(f, key+"_", out)
		} else {
			out[key] = f
		}
	}
}

func setField(f reflect.Value, s string) error {
	switch f.Interface().(type) {
	case time.Duration:
		d, err := time.ParseDuration(s)
		if err != nil {
			return fmt.Errorf("%q is not a duration (such as 30s or 5m)", s)
		}
		f.SetInt(int64(d))
	case string:
		f.SetString(s)
	case int:
		n, err := strconv.Atoi(s)
		if err != nil {
			return fmt.Errorf("%q is not a whole number", s)
		}
		f.SetInt(int64(n))
	case bool:
		b, err := strconv.ParseBool(s)
		if err != nil {
			return fmt.Errorf("%q is not true or false", s)
		}
		f.SetBool(b)
	case []string: // a comma-separated list
		var list []string
		for _, item := range strings.Split(s, ",") {
			if item = strings.TrimSpace(item); item != "" {
				list = append(list, item)
			}
		}
		f.Set(reflect.ValueOf(list))
	default:
		if f.Kind() == reflect.String { // a named string: a secret
			f.SetString(s)
			return nil
		}
		return fmt.Errorf("unsupported setting type %s", f.Type())
	}
	return nil
}

// Validate checks every setting and names the first key at fault.
func (c *Config) Validate() error {
	bad := func(key, format string, args ...any) error {
		return fmt.Errorf("config %s: %s", key, fmt.Sprintf(format, args...))
	}
	if strings.TrimSpace(c.DataDir) == "" {
		return bad("data_dir", "must not be empty")
	}
	if c.Node.ID != "" && !validNodeID(c.Node.ID) {
		return bad("node.id", "%q may hold only letters, digits, '-' and '_'", c.Node.ID)
	}
	if strings.TrimSpace(c.Node.Site) == "" {
		return bad("node.site", "must not be empty")
	}
	if strings.TrimSpace(c.Organisation.Name) == "" {
		return bad("organisation.name", "must not be empty")
	}
	if _, err := mail.ParseAddress(c.Organisation.AdminEmail); err != nil {
		return bad("organisation.admin_email", "%q is not an e-mail address", c.Organisation.AdminEmail)
	}
	if err := validAddr(c.HTTP.Listen); err != nil {
		return bad("http.listen", "%v", err)
	}
	switch c.HTTP.TLS {
	case "auto", "off":
	case "files":
		if c.HTTP.CertFile == "" || c.HTTP.KeyFile == "" {
			return bad("http.tls", `"files" needs http.cert_file and http.key_file`)
		}
	default:
		return bad("http.tls", "%q is not one of auto, files, off", c.HTTP.TLS)
	}
	if c.HTTP.PublicURL != "" && !strings.HasPrefix(c.HTTP.PublicURL, "http://") && !strings.HasPrefix(c.HTTP.PublicURL, "https://") {
		return bad("http.public_url", "%q must start with http:// or https://", c.HTTP.PublicURL)
	}
	if _, err := c.HTTP.trustedProxies(); err != nil {
		return bad("http.trusted_proxies", "%v", err)
	}
	if c.HTTP.BodyLimit < 1024 {
		return bad("http.body_limit", "%d is below the minimum of 1024 bytes", c.HTTP.BodyLimit)
	}
	if c.HTTP.ShutdownTimeout <= 0 {
		return bad("http.shutdown_timeout", "must be positive")
	}
	if err := validAddr(c.Raft.Listen); err != nil {
		return bad("raft.listen", "%v", err)
	}
	if c.Raft.Advertise != "" {
		host, _, err := net.SplitHostPort(c.Raft.Advertise)
		if err != nil || host == "" || net.ParseIP(host) != nil && net.ParseIP(host).IsUnspecified() {
			return bad("raft.advertise", "%q must be a reachable host:port", c.Raft.Advertise)
		}
	}
	if c.Raft.LinearizableReadsPerSecond < 1 {
		return bad("raft.linearizable_reads_per_second", "must be at least 1")
	}
	if c.Raft.LinearizableReadBurst < 1 {
		return bad("raft.linearizable_read_burst", "must be at least 1")
	}
	if d := c.Raft.HeartbeatTimeout; d < 100*time.Millisecond || d > 10*time.Second {
		return bad("raft.heartbeat_timeout", "is %s; it must be between 100ms and 10s", d)
	}
	if cl := c.Cluster; cl.CAFile != "" || cl.CertFile != "" || cl.KeyFile != "" {
		for _, f := range [][2]string{{"cluster.ca_file", cl.CAFile}, {"cluster.cert_file", cl.CertFile}, {"cluster.key_file", cl.KeyFile}} {
			if f[1] == "" {
				return bad(f[0], "must be set with the other cluster files (bring-your-own PKI needs all three)")
			}
		}
	}
	if c.NATS.Listen != "" {
		if err := validAddr(c.NATS.Listen); err != nil {
			return bad("nats.listen", "%v", err)
		}
	}
	if err := c.validateLeaf(); err != nil {
		return err
	}
	if err := c.validateMedia(); err != nil {
		return err
	}
	switch c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		return bad("log.level", "%q is not one of debug, info, warn, error", c.Log.Level)
	}
	switch c.Log.Format {
	case "text", "json":
	default:
		return bad("log.format", "%q is not one of text, json", c.Log.Format)
	}
	if c.Auth.SessionTTL < time.Minute {
		return bad("auth.session_ttl", "must be at least 1m")
	}
	if c.Auth.IdleTTL < time.Minute || c.Auth.IdleTTL > c.Auth.SessionTTL {
		return bad("auth.idle_ttl", "must be between 1m and auth.session_ttl")
	}
	if c.Auth.LoginFailuresPerAccount < 1 {
		return bad("auth.login_failures_per_account", "must be at least 1")
	}
	if c.Auth.LoginFailuresPerAddress < 1 {
		return bad("auth.login_failures_per_address", "must be at least 1")
	}
	if c.Auth.LoginWindow < time.Second {
		return bad("auth.login_window", "must be at least 1s")
	}
	if err := c.validateQueue(); err != nil {
		return err
	}
	if err := c.validateInvite(); err != nil {
		return err
	}
	if err := c.validateStorage(); err != nil {
		return err
	}
	if d := c.Supervision.IdleAfter; d < 10*time.Second || d > 24*time.Hour {
		return bad("supervision.idle_after", "is %s; it must be between 10s and 24h", d)
	}
	if t := c.Metrics.Token; t != "" && len(t) < minMetricsToken {
		return bad("metrics.token", "is %d bytes, at least %d are needed", len(t), minMetricsToken)
	}
	return c.validateTokens()
}

// trustedProxies parses http.trusted_proxies; an address stands for itself.
func (h HTTPConfig) trustedProxies() ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, s := range h.TrustedProxies {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			a, aerr := netip.ParseAddr(s)
			if aerr != nil {
				return nil, fmt.Errorf("%q is neither a CIDR (10.0.0.0/8) nor an address", s)
			}
			p = netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen())
		}
		out = append(out, p.Masked())
	}
	return out, nil
}

func validAddr(addr string) error {
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("%q is not host:port (%v)", addr, err)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		return fmt.Errorf("%q has no valid port", addr)
	}
	return nil
}

func validNodeID(id string) bool { return federation.ValidNodeID(id) }

// path returns a file or folder inside the data directory.
func (c *Config) path(elem ...string) string {
	return filepath.Join(append([]string{c.DataDir}, elem...)...)
}
