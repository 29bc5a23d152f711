package node

import (
	"context"
	"fmt"
	"net"
)

// Ports a node chose itself (a listen address ending in ":0", such as the
// single-node default raft.listen 127.0.0.1:0) are kept in the node's meta
// table and asked for again at the next start: the addresses other nodes
// learnt (its Raft address, the leaf URL plants link to) stay right across
// restarts.
const (
	metaRaftPort = "kept_port.raft"
	metaLeafPort = "kept_port.leaf"
)

// keptAddr is addr with the port kept under key when addr asks for any
// port and one was kept; else addr.
func (n *Node) keptAddr(ctx context.Context, key, addr string) (string, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil || port != "0" {
		return addr, nil
	}
	kept, err := n.meta(ctx, key)
	if err != nil || kept == "" {
		return addr, err
	}
	return net.JoinHostPort(host, kept), nil
}

// freeKeptAddr is keptAddr, unless the kept port is taken now: then addr
// (any port), with a warning, rather than a node that cannot start.
func (n *Node) freeKeptAddr(ctx context.Context, key, addr string) (string, error) {
	want, err := n.keptAddr(ctx, key, addr)
	if err != nil || want == addr {
		return want, err
	}
	ln, err := net.Listen("tcp", want)
	if err != nil {
		n.log.Warn("the port this node listened on before is taken; it listens on another, and nodes that knew the old one must be told",
			"listen", want, "err", err)
		return addr, nil
	}
	return want, ln.Close()
}

// keepPort records the port bound for addr when addr asked for any.
func (n *Node) keepPort(ctx context.Context, key, addr, bound string) error {
	if _, port, err := net.SplitHostPort(addr); err != nil || port != "0" {
		return nil
	}
	_, port, err := net.SplitHostPort(bound)
	if err != nil || port == "0" {
		return nil
	}
	if err := n.store.SetMeta(ctx, key, port); err != nil {
		return fmt.Errorf("keep the port of %s: %w", addr, err)
	}
	return nil
}

// joinable says why no other node could join this one at the Raft
// address it would give them, and which settings to change; nil when
// they can. An address the operator set in raft.advertise is taken as
// meant, even a loopback one (a federation on one machine).
func (n *Node) joinable() error { return joinableAt(n.cfg.Raft.Advertise, n.raft.Addr()) }

// joinableAt is joinable for a node with raft.advertise set to advertise
// whose Raft transport is at addr.
func joinableAt(advertise, addr string) error {
	if advertise != "" {
		return nil
	}
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return nil
	}
	return fmt.Errorf("cannot be joined: its Raft address %s can only be reached from this machine. "+
		"Set raft.listen to an address and a fixed port other nodes can reach (such as 10.0.0.5:7000, or 0.0.0.0:7000 with "+
		"raft.advertise set to this machine's name and port), restart the node, then mint the token again", addr)
}
