// Package node is the composition root of a Siteline node and holds its
// application services. New validates the Config and opens nothing; Start
// builds and opens the parts in order, storage first, then Raft, the bus
// and site history, the call, media and invitation services, the SFU and
// TURN relay, and the HTTP listeners last, closing what it opened if one
// fails (an offline node opens storage, Raft and the admin socket only);
// Shutdown stops accepting requests and closes the parts in reverse.
package node

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"siteline/cluster/bus"
	"siteline/cluster/history"
	"siteline/cluster/raft"
	"siteline/node/attachments"
	"siteline/node/calls"
	"siteline/node/federation"
	"siteline/node/invites"
	"siteline/node/org"
	"siteline/node/queue"
	"siteline/node/reports"
	"siteline/node/sso"
	"siteline/node/supervision"
	"siteline/policy"
	"siteline/storage"
	"siteline/storage/blob"
	"siteline/storage/sqlite"
	"siteline/web"
)

// Version is the node's version, set at build time with
// -ldflags "-X siteline/node.Version=...".
var Version = "dev"

// Options change how a node runs without being configuration.
type Options struct {
	// Offline starts storage, Raft and the admin socket only: no public
	// HTTP listener and no bus. The CLI uses it to change a stopped node's
	// data directory through the same API.
	Offline bool
	// Stdout receives what the node tells its operator on first start (the
	// URL, the administrator's password); io.Discard when nil.
	Stdout io.Writer
	// Now is the clock; time.Now when nil.
	Now func() time.Time
	// LogOutput receives the node's structured log; standard error when
	// nil.
	LogOutput io.Writer
	// Join makes a new node join a federation at Start (see JoinOptions).
	Join *JoinOptions
	// RaftDial, when set, opens the node's TCP connections to other nodes'
	// Raft listeners (tests route them through a proxy they can cut).
	RaftDial func(ctx context.Context, addr string) (net.Conn, error)
	// RaftSnapshots, when set, replaces Raft's snapshot policy. It is for
	// tests, which make a node compact its log after a few entries so that
	// a node left behind must catch up from a snapshot; operators have no
	// reason to change it. Zero fields keep the defaults; raft.Config
	// validates the rest.
	RaftSnapshots *RaftSnapshotPolicy
	// PasswordCost, when set, replaces the argon2id cost of the passwords
	// the node hashes (org.DefaultCost). It is for tests, whose nodes hash
	// a few passwords each and spend most of their time doing so;
	// operators have no reason to change it. Hashes keep their own cost:
	// any node verifies them.
	PasswordCost *org.Cost
}

// RaftSnapshotPolicy is when Raft snapshots the organisation store and how
// much log it keeps behind a snapshot (see hashicorp/raft's Config).
type RaftSnapshotPolicy struct {
	// Interval is how often Raft checks whether to snapshot (jittered).
	Interval time.Duration
	// Threshold is how many new log entries trigger a snapshot.
	Threshold uint64
	// TrailingLogs is how many entries are kept behind a snapshot for
	// followers that lag; one further behind is sent the snapshot.
	TrailingLogs uint64
}

