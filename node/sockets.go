package node

import (
	"sync/atomic"

	"siteline/storage"
	"siteline/web"
)

// webRef is the node's web server as the state machine's goroutine sees
// it: nil until the server is built, which happens after Raft starts.
type webRef struct{ p atomic.Pointer[web.Server] }

func (r *webRef) get() *web.Server  { return r.p.Load() }
func (r *webRef) set(s *web.Server) { r.p.Store(s) }

// closeDeactivated closes, on this node, the signaling and events sockets
// of the users an applied command deactivated or deleted. Every node
// applies the command, so every node closes its own sockets of them. The
// closing happens off the state machine's goroutine, which must not wait
// on clients.
func (n *Node) closeDeactivated(cmd storage.Command) {
	var ids []string
	for _, ch := range cmd.Changes {
		switch {
		case ch.Op == storage.OpPutUser && ch.User != nil && !ch.User.Active:
			ids = append(ids, ch.User.ID)
		case ch.Op == storage.OpDeleteUser:
			ids = append(ids, ch.ID)
		}
	}
	srv := n.webSockets.get()
	if len(ids) == 0 || srv == nil {
		return
	}
	go func() {
		for _, id := range ids {
			if count := srv.CloseUserSockets(id); count > 0 {
				n.log.Info("closed the sockets of a deactivated user", "user", id, "sockets", count)
			}
		}
	}()
}
