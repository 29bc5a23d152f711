package bus

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go/jetstream"
)

// leafReconnect is how often a leaf link to an unreachable hub is retried.
const leafReconnect = 2 * time.Second

// leafOptions sets the JetStream domain and the leaf node links.
func (b *Bus) leafOptions(opts *server.Options) error {
	opts.JetStreamDomain = b.cfg.Domain
	if b.cfg.LeafListen != "" {
		host, port, err := splitListen(b.cfg.LeafListen)
		if err != nil {
			return fmt.Errorf("bus: leaf listen address %q: %w", b.cfg.LeafListen, err)
		}
		opts.LeafNode.Host, opts.LeafNode.Port = host, port
		// A leaf links to the URLs it was given and no other: the hub does
		// not advertise its own address, which a plant would otherwise add
		// to its list and dial around the route it was told to take (a
		// NAT, a proxy).
		opts.LeafNode.NoAdvertise = true
		if t := b.cfg.LeafTLS; t != nil {
			opts.LeafNode.TLSConfig = t
			opts.LeafNode.TLSMap = false
			opts.LeafNode.TLSTimeout = 5
		}
	}
	for _, r := range b.cfg.LeafRemotes {
		u, err := url.Parse(r.URL)
		if err != nil {
			return fmt.Errorf("bus: leaf remote %q: %w", r.URL, err)
		}
		ro := &server.RemoteLeafOpts{URLs: []*url.URL{u}}
		if r.TLS != nil {
			ro.TLS = true
			ro.TLSConfig = r.TLS
			ro.TLSTimeout = 5
		}
		opts.LeafNode.Remotes = append(opts.LeafNode.Remotes, ro)
	}
	// Set with or without remotes: a reload that adds the first one may
	// not change it (SetLeafRemotes).
	opts.LeafNode.ReconnectInterval = leafReconnect
	return nil
}

// SetLeafRemotes replaces the hubs this node links to as a leaf, while it
// runs: a link to a hub no longer listed closes, a new hub is dialled, an
// unchanged one stays up. The server's configuration reload does it.
func (b *Bus) SetLeafRemotes(remotes []LeafRemote) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.srv == nil || b.stopped {
		return errors.New("bus: set leaf remotes: not running")
	}
	cfg := b.cfg
	cfg.LeafRemotes = remotes
	if err := cfg.Validate(); err != nil {
		return err
	}
	opts := b.opts.Clone()
	opts.LeafNode.Remotes = nil
	next := &Bus{cfg: cfg}
	if err := next.leafOptions(opts); err != nil {
		return err
	}
	if err := b.srv.ReloadOptions(opts); err != nil {
		return fmt.Errorf("bus: set leaf remotes: %w", err)
	}
	b.cfg.LeafRemotes, b.opts = remotes, opts
	b.log.Info("nats: leaf remotes replaced", "remotes", len(remotes))
	return nil
}

// LeafLinks is the number of leaf node links up now.
func (b *Bus) LeafLinks() int {
	b.mu.Lock()
	srv := b.srv
	b.mu.Unlock()
	if srv == nil {
		return 0
	}
	return srv.NumLeafNodes()
}

// Source is a stream of another node's JetStream domain.
type Source struct {
	Stream string
	Domain string
	// FromFirst starts the source at the origin's first message, for a
	// source added to a stream whose first messages were purged: JetStream
	// starts a source it has no position for at the stream's last message
	// time once the stream's first sequence is past 1, which skips what
	// the origin held before. A source JetStream has a position for
	// resumes after it whatever this says.
	FromFirst bool
}

// SourceStream creates, or updates to the given sources, a stream on this
// node that copies every message of each source stream, across the leaf
// links. JetStream keeps each source's position in the copy, so after an
// outage the backlog arrives once, in order; messages keep their
// Nats-Msg-Id, so consumers can still apply them idempotently.
func (b *Bus) SourceStream(ctx context.Context, name string, sources []Source) error {
	js, err := b.client("source stream " + name)
	if err != nil {
		return err
	}
	if len(sources) == 0 {
		return errors.New("bus: source stream " + name + ": no sources")
	}
	cfg := jetstream.StreamConfig{
		Name:       name,
		Storage:    jetstream.FileStorage,
		Duplicates: b.cfg.DuplicateWindow,
	}
	for _, s := range sources {
		src := &jetstream.StreamSource{Name: s.Stream, Domain: s.Domain}
		if s.FromFirst {
			src.OptStartSeq = 1
		}
		cfg.Sources = append(cfg.Sources, src)
	}
	if _, err := js.CreateOrUpdateStream(ctx, cfg); err != nil {
		return fmt.Errorf("bus: source stream %s: %w", name, err)
	}
	return nil
}

