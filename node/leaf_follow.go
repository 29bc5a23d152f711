package node

import (
	"context"
	"errors"
	"sync"
	"time"

	"siteline/cluster/bus"
	"siteline/node/federation"
	"siteline/storage"
)

// A plant follows the leaf address of the voter it joined through. A
// voter announces where it accepts leaf links through the replicated log
// (storage.LeafAddress) whenever the log holds another address; a plant
// links to the address its voter announced, at start and as soon as a new
// one is applied, instead of the one it learnt when it joined. The
// replicated log reaches the plant over Raft, which does not need the
// leaf link, so a voter that moved is found again without an operator.
// nats.leaf_remotes, when set, overrides all of this.

// leafFollower is a plant's bus and its current leaf remote, once the bus
// runs with a remote it may replace.
type leafFollower struct {
	mu  sync.Mutex
	bus *bus.Bus
	url string // the hub URL the bus links to
}

func (f *leafFollower) started(b *bus.Bus, url string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.bus, f.url = b, url
}

// hubLeafURL is the URL of the hub a plant links to: the address its
// voter announced, or else the one it learnt when it joined ("" for none).
func (n *Node) hubLeafURL(ctx context.Context) (string, error) {
	learnt, err := n.meta(ctx, federation.MetaLeafURL)
	if err != nil {
		return "", err
	}
	hub, err := n.meta(ctx, federation.MetaLeafNode)
	if err != nil || hub == "" {
		return learnt, err
	}
	a, err := n.store.LeafAddress(ctx, hub)
	if errors.Is(err, storage.ErrNotFound) {
		return learnt, nil
	} else if err != nil {
		return "", err
	}
	return a.URL, nil
}

// announceLeaf proposes this node's leaf URL until the replicated log
// holds it, retrying while there is no leader.
func (n *Node) announceLeaf(ctx context.Context) {
	url := n.LeafURL()
	if url == "" {
		return
	}
	wait := 500 * time.Millisecond
	for {
		if a, err := n.store.LeafAddress(ctx, n.nodeID); err == nil && a.URL == url {
			return
		}
		now := n.now().UTC()
		err := n.raft.Propose(ctx, storage.Command{Changes: []storage.Change{{Op: storage.OpPutLeafAddress,
			LeafAddress: &storage.LeafAddress{NodeID: n.nodeID, URL: url, UpdatedAt: now}}}, At: now, ActorID: "system"})
		if err == nil {
			n.log.Info("leaf address announced", "url", url)
			return
		}
		n.log.Warn("announce the leaf address; retrying", "url", url, "err", err, "in", wait)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		wait = min(2*wait, 30*time.Second)
	}
}

// leafApplied is the applied hook: when the voter a plant joined through
// announced a new address, the plant relinks to it.
func (n *Node) leafApplied(cmd storage.Command) {
	for _, ch := range cmd.Changes {
		if ch.Op == storage.OpPutLeafAddress {
			go n.followLeaf()
			return
		}
	}
}

// followLeaf points the bus's leaf link at the hub URL the store holds now,
// when it differs from the current one. Nothing is done before the bus
// runs with a remote learnt at join, nor when nats.leaf_remotes is set.
func (n *Node) followLeaf() {
	f := &n.leaf
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.bus == nil {
		return
	}
	ctx, cancel := context.WithTimeout(n.lifetime, 10*time.Second)
	defer cancel()
	url, err := n.hubLeafURL(ctx)
	if err != nil || url == "" || url == f.url {
		return
	}
	tlsCfg, err := n.pkiFiles().TLSConfig()
	if err != nil {
		n.log.Error("follow the hub's leaf address", "url", url, "err", err)
		return
	}
	if err := f.bus.SetLeafRemotes([]bus.LeafRemote{{URL: url, TLS: tlsCfg}}); err != nil {
		n.log.Error("follow the hub's leaf address", "url", url, "err", err)
		return
	}
	n.log.Info("leaf link follows the hub", "from", f.url, "to", url)
	f.url = url
	// Kept as the address learnt, should the announcement be lost.
	if err := n.store.SetMeta(ctx, federation.MetaLeafURL, url); err != nil {
		n.log.Warn("keep the hub's leaf address", "err", err)
	}
}
