package web

import (
	"net"
	"sync"

	"github.com/valyala/fasthttp"
)

// openConns are the HTTP connections reading a request or in a handler
// (fasthttp's new and active states). fasthttp's shutdown closes idle
// connections and waits for the others; one whose client sent half a
// request, or nothing yet, would hold the stop until the read timeout.
// Shutdown closes what is still here once handlers have had their time.
type openConns struct {
	mu   sync.Mutex
	live map[net.Conn]struct{}
}

// track is fasthttp's ConnState hook. Idle connections are fasthttp's to
// close; hijacked ones (the signaling WebSockets) are the sockets'.
func (o *openConns) track(c net.Conn, state fasthttp.ConnState) {
	o.mu.Lock()
	defer o.mu.Unlock()
	switch state {
	case fasthttp.StateNew, fasthttp.StateActive:
		if o.live == nil {
			o.live = make(map[net.Conn]struct{})
		}
		o.live[c] = struct{}{}
	default:
		delete(o.live, c)
	}
}

// closeAll closes every tracked connection and returns how many there
// were.
func (o *openConns) closeAll() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	n := len(o.live)
	for c := range o.live {
		_ = c.Close()
		delete(o.live, c)
	}
	return n
}