// Node is one running Siteline node.
type Node struct {
	cfg  Config
	opts Options
	log  *slog.Logger
	now  func() time.Time
	reg  *prometheus.Registry

	store *sqlite.Store
	// hist is the store with the history reads and writes routed to the
	// history database when storage.history names one (history_store.go).
	hist  *historyStore
	authz *policy.Enforcer
	raft  *raft.Node
	bus   *bus.Bus
	// leaf is the hub URL the bus links to, kept in step with the address
	// the hub announces (leaf_follow.go).
	leaf leafFollower

	// fedSetup is what preparing the federation decided at start;
	// membership serves the cluster API (node/federation).
	fedSetup   federation.Setup
	membership *federation.Membership

	// history forwards site history to headquarters (and applies the
	// plants' on a voter); nil when offline.
	history *history.Forwarder

	media *media // SFU and TURN relay; nil when offline
	calls *calls.Service
	// blobs keeps the bytes of media and recordings; transfer opens them,
	// fetching forwarded ones from their site (usecases.go).
	blobs    blob.Store
	transfer *history.Transfer
	// sessionMedia keeps snapshots, files and recordings.
	sessionMedia *attachments.Service
	// invites is the invitation service and its delivery outbox.
	invites *invites.Service
	// ring pushes incoming calls to the experts' open pages.
	ring *calls.RingHub
	// queue is the team queues of service requests (queue_service.go),
	// read by the state machine's hook.
	queue atomic.Pointer[queue.Service]
	// supervision is the live team dashboard (supervision.go).
	supervision *supervision.Hub
	// presenceFeed updates the phonebook's presence on its open pages.
	presenceFeed *calls.PresenceFeed
	// reports is the service-report use case.
	reports *reports.Service
	web     *web.Server
	// selfSigned is the fingerprint of the HTTPS certificate the node
	// generated (http.tls: auto), which joining nodes pin; "" otherwise.
	selfSigned string
	// webSockets is web for the state machine, which closes the sockets
	// of deactivated users (sockets.go).
	webSockets webRef

	// Organisation administration (node/org, wired in org_service.go):
	// the service behind web's Accounts, Users, Teams, ... PolicyAdmin,
	// the password hasher and who must replace the generated first
	// password.
	admin         *org.Service
	members       *org.Members // member invitations by e-mail
	sso           *sso.Service // single sign-on (sso_service.go)
	passwords     *org.Hasher
	firstPassword *org.FirstPassword

	// Facts learnt at start.
	nodeID string
	orgID  string
	siteID string

	httpLn  net.Listener
	localLn net.Listener
	serving sync.WaitGroup

	// lifetime is the context of the node's background work, which stop
	// ends (endLifetime) and waits for (work); parts are what Start
	// opened, in order, with how each stops (lifecycle.go).
	lifetime    context.Context
	endLifetime context.CancelFunc
	work        sync.WaitGroup
	parts       []part

	mu      sync.Mutex
	started bool
	stopped bool
}

