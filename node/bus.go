package node

import (
	"context"
	"fmt"
	"sync/atomic"

	"github.com/nats-io/nats.go"

	"siteline/cluster/bus"
)

// metaLeafURL keeps the headquarters leaf URL a plant learnt when it
// joined (nats.leaf_remotes overrides it).
const metaLeafURL = "federation_leaf_url"

// busConfig is the embedded NATS server's configuration. Its JetStream
// domain is the node id, so headquarters names a plant's stream by it. A
// voter (headquarters) accepts leaf links on nats.leaf_listen with the
// federation's mutual TLS; every node that joined links to the voter it
// joined through (or nats.leaf_remotes): a plant, and a voter too, so that
// the voters, linked in a tree, reach each other's history and every
// plant's.
func (n *Node) busConfig(ctx context.Context) (bus.Config, error) {
	cfg := bus.Config{
		Dir:             n.cfg.path("nats"),
		ServerName:      n.nodeID,
		Listen:          n.cfg.NATS.Listen,
		Logger:          n.log,
		Domain:          n.nodeID,
		DuplicateWindow: n.cfg.NATS.DuplicateWindow,
	}
	hub := n.raft.Suffrage() == "voter"
	listen := n.cfg.leafListen()
	if !hub && n.cfg.NATS.LeafListen == "" {
		listen = "" // a plant accepts no links unless told to
	}
	remotes := n.cfg.NATS.LeafRemotes
	if len(remotes) == 0 {
		url, err := n.meta(ctx, metaLeafURL)
		if err != nil {
			return cfg, err
		}
		if url != "" {
			remotes = []string{url}
		}
	}
	if listen == "" && len(remotes) == 0 {
		return cfg, nil
	}
	tlsCfg, err := n.pkiFiles().TLSConfig()
	if err != nil {
		return cfg, fmt.Errorf("leaf links: %w", err)
	}
	if listen != "" {
		cfg.LeafListen, cfg.LeafTLS = listen, tlsCfg
	}
	for _, u := range remotes {
		cfg.LeafRemotes = append(cfg.LeafRemotes, bus.LeafRemote{URL: u, TLS: tlsCfg})
	}
	return cfg, nil
}

// busConn is the node's connection to its embedded NATS server; nil when
// it runs without one.
func (n *Node) busConn() *nats.Conn {
	if n.bus == nil {
		return nil
	}
	return n.bus.Conn()
}

// LeafURL is where plants link to this node (tls://host:port); "" when it
// accepts no leaf links.
func (n *Node) LeafURL() string {
	if n.bus == nil {
		return ""
	}
	bound := n.bus.LeafAddr()
	if bound == "" {
		return ""
	}
	addr := n.cfg.leafAdvertise(bound, n.raft.Addr())
	if addr == "" {
		return ""
	}
	return "tls://" + addr
}

// startHistory starts forwarding site history (every node) and applying
// the plants' (voters). Without a bus (offline) records wait in the
// outbox for the next start.
func (n *Node) startHistory(ctx context.Context) error {
	if n.bus == nil {
		return nil
	}
	h, err := newHistory(ctx, n)
	if err != nil {
		return fmt.Errorf("start history forwarding: %w", err)
	}
	n.history.set(h)
	return nil
}

// historyRef holds the node's history forwarding once started; Raft's
// stats callback reads it from other goroutines.
type historyRef struct{ p atomic.Pointer[history] }

func (r *historyRef) get() *history  { return r.p.Load() }
func (r *historyRef) set(h *history) { r.p.Store(h) }
