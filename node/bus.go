package node

import (
	"context"
	"fmt"

	"siteline/cluster/bus"
)

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
	if listen != "" {
		var err error
		if listen, err = n.freeKeptAddr(ctx, metaLeafPort, listen); err != nil { // ports.go
			return cfg, err
		}
	}
	remotes := n.cfg.NATS.LeafRemotes
	if len(remotes) == 0 {
		url, err := n.hubLeafURL(ctx) // leaf_follow.go
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

// federateRing puts presence and the ring on the bus: this node's users
// are announced to every node, and rings for them come from any node.
func (n *Node) federateRing() error {
	if n.bus == nil {
		return nil
	}
	if err := n.ring.Presence().Federate(n.lifetime, n.bus); err != nil {
		return fmt.Errorf("presence: %w", err)
	}
	if err := n.ring.Federate(n.bus); err != nil {
		return fmt.Errorf("ring: %w", err)
	}
	return nil
}