// StreamLen is the number of messages a stream of this node holds.
func (b *Bus) StreamLen(ctx context.Context, name string) (uint64, error) {
	js, err := b.client("stream " + name)
	if err != nil {
		return 0, err
	}
	st, err := js.Stream(ctx, name)
	if err != nil {
		return 0, fmt.Errorf("bus: stream %s: %w", name, err)
	}
	info, err := st.Info(ctx)
	if err != nil {
		return 0, fmt.Errorf("bus: stream %s: %w", name, err)
	}
	return info.State.Msgs, nil
}

// LeafAddr is the host:port where this node accepts leaf links, with the
// port the server picked when LeafListen asked for any; "" when it accepts
// none or does not run.
func (b *Bus) LeafAddr() string {
	b.mu.Lock()
	srv := b.srv
	b.mu.Unlock()
	if srv == nil || b.cfg.LeafListen == "" {
		return ""
	}
	v, err := srv.Varz(nil)
	if err != nil || v.LeafNode.Port <= 0 {
		return ""
	}
	return net.JoinHostPort(v.LeafNode.Host, strconv.Itoa(v.LeafNode.Port))
}

// RestartSources makes stream set up its sources from the given domains
// again, now. JetStream retries a source that failed (an outage) with a
// growing back-off, and a request sent while the link was down holds the
// next try for up to 30 s; a caller that knows the link is back calls this
// to skip the wait. The source resumes after the last message it copied,
// as after a restart: a source taken out of a stream's configuration loses
// the position JetStream kept for it, and put back it would start at the
// stream's last message time once the stream's first messages were purged
// (skipping what its origin recorded before that time, during an outage),
// so it is put back starting at the message after the one it had copied.
func (b *Bus) RestartSources(ctx context.Context, name string, domains []string) error {
	js, err := b.client("restart sources of " + name)
	if err != nil {
		return err
	}
	st, err := js.Stream(ctx, name)
	if err != nil {
		return fmt.Errorf("bus: restart sources of %s: %w", name, err)
	}
	info, err := st.Info(ctx)
	if err != nil {
		return fmt.Errorf("bus: restart sources of %s: %w", name, err)
	}
	restart := map[string]bool{}
	for _, d := range domains {
		restart["$JS."+d+".API"] = true
	}
	// What each source copied last, as stored: read before the pause, so
	// a message copied in between comes again (and is dropped as a
	// duplicate of its Nats-Msg-Id), never one skipped.
	copied := map[string]uint64{}
	for _, si := range info.Sources {
		if si != nil && si.External != nil {
			copied[si.External.APIPrefix] = si.Seq
		}
	}
	cfg := info.Config
	var keep []*jetstream.StreamSource
	resumed := make([]*jetstream.StreamSource, len(cfg.Sources))
	for i, s := range cfg.Sources {
		resumed[i] = s
		if s.External == nil || !restart[s.External.APIPrefix] {
			keep = append(keep, s)
			continue
		}
		from := *s
		from.OptStartSeq, from.OptStartTime = copied[s.External.APIPrefix]+1, nil
		resumed[i] = &from
	}
	if len(keep) == len(cfg.Sources) {
		return nil
	}
	paused := cfg
	paused.Sources = keep
	if len(keep) == 0 && len(cfg.Subjects) == 0 {
		// A stream needs subjects or sources: hold it on a subject no
		// one publishes to meanwhile.
		paused.Subjects = []string{"siteline.paused." + name}
	}
	if _, err := js.UpdateStream(ctx, paused); err != nil {
		return fmt.Errorf("bus: restart sources of %s: pause: %w", name, err)
	}
	cfg.Sources = resumed
	if _, err := js.UpdateStream(ctx, cfg); err != nil {
		return fmt.Errorf("bus: restart sources of %s: resume: %w", name, err)
	}
	return nil
}