// New validates cfg, fills in the defaults of opts and makes the node's
// logger. It builds and opens nothing else: Start does.
func New(cfg Config, opts Options) (*Node, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if opts.Stdout == nil {
		opts.Stdout = io.Discard
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.LogOutput == nil {
		opts.LogOutput = os.Stderr
	}
	log, err := newLogger(cfg.Log, opts.LogOutput)
	if err != nil {
		return nil, err
	}
	return &Node{cfg: cfg, opts: opts, log: log, now: opts.Now, reg: prometheus.NewRegistry()}, nil
}

// Start opens every part in order. On failure it closes what it opened.
func (n *Node) Start(ctx context.Context) (err error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.started {
		return errors.New("node already started")
	}
	n.started = true
	n.lifetime, n.endLifetime = context.WithCancel(context.Background())
	defer func() {
		if err != nil {
			n.stop(context.Background())
		}
	}()

	if err := os.MkdirAll(n.cfg.DataDir, 0o700); err != nil {
		return fmt.Errorf("create data directory: %w", err)
	}
	if err := secureDataDir(n.cfg.DataDir); err != nil {
		return err
	}
	if n.store, err = sqlite.Open(ctx, n.cfg.path(storeFile), n.log.With("component", "storage")); err != nil {
		return fmt.Errorf("open storage: %w", err)
	}
	n.onStop("storage", func(context.Context) error { return n.store.Close() })
	if err := n.openHistoryStore(ctx); err != nil { // history.go
		return err
	}
	// The media store first too: a bucket out of reach stops the start
	// before anything else runs.
	if n.blobs, err = n.openMediaStore(ctx); err != nil { // config_storage.go
		return err
	}
	if n.nodeID, err = n.loadNodeID(ctx); err != nil {
		return err
	}
	if err := n.startRaft(ctx); err != nil {
		return err
	}
	n.startPasswords() // org_service.go
	if err := n.bootstrap(ctx); err != nil {
		return fmt.Errorf("first start: %w", err)
	}
	if err := n.startOrg(); err != nil { // org_service.go
		return err
	}
	if !n.opts.Offline {
		if err := n.startBus(ctx); err != nil {
			return err
		}
		if err := n.startHistory(ctx); err != nil {
			return err
		}
	}
	n.registerMetrics()
	if err := n.openBlobs(); err != nil { // usecases.go
		return err
	}
	n.newCalls(ctx) // media.go
	// Presence and the ring on the bus (bus.go).
	if err := n.federateRing(); err != nil {
		return err
	}
	if n.bus != nil {
		n.background(n.announceLeaf) // leaf_follow.go
	}
	if err := n.startQueue(); err != nil { // queue_service.go
		return err
	}
	n.startSupervision(ctx) // supervision.go
	n.startAttachments()
	n.reports = reports.New(reports.Deps{Store: n.hist, Sessions: n.calls, Authz: n.authz, NodeID: n.nodeID,
		SiteID: n.siteID, Now: n.now, NewID: newID, Log: n.log.With("component", "reports"),
		Media: n.sessionMedia, Names: n.store.Scoped(), Roles: n.authz, Fields: n.hist, Settings: n.store})
	if err := n.startInvites(); err != nil {
		return err
	}
	n.startSSO()                             // sso_service.go
	if err := n.startMembers(); err != nil { // org_service.go
		return err
	}
	if !n.opts.Offline {
		if err := n.startMedia(ctx); err != nil {
			return err
		}
	}
	if err := n.startWeb(); err != nil {
		return err
	}
	if !n.opts.Offline {
		if err := n.startBackupSocket(); err != nil { // backup.go
			return err
		}
	}
	n.startChores()
	n.startDeliveries()
	n.startMediaSweep() // usecases.go
	// What the stores created while starting is the owner's too.
	if err := secureDataDir(n.cfg.DataDir); err != nil {
		return err
	}
	n.log.Info("node started", "node_id", n.nodeID, "site", n.cfg.Node.Site, "data_dir", n.cfg.DataDir, "url", n.URL())
	return nil
}

func (n *Node) loadNodeID(ctx context.Context) (string, error) {
	stored, err := n.store.Meta(ctx, "node_id")
	if err != nil && !errors.Is(err, storage.ErrNotFound) {
		return "", fmt.Errorf("read node id: %w", err)
	}
	switch {
	case stored != "" && n.cfg.Node.ID != "" && stored != n.cfg.Node.ID:
		return "", fmt.Errorf("config node.id %q differs from the id %q this data directory was created with", n.cfg.Node.ID, stored)
	case stored != "":
		return stored, nil
	}
	id := n.cfg.Node.ID
	if id == "" {
		id = "node-" + newID()[:10]
	}
	if err := n.store.SetMeta(ctx, "node_id", id); err != nil {
		return "", fmt.Errorf("store node id: %w", err)
	}
	return id, nil
}

func (n *Node) startRaft(ctx context.Context) error {
	rules, err := n.store.Policy(ctx, "")
	if err != nil {
		return fmt.Errorf("load policy: %w", err)
	}
	if n.authz, err = policy.NewEnforcer(rules); err != nil {
		return fmt.Errorf("load policy: %w", err)
	}
	raftListen, err := n.freeKeptAddr(ctx, metaRaftPort, n.cfg.Raft.Listen) // ports.go
	if err != nil {
		return err
	}
	rs, err := n.prepareFederation(ctx, raftListen)
	if err != nil {
		return err
	}
	if rs.Listener == nil {
		if rs.Listener, err = net.Listen("tcp", raftListen); err != nil {
			return fmt.Errorf("raft listen %s: %w", raftListen, err)
		}
	}
	if err := n.keepPort(ctx, metaRaftPort, n.cfg.Raft.Listen, rs.Listener.Addr().String()); err != nil {
		rs.Listener.Close()
		return err
	}
	rc := raft.Config{
		Dir:           n.cfg.path("raft"),
		NodeID:        n.nodeID,
		Site:          n.cfg.Node.Site,
		BindAddr:      raftListen,
		AdvertiseAddr: n.cfg.Raft.Advertise,
		Bootstrap:     rs.Bootstrap,
		Logger:        n.log,
		OnRestore:     n.reloadPolicy,
		TLS:           rs.TLS,
		Listener:      rs.Listener,
		Dial:          n.opts.RaftDial,
		ForwardRPC:    true,
		// Election and lease as the raft package's defaults relate them.
		HeartbeatTimeout:   n.cfg.Raft.HeartbeatTimeout,
		ElectionTimeout:    n.cfg.Raft.HeartbeatTimeout,
		LeaderLeaseTimeout: n.cfg.Raft.HeartbeatTimeout / 2,
	}
	if p := n.opts.RaftSnapshots; p != nil {
		rc.SnapshotInterval, rc.SnapshotThreshold, rc.TrailingLogs = p.Interval, p.Threshold, p.TrailingLogs
	}
	n.raft, err = raft.New(rc, n.store, n.applied)
	if err != nil {
		if rs.Listener != nil {
			rs.Listener.Close()
		}
		return err
	}
	n.onStop("raft", n.raft.Shutdown)
	if err := n.raft.Start(ctx); err != nil {
		return fmt.Errorf("start raft: %w", err)
	}
	return n.afterRaftStart(ctx, rs)
}

// applied keeps the enforcer in step with policy changes as the replicated
// log applies them, on every node, with no reload, and closes the sockets
// of users the command deactivated.
func (n *Node) applied(cmd storage.Command) {
	n.closeDeactivated(cmd)
	n.queueApplied(cmd) // queue_service.go
	n.leafApplied(cmd)  // leaf_follow.go
	for _, ch := range cmd.Changes {
		var err error
		switch ch.Op {
		case storage.OpAddPolicy:
			err = n.authz.Add(ch.Rules)
		case storage.OpRemovePolicy:
			err = n.authz.Remove(ch.Rules)
		case storage.OpReplacePolicy:
			err = n.authz.Replace(ch.OrgID, ch.Rules)
		}
		if err != nil {
			// The store holds the truth: rebuild from it.
			n.log.Error("update enforcer; reloading policy from the store", "op", ch.Op, "err", err)
			n.reloadPolicy()
			return
		}
	}
}

// reloadPolicy rebuilds the enforcer's rules from the store, after a
// snapshot restore replaced the store underneath it.
func (n *Node) reloadPolicy() {
	ctx := context.Background()
	orgs, err := n.store.Orgs(ctx)
	if err != nil {
		n.log.Error("reload policy", "err", err)
		return
	}
	for _, o := range orgs {
		rules, err := n.store.Policy(ctx, o.ID)
		if err == nil {
			err = n.authz.Replace(o.ID, rules)
		}
		if err != nil {
			n.log.Error("reload policy", "org", o.ID, "err", err)
		}
	}
}

func (n *Node) startBus(ctx context.Context) error {
	cfg, err := n.busConfig(ctx)
	if err != nil {
		return err
	}
	b, err := bus.New(cfg)
	if err != nil {
		return err
	}
	if err := b.Start(ctx); err != nil {
		return fmt.Errorf("start bus: %w", err)
	}
	n.bus = b
	n.onStop("bus", b.Shutdown)
	if len(n.cfg.NATS.LeafRemotes) == 0 && len(cfg.LeafRemotes) == 1 {
		n.leaf.started(b, cfg.LeafRemotes[0].URL) // leaf_follow.go
	}
	if cfg.LeafListen != "" {
		return n.keepPort(ctx, metaLeafPort, n.cfg.leafListen(), b.LeafAddr()) // ports.go
	}
	return nil
}

func (n *Node) startWeb() error {
	proxies, err := n.cfg.HTTP.trustedProxies()
	if err != nil {
		return err
	}
	srv, err := web.New(web.Config{
		BodyLimit:                  n.cfg.HTTP.BodyLimit,
		SessionTTL:                 n.cfg.Auth.SessionTTL,
		IdleTTL:                    n.cfg.Auth.IdleTTL,
		LoginFailuresPerAccount:    n.cfg.Auth.LoginFailuresPerAccount,
		LoginFailuresPerAddress:    n.cfg.Auth.LoginFailuresPerAddress,
		LoginWindow:                n.cfg.Auth.LoginWindow,
		UploadLimit:                n.cfg.Media.MaxUpload,
		TokenMaxTTL:                n.cfg.Tokens.MaxTTL,
		TLS:                        n.cfg.HTTP.TLS != "off",
		PublicURL:                  n.cfg.HTTP.PublicURL,
		TrustedProxies:             proxies,
		MaxConcurrentUploads:       n.cfg.Media.MaxConcurrentUploads,
		MetricsToken:               n.cfg.Metrics.Token,
		LinearizableReadsPerSecond: n.cfg.Raft.LinearizableReadsPerSecond,
		LinearizableReadBurst:      n.cfg.Raft.LinearizableReadBurst,
	}, web.Deps{
		Logger:       n.log.With("component", "web"),
		Org:          n.store.Scoped(),
		Sessions:     n.hist,
		Authz:        n.authz,
		Accounts:     n.admin,
		Barrier:      n.admin,
		Users:        n.admin,
		Teams:        n.admin,
		Labels:       n.admin,
		Contacts:     n.admin,
		Tokens:       n.admin,
		Policy:       n.admin,
		Settings:     n.admin,
		Health:       n,
		Cluster:      n.newMembership(),
		Calls:        n.calls,
		Invites:      n.invites,
		Members:      n.members,
		People:       org.People{Service: n.admin, Members: n.members},
		Activity:     n.hist,
		History:      n.hist,
		Dashboards:   n.hist,
		Events:       n.ring,
		Queues:       n.queue.Load(),
		Supervision:  n.supervision,
		Phone:        n.calls,
		PresenceFeed: n.presenceFeed,
		Media:        n.sessionMedia,
		Reports:      n.reports,
		SSO:          ssoWeb{svc: n.sso, admin: n.admin, store: n.store},
		SSOAdmin:     ssoWeb{svc: n.sso, admin: n.admin, store: n.store},
		SCIM:         scimService{n.admin},
		Metrics:      metricsHandler(n.reg),
		Now:          n.now,
		DefaultOrgID: n.orgID,
		Version:      Version,
	})
	if err != nil {
		return err
	}
	n.web = srv
	n.webSockets.set(srv)
	n.onStop("http", func(ctx context.Context) error {
		err := srv.Shutdown(ctx)
		n.serving.Wait()
		_ = os.Remove(n.AdminSocket())
		return err
	})

	sock := n.AdminSocket()
	_ = os.Remove(sock) // a stale socket of a node that did not stop cleanly
	if n.localLn, err = net.Listen("unix", sock); err != nil {
		return fmt.Errorf("admin socket: %w", err)
	}
	if err := os.Chmod(sock, 0o600); err != nil {
		return fmt.Errorf("admin socket: %w", err)
	}
	n.serve(func() error { return srv.ServeLocal(n.localLn) })

	if n.opts.Offline {
		return nil
	}
	ln, err := net.Listen("tcp", n.cfg.HTTP.Listen)
	if err != nil {
		return fmt.Errorf("http listen %s: %w", n.cfg.HTTP.Listen, err)
	}
	if n.cfg.HTTP.TLS != "off" {
		tc, err := n.tlsConfig()
		if err != nil {
			ln.Close()
			return err
		}
		ln = tls.NewListener(ln, tc)
	}
	n.httpLn = ln
	if p := n.ring.Presence(); p != nil {
		p.SetURL(n.URL())
	}
	n.serve(func() error { return srv.Serve(ln) })
	return nil
}

func (n *Node) serve(f func() error) {
	n.serving.Add(1)
	go func() {
		defer n.serving.Done()
		if err := f(); err != nil {
			n.log.Error("http server stopped", "err", err)
		}
	}()
}

// Shutdown ends the node's background work, then stops its parts in the
// reverse order of their start (lifecycle.go): the HTTP server first,
// which lets in-flight requests finish (ending, halfway through ctx, those
// still waiting), then media, history, the bus, Raft and storage.
func (n *Node) Shutdown(ctx context.Context) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if !n.started || n.stopped {
		return nil
	}
	return n.stop(ctx)
}

