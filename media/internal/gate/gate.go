// Package gate orders a peer connection's signaling: candidates wait for
// the description they belong to.
package gate

import "sync"

// Gate holds a connection's local candidates back while its offer or
// answer is being set and queued, so that the peer never receives a
// candidate before the description it belongs to. pion may report
// candidates from inside SetLocalDescription, so the gate is not a lock
// held across it.
type Gate struct {
	mu      sync.Mutex
	closed  bool
	pending []func()
}

// Hold makes later calls of Pass wait until Release.
func (g *Gate) Hold() {
	g.mu.Lock()
	g.closed = true
	g.mu.Unlock()
}

// Pass runs f now, or at Release if the gate is held.
func (g *Gate) Pass(f func()) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed {
		g.pending = append(g.pending, f)
		return
	}
	f()
}

// Release runs first, then what waited, in order.
func (g *Gate) Release(first func()) {
	g.mu.Lock()
	defer g.mu.Unlock()
	first()
	for _, f := range g.pending {
		f()
	}
	g.pending = nil
	g.closed = false
}
