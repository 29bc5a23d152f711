package raft

import (
	"crypto/tls"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"time"

	hraft "github.com/hashicorp/raft"
)

// Defaults for Config. The timeouts let a single node elect itself in well
// under a second (a heartbeat timeout is drawn between HeartbeatTimeout and
// twice it) while leaving room for a few tens of milliseconds of round trip
// between federated nodes.
const (
	DefaultBindAddr           = "127.0.0.1:7000"
	DefaultApplyTimeout       = 5 * time.Second
	DefaultHeartbeatTimeout   = 500 * time.Millisecond
	DefaultElectionTimeout    = 500 * time.Millisecond
	DefaultLeaderLeaseTimeout = 250 * time.Millisecond
	DefaultCommitTimeout      = 50 * time.Millisecond
	DefaultSnapshotInterval   = 2 * time.Minute
	DefaultSnapshotThreshold  = 8192
	DefaultTrailingLogs       = 10240
	DefaultSnapshotRetain     = 2
	DefaultMaxPool            = 3
	DefaultTransportTimeout   = 10 * time.Second
	DefaultForwardRetry       = 2 * time.Second
)

// Config configures a Raft node. The zero value of every field but Dir and
// NodeID stands for its default (see WithDefaults).
type Config struct {
	// Dir holds raft.db (log and stable store) and snapshots/.
	Dir string
	// NodeID is this server's id in the Raft configuration; stable across
	// restarts.
	NodeID string
	// BindAddr is the TCP address the Raft transport listens on
	// (host:port; port 0 picks a free one).
	BindAddr string
	// AdvertiseAddr is the address other nodes dial; "" means the address
	// the transport is bound to, which must then not be unspecified.
	AdvertiseAddr string
	// Bootstrap makes a new node (no Raft state on disk) the single voter of
	// a new cluster. It is ignored when state exists.
	Bootstrap bool
	// Site labels this node in Stats (the site it serves).
	Site string
	// Logger receives Raft's logs; nil means slog.Default().
	Logger *slog.Logger

	// ApplyTimeout bounds how long Propose, Barrier and membership changes
	// wait to be enqueued when the context has no earlier deadline.
	ApplyTimeout time.Duration

	// Raft timing; see hashicorp/raft's Config.
	HeartbeatTimeout   time.Duration
	ElectionTimeout    time.Duration
	LeaderLeaseTimeout time.Duration
	CommitTimeout      time.Duration

	// Snapshot policy; see hashicorp/raft's Config.
	SnapshotInterval  time.Duration
	SnapshotThreshold uint64
	TrailingLogs      uint64
	// SnapshotRetain is how many snapshots are kept on disk.
	SnapshotRetain int

	// MaxPool is the number of pooled connections per peer; TransportTimeout
	// the I/O deadline of the transport.
	MaxPool          int
	TransportTimeout time.Duration

	// Forwarder, when set, carries a proposal made on a follower to the
	// leader. Nil means a follower answers ErrFederationUnreachable.
	Forwarder Forwarder
	// ForwardRPC, when Forwarder is nil, sends proposals made on a follower
	// to the leader over the built-in forwarding RPC, which shares the Raft
	// listener (and its TLS). Membership and leadership changes asked of a
	// follower go the same way.
	ForwardRPC bool
	// ForwardRetry is how long a forwarded proposal keeps trying while there
	// is no leader or the leader cannot be dialled (nothing was sent), to
	// ride out an election.
	ForwardRetry time.Duration

	// TLS, when set, makes the transport mutual TLS: it is used both to
	// accept (it must require and verify client certificates) and to dial.
	TLS *tls.Config
	// Listener, when set, is an open TCP listener to serve on instead of
	// listening on BindAddr (a joining node opens it first to learn its
	// address).
	Listener net.Listener
	// Dial, when set, opens the TCP connections to other nodes.
	Dial DialFunc

	// OnRestore, when set, is called after the store was replaced by a
	// snapshot from the leader (state the onApply callbacks did not see).
	OnRestore func()
}