// sessionSweepInterval is how often expired browser sessions are deleted.
const sessionSweepInterval = time.Hour

// startChores runs the node's periodic housekeeping for its lifetime.
func (n *Node) startChores() {
	n.background(func(ctx context.Context) {
		t := time.NewTicker(sessionSweepInterval)
		defer t.Stop()
		for {
			n.sweepSessions()
			select {
			case <-t.C:
			case <-ctx.Done():
				return
			}
		}
	})
}

// sweepSessions deletes browser sessions past their expiry. Expired
// sessions are refused anyway; this keeps the table small.
func (n *Node) sweepSessions() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if count, err := n.store.DeleteExpiredWebSessions(ctx, n.now()); err != nil {
		n.log.Warn("delete expired sessions", "err", err)
	} else if count > 0 {
		n.log.Info("deleted expired sessions", "count", count)
	}
}

// Ready reports whether the node can serve: storage answers and the bus is
// connected. A missing Raft leader does not make a node unready: a plant
// cut off from the federation still serves calls, logins and reads.
func (n *Node) Ready(ctx context.Context) error {
	if err := n.store.Ping(ctx); err != nil {
		return fmt.Errorf("storage: %w", err)
	}
	if n.bus != nil && !n.bus.Ready() {
		return errors.New("bus: not connected")
	}
	return nil
}

