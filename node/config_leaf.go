package node

import (
	"fmt"
	"net"
	"net/url"
	"strconv"
	"time"
)

// leafOff is the nats.leaf_listen value that accepts no leaf links.
const leafOff = "off"

// validateLeaf checks the nats.leaf_* and nats.duplicate_window settings.
func (c *Config) validateLeaf() error {
	bad := func(key, format string, args ...any) error {
		return fmt.Errorf("config %s: %s", key, fmt.Sprintf(format, args...))
	}
	if l := c.NATS.LeafListen; l != "" && l != leafOff {
		if err := validAddr(l); err != nil {
			return bad("nats.leaf_listen", "%v (or \"off\")", err)
		}
	}
	if a := c.NATS.LeafAdvertise; a != "" {
		host, port, err := net.SplitHostPort(a)
		if err != nil || host == "" || port == "0" || net.ParseIP(host) != nil && net.ParseIP(host).IsUnspecified() {
			return bad("nats.leaf_advertise", "%q must be a host:port plants can reach", a)
		}
	}
	for i, r := range c.NATS.LeafRemotes {
		u, err := url.Parse(r)
		if err != nil || u.Scheme != "tls" || u.Hostname() == "" || u.Port() == "" {
			return bad("nats.leaf_remotes", "entry %d, %q, must be tls://host:port", i+1, r)
		}
	}
	if d := c.NATS.DuplicateWindow; d != 0 && (d < 100*time.Millisecond || d > 24*time.Hour) {
		return bad("nats.duplicate_window", "%s must be between 100ms and 24h (0 for the default, 2m)", d)
	}
	return nil
}

// leafListen is where this node accepts leaf links: nats.leaf_listen, or
// by default the Raft host and port plus one ("" for none).
func (c *Config) leafListen() string {
	switch l := c.NATS.LeafListen; l {
	case leafOff:
		return ""
	case "":
		host, p, err := net.SplitHostPort(c.Raft.Listen)
		port, _ := strconv.Atoi(p)
		if err != nil || port >= 65535 {
			return ""
		}
		if port > 0 {
			port++
		}
		return net.JoinHostPort(host, strconv.Itoa(port))
	default:
		return l
	}
}

// leafAdvertise is the address plants are told to link to, given the
// address the leaf listener is bound to and this node's Raft address.
func (c *Config) leafAdvertise(bound, raftAddr string) string {
	if c.NATS.LeafAdvertise != "" {
		return c.NATS.LeafAdvertise
	}
	_, port, err := net.SplitHostPort(bound)
	if err != nil {
		return ""
	}
	for _, a := range []string{c.Raft.Advertise, bound, raftAddr} {
		host, _, err := net.SplitHostPort(a)
		if err == nil && host != "" && !(net.ParseIP(host) != nil && net.ParseIP(host).IsUnspecified()) {
			return net.JoinHostPort(host, port)
		}
	}
	return ""
}
