// Package bus runs the node's embedded NATS server with JetStream and a
// client connected to it in-process. Site data is published here as events
// with deterministic message ids; headquarters sources the streams of every
// plant over leaf node links (a later addition) and applies them
// idempotently.
//
// JetStream syncs every write to disk before acknowledging it
// (sync_interval: always): acknowledged means stored.
package bus

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Defaults for Config.
const (
	// DefaultDuplicateWindow is how long JetStream remembers message ids to
	// drop republished messages. Consumers still apply events idempotently
	// by id, so no window is too short for correctness.
	DefaultDuplicateWindow = 2 * time.Minute
	// DefaultStartTimeout bounds Start when its context has no deadline.
	DefaultStartTimeout = 10 * time.Second
)

// Config configures the embedded server. The zero value of every field but
// Dir stands for its default.
type Config struct {
	// Dir holds JetStream's storage.
	Dir string
	// ServerName names the server among federated nodes; "" lets NATS use
	// its generated server id.
	ServerName string
	// Listen is the host:port NATS clients may connect to (port 0 picks a
	// free one); "" opens no network port: only the in-process client
	// connects.
	Listen string
	// Logger receives the server's logs; nil means slog.Default().
	Logger *slog.Logger
	// DuplicateWindow is the duplicate window of streams EnsureStream
	// creates; 0 means DefaultDuplicateWindow.
	DuplicateWindow time.Duration

	// Domain is this server's JetStream domain. Federated nodes each have
	// their own, so headquarters can source a plant's stream by naming the
	// plant's domain across the leaf node link.
	Domain string
	// LeafListen is the host:port where other nodes' leaf node links are
	// accepted (headquarters); "" accepts none.
	LeafListen string
	// LeafTLS secures accepted leaf links; it should require and verify
	// client certificates (the federation's mutual TLS).
	LeafTLS *tls.Config
	// LeafRemotes are the hubs this node links to as a leaf (a plant links
	// to headquarters). Links are retried for ever: a plant cut off keeps
	// its history in its own stream until the link is back.
	LeafRemotes []LeafRemote
}

// LeafRemote is one hub to link to.
type LeafRemote struct {
	URL string // nats-leaf://host:port, or tls://host:port
	TLS *tls.Config
}

// WithDefaults returns c with every unset field given its default.
func (c Config) WithDefaults() Config {
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.DuplicateWindow == 0 {
		c.DuplicateWindow = DefaultDuplicateWindow
	}
	return c
}

// Validate reports the first field at fault.
func (c Config) Validate() error {
	if c.Dir == "" {
		return errors.New("bus config: Dir is required")
	}
	if strings.ContainsAny(c.ServerName, " \t\r\n") {
		return fmt.Errorf("bus config: ServerName %q must not contain spaces", c.ServerName)
	}
	if c.Listen != "" {
		if _, _, err := splitListen(c.Listen); err != nil {
			return fmt.Errorf("bus config: Listen %q: %w", c.Listen, err)
		}
	}
	if c.LeafListen != "" {
		if _, _, err := splitListen(c.LeafListen); err != nil {
			return fmt.Errorf("bus config: LeafListen %q: %w", c.LeafListen, err)
		}
	}
	for i, r := range c.LeafRemotes {
		if _, err := url.Parse(r.URL); err != nil || r.URL == "" {
			return fmt.Errorf("bus config: LeafRemotes[%d].URL %q is not a URL", i, r.URL)
		}
	}
	if strings.ContainsAny(c.Domain, " \t\r\n.*>") {
		return fmt.Errorf("bus config: Domain %q must be a single token", c.Domain)
	}
	if c.DuplicateWindow < 0 {
		return fmt.Errorf("bus config: DuplicateWindow must not be negative, got %s", c.DuplicateWindow)
	}
	return nil
}

// splitListen splits host:port; port 0 becomes NATS's "random port".
func splitListen(addr string) (string, int, error) {
	host, p, err := net.SplitHostPort(addr)
	if err != nil {
		return "", 0, err
	}
	port, err := strconv.Atoi(p)
	if err != nil || port < 0 || port > 65535 {
		return "", 0, fmt.Errorf("port %q is not a number between 0 and 65535", p)
	}
	if port == 0 {
		port = server.RANDOM_PORT
	}
	return host, port, nil
}

// Bus is the embedded NATS server and its in-process client. New builds it;
// Start runs the server and connects; Shutdown drains the client and stops
// the server. Its methods are safe for concurrent use.
type Bus struct {
	cfg Config
	log *slog.Logger

	mu      sync.Mutex      // guards the fields below
	opts    *server.Options // what srv was started with, for a reload
	srv     *server.Server
	nc      *nats.Conn
	js      jetstream.JetStream
	closed  chan struct{} // closed when the client connection is closed
	started bool
	stopped bool
}

// New checks cfg and builds a bus; nothing runs until Start.
func New(cfg Config) (*Bus, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.WithDefaults()
	return &Bus{cfg: cfg, log: cfg.Logger.With("component", "nats")}, nil
}

