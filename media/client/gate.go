package client

import "sync"

// gate holds a connection's local candidates back while its offer or
// answer is being set and queued, so that the peer never receives a
// candidate before the description it belongs to. pion may report
// candidates from inside SetLocalDescription, so the gate is not a lock
// held across it.
type gate struct {
	mu      sync.Mutex
	closed  bool
	pending []func()
}

// hold makes later calls of pass wait until release.
func (g *gate) hold() {
	g.mu.Lock()
	g.closed = true
	g.mu.Unlock()
}

// pass runs f now, or at release if the gate is held.
func (g *gate) pass(f func()) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed {
		g.pending = append(g.pending, f)
		return
	}
	f()
}

// release runs first, then what waited, in order.
func (g *gate) release(first func()) {
	g.mu.Lock()
	defer g.mu.Unlock()
	first()
	for _, f := range g.pending {
		f()
	}
	g.pending = nil
	g.closed = false
}