// WithDefaults returns c with every unset field given its default.
func (c Config) WithDefaults() Config {
	def := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	if c.BindAddr == "" {
		c.BindAddr = DefaultBindAddr
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	def(&c.ApplyTimeout, DefaultApplyTimeout)
	def(&c.HeartbeatTimeout, DefaultHeartbeatTimeout)
	def(&c.ElectionTimeout, DefaultElectionTimeout)
	def(&c.LeaderLeaseTimeout, DefaultLeaderLeaseTimeout)
	def(&c.CommitTimeout, DefaultCommitTimeout)
	def(&c.SnapshotInterval, DefaultSnapshotInterval)
	def(&c.TransportTimeout, DefaultTransportTimeout)
	def(&c.ForwardRetry, DefaultForwardRetry)
	if c.SnapshotThreshold == 0 {
		c.SnapshotThreshold = DefaultSnapshotThreshold
	}
	if c.TrailingLogs == 0 {
		c.TrailingLogs = DefaultTrailingLogs
	}
	if c.SnapshotRetain == 0 {
		c.SnapshotRetain = DefaultSnapshotRetain
	}
	if c.MaxPool == 0 {
		c.MaxPool = DefaultMaxPool
	}
	return c
}

// Validate reports the first field at fault. Zero values are valid: they
// stand for defaults.
func (c Config) Validate() error {
	if c.Dir == "" {
		return fmt.Errorf("raft config: Dir is required")
	}
	if c.NodeID == "" {
		return fmt.Errorf("raft config: NodeID is required")
	}
	bindUnspecified := false
	if c.BindAddr != "" {
		host, err := splitHostPort(c.BindAddr)
		if err != nil {
			return fmt.Errorf("raft config: BindAddr %q: %w", c.BindAddr, err)
		}
		ip := net.ParseIP(host)
		bindUnspecified = host == "" || (ip != nil && ip.IsUnspecified())
	}
	if c.AdvertiseAddr != "" {
		host, err := splitHostPort(c.AdvertiseAddr)
		if err != nil {
			return fmt.Errorf("raft config: AdvertiseAddr %q: %w", c.AdvertiseAddr, err)
		}
		if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
			return fmt.Errorf("raft config: AdvertiseAddr %q: host must be an address other nodes can dial", c.AdvertiseAddr)
		}
		if _, port, _ := net.SplitHostPort(c.AdvertiseAddr); port == "0" {
			return fmt.Errorf("raft config: AdvertiseAddr %q: port must not be 0", c.AdvertiseAddr)
		}
	} else if bindUnspecified {
		return fmt.Errorf("raft config: AdvertiseAddr is required when BindAddr %q has no specific host", c.BindAddr)
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{
		{"ApplyTimeout", c.ApplyTimeout},
		{"HeartbeatTimeout", c.HeartbeatTimeout},
		{"ElectionTimeout", c.ElectionTimeout},
		{"LeaderLeaseTimeout", c.LeaderLeaseTimeout},
		{"CommitTimeout", c.CommitTimeout},
		{"SnapshotInterval", c.SnapshotInterval},
		{"TransportTimeout", c.TransportTimeout},
	} {
		if d.v < 0 {
			return fmt.Errorf("raft config: %s must not be negative, got %s", d.name, d.v)
		}
	}
	eff := c.WithDefaults()
	if eff.HeartbeatTimeout < 5*time.Millisecond {
		return fmt.Errorf("raft config: HeartbeatTimeout %s is below 5ms", eff.HeartbeatTimeout)
	}
	if eff.ElectionTimeout < eff.HeartbeatTimeout {
		return fmt.Errorf("raft config: ElectionTimeout %s is below HeartbeatTimeout %s", eff.ElectionTimeout, eff.HeartbeatTimeout)
	}
	if eff.LeaderLeaseTimeout < 5*time.Millisecond || eff.LeaderLeaseTimeout > eff.HeartbeatTimeout {
		return fmt.Errorf("raft config: LeaderLeaseTimeout %s must be between 5ms and HeartbeatTimeout %s", eff.LeaderLeaseTimeout, eff.HeartbeatTimeout)
	}
	if eff.CommitTimeout < time.Millisecond {
		return fmt.Errorf("raft config: CommitTimeout %s is below 1ms", eff.CommitTimeout)
	}
	if eff.SnapshotInterval < 5*time.Millisecond {
		return fmt.Errorf("raft config: SnapshotInterval %s is below 5ms", eff.SnapshotInterval)
	}
	if c.SnapshotRetain < 0 {
		return fmt.Errorf("raft config: SnapshotRetain must not be negative, got %d", c.SnapshotRetain)
	}
	if c.MaxPool < 0 {
		return fmt.Errorf("raft config: MaxPool must not be negative, got %d", c.MaxPool)
	}
	return nil
}

// splitHostPort checks addr is host:port with a numeric port and returns
// the host.
func splitHostPort(addr string) (string, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", err
	}
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		return "", fmt.Errorf("port %q is not a number between 0 and 65535", port)
	}
	return host, nil
}

// raftConfig is hashicorp/raft's configuration of this node.
func (n *Node) raftConfig() *hraft.Config {
	rc := hraft.DefaultConfig()
	rc.LocalID = hraft.ServerID(n.cfg.NodeID)
	rc.Logger = n.hclog
	rc.HeartbeatTimeout = n.cfg.HeartbeatTimeout
	rc.ElectionTimeout = n.cfg.ElectionTimeout
	rc.LeaderLeaseTimeout = n.cfg.LeaderLeaseTimeout
	rc.CommitTimeout = n.cfg.CommitTimeout
	rc.SnapshotInterval = n.cfg.SnapshotInterval
	rc.SnapshotThreshold = n.cfg.SnapshotThreshold
	rc.TrailingLogs = n.cfg.TrailingLogs
	// The store is durable and skips entries it has applied; restoring a
	// snapshot at start would only throw its newer state away.
	rc.NoSnapshotRestoreOnStart = true
	return rc
}