// Start runs the server in-process with JetStream stored under Dir and
// fsync on every write, waits until it is ready, and connects the
// in-process client.
func (b *Bus) Start(ctx context.Context) (err error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.started {
		return errors.New("bus: start: already started")
	}

	opts := &server.Options{
		ServerName: b.cfg.ServerName,
		JetStream:  true,
		StoreDir:   filepath.Clean(b.cfg.Dir),
		SyncAlways: true,
		NoSigs:     true,
		NoLog:      true, // the logger is set below, before Start
		DontListen: b.cfg.Listen == "",
	}
	if b.cfg.Listen != "" {
		if opts.Host, opts.Port, err = splitListen(b.cfg.Listen); err != nil {
			return fmt.Errorf("bus: listen address %q: %w", b.cfg.Listen, err)
		}
	}
	if err := b.leafOptions(opts); err != nil {
		return err
	}
	srv, err := server.NewServer(opts)
	if err != nil {
		return fmt.Errorf("bus: configure nats server: %w", err)
	}
	nl := &natsLogger{log: b.log}
	srv.SetLoggerV2(nl, nl.enabled(slog.LevelDebug), nl.enabled(levelTrace), false)

	srv.Start()
	defer func() {
		if err != nil {
			srv.Shutdown()
			srv.WaitForShutdown()
		}
	}()
	wait := DefaultStartTimeout
	if dl, ok := ctx.Deadline(); ok {
		wait = time.Until(dl)
	}
	if !srv.ReadyForConnections(wait) {
		return fmt.Errorf("bus: nats server not ready after %s", wait)
	}
	if !srv.JetStreamEnabled() {
		return fmt.Errorf("bus: jetstream did not start (store %s)", opts.StoreDir)
	}

	closed := make(chan struct{})
	nc, err := nats.Connect("",
		nats.InProcessServer(srv),
		nats.Name("siteline-node"),
		nats.ClosedHandler(func(*nats.Conn) { close(closed) }),
	)
	if err != nil {
		return fmt.Errorf("bus: connect in-process client: %w", err)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		nc.Close()
		return fmt.Errorf("bus: jetstream client: %w", err)
	}

	b.opts, b.srv, b.nc, b.js, b.closed, b.started = opts, srv, nc, js, closed, true
	b.log.Info("nats: started", "store", opts.StoreDir, "listen", b.cfg.Listen)
	return nil
}

// Shutdown drains the client, then shuts the server down and waits for it,
// or for ctx to end. It may be called more than once.
func (b *Bus) Shutdown(ctx context.Context) error {
	b.mu.Lock()
	if !b.started || b.stopped {
		b.mu.Unlock()
		return nil
	}
	b.stopped = true
	srv, nc, closed := b.srv, b.nc, b.closed
	b.mu.Unlock()

	var errs []error
	if err := nc.Drain(); err != nil {
		nc.Close()
		errs = append(errs, fmt.Errorf("bus: drain client: %w", err))
	}
	select {
	case <-closed:
	case <-ctx.Done():
		nc.Close()
		errs = append(errs, fmt.Errorf("bus: drain client: %w", ctx.Err()))
	}

	done := make(chan struct{})
	go func() {
		srv.Shutdown()
		srv.WaitForShutdown()
		close(done)
	}()
	select {
	case <-done:
		b.log.Info("nats: stopped")
	case <-ctx.Done():
		errs = append(errs, fmt.Errorf("bus: shut nats server down: %w", ctx.Err()))
	}
	return errors.Join(errs...)
}

// Ready reports whether the server runs with JetStream and the client is
// connected.
func (b *Bus) Ready() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.started && !b.stopped && b.srv.Running() && b.srv.JetStreamEnabled() && b.nc.IsConnected()
}

// Conn is the in-process client connection; nil before Start.
func (b *Bus) Conn() *nats.Conn {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.nc
}

// JetStream is the JetStream API over Conn; nil before Start.
func (b *Bus) JetStream() jetstream.JetStream {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.js
}

// ClientURL is the URL network clients connect to; "" when Listen is empty
// or before Start.
func (b *Bus) ClientURL() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.srv == nil || b.srv.Addr() == nil {
		return ""
	}
	return b.srv.ClientURL()
}

// client returns the JetStream API, or an error when the bus does not run.
func (b *Bus) client(op string) (jetstream.JetStream, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	switch {
	case !b.started:
		return nil, fmt.Errorf("%s: bus not started", op)
	case b.stopped:
		return nil, fmt.Errorf("%s: bus shut down", op)
	}
	return b.js, nil
}

// EnsureStream creates the file-backed stream name over subjects, or
// updates it to those subjects and the configured duplicate window.
func (b *Bus) EnsureStream(ctx context.Context, name string, subjects []string) error {
	op := "ensure stream " + name
	js, err := b.client(op)
	if err != nil {
		return err
	}
	_, err = js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name:       name,
		Subjects:   subjects,
		Storage:    jetstream.FileStorage,
		Duplicates: b.cfg.DuplicateWindow,
	})
	if err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	return nil
}

// Publish stores data on subject with msgID as its Nats-Msg-Id and waits
// for JetStream's acknowledgement: when it returns the message is on disk,
// at the stream sequence it returns. Publishing the same msgID again
// within the duplicate window stores nothing and returns the first copy's
// sequence.
func (b *Bus) Publish(ctx context.Context, subject, msgID string, data []byte) (uint64, error) {
	op := fmt.Sprintf("publish %s (msg id %s)", subject, msgID)
	if msgID == "" {
		return 0, fmt.Errorf("%s: a message id is required", op)
	}
	js, err := b.client(op)
	if err != nil {
		return 0, err
	}
	ack, err := js.Publish(ctx, subject, data, jetstream.WithMsgID(msgID))
	if err != nil {
		return 0, fmt.Errorf("%s: %w", op, err)
	}
	return ack.Sequence, nil
}

// Purge removes the messages of stream name below sequence below.
func (b *Bus) Purge(ctx context.Context, name string, below uint64) error {
	op := fmt.Sprintf("purge stream %s below %d", name, below)
	st, err := b.stream(ctx, op, name)
	if err != nil {
		return err
	}
	if err := st.Purge(ctx, jetstream.WithPurgeSequence(below)); err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	return nil
}

func (b *Bus) stream(ctx context.Context, op, name string) (jetstream.Stream, error) {
	js, err := b.client(op)
	if err != nil {
		return nil, err
	}
	st, err := js.Stream(ctx, name)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	return st, nil
}