// URL is the address users open.
func (n *Node) URL() string {
	var bound net.Addr
	if n.httpLn != nil {
		bound = n.httpLn.Addr()
	}
	return publicURL(n.cfg, bound)
}

// publicURL is http.public_url, or the address the HTTP listener is bound
// to (bound, nil before it is) or configured on. A listener on every
// interface is reached at raft.advertise's host, the name other nodes
// know this one by, or at localhost on a node of its own.
func publicURL(cfg Config, bound net.Addr) string {
	if cfg.HTTP.PublicURL != "" {
		return cfg.HTTP.PublicURL
	}
	scheme := "https"
	if cfg.HTTP.TLS == "off" {
		scheme = "http"
	}
	addr := cfg.HTTP.Listen
	if bound != nil {
		addr = bound.String()
	}
	host, port, _ := net.SplitHostPort(addr)
	if ip := net.ParseIP(host); host == "" || ip != nil && ip.IsUnspecified() {
		host = "localhost"
		if h, _, err := net.SplitHostPort(cfg.Raft.Advertise); err == nil && h != "" {
			host = h
		}
	}
	return scheme + "://" + net.JoinHostPort(host, port)
}

// AdminSocket is the path of the local operator's socket.
func (n *Node) AdminSocket() string { return adminSocket(n.cfg.DataDir) }

func adminSocket(dataDir string) string { return filepath.Join(dataDir, "admin.sock") }

// AdminSocketPath is where the node owning dataDir listens for its
// operator.
func AdminSocketPath(dataDir string) string { return adminSocket(dataDir) }

// OrgID is the organisation this node serves.
func (n *Node) OrgID() string { return n.orgID }

// Store exposes the node's store to tests in other packages.
func (n *Node) Store() storage.Store { return n.store }
