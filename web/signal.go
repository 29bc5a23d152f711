package web

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/gofiber/contrib/websocket"
	"github.com/gofiber/fiber/v2"
)

// Signaling WebSocket limits. A frame larger than maxSignalFrame closes the
// socket (1009); below it, the call service refuses an oversized message
// with an error message and the socket stays up.
const (
	maxSignalFrame = 256 << 10
	signalQueue    = 512 // messages waiting for the writer
	pongWait       = 60 * time.Second
	pingEvery      = 20 * time.Second
	writeWait      = 10 * time.Second
)

var (
	errSocketClosed = errors.New("signaling socket closed")
	errSlowReader   = errors.New("signaling client too slow to read; disconnected")
	errCallEnded    = errors.New("the call has ended")
)

// sockets tracks the live signaling and events sockets, with the user of
// each, so that Shutdown can close them (fasthttp does not wait for
// hijacked connections) and so can a user's deactivation.
type sockets struct {
	mu     sync.Mutex
	live   map[*websocket.Conn]string // user id
	closed bool
	wg     sync.WaitGroup
}

func (ss *sockets) add(c *websocket.Conn, userID string) bool {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	if ss.closed {
		return false
	}
	if ss.live == nil {
		ss.live = make(map[*websocket.Conn]string)
	}
	ss.live[c] = userID
	ss.wg.Add(1)
	return true
}

// closeUser closes userID's sockets and returns how many there were.
// Their handlers see the read fail and clean up (leave the call, stop
// the subscription) as on any disconnection.
//
// The lock is held while closing: a handler removes its socket before it
// returns, and the websocket package reuses a Conn once its handler has
// returned, so a Conn closed outside the lock might already serve someone
// else.
func (ss *sockets) closeUser(userID, reason string) int {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	n := 0
	for c, u := range ss.live {
		if u == userID {
			_ = c.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.ClosePolicyViolation, reason), time.Now().Add(time.Second))
			_ = c.Close()
			n++
		}
	}
	return n
}

// addSocket registers a user's socket, or refuses it (false) when the
// server is shutting down or the user was deactivated meanwhile: a
// deactivation applied between the request's login check and here would
// otherwise miss the socket.
func (s *Server) addSocket(conn *websocket.Conn, a Actor) bool {
	if !s.sockets.add(conn, a.UserID) {
		return false
	}
	if a.Local || a.isGuest() {
		return true
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if u, err := s.deps.Org.User(ctx, a.OrgID, a.UserID); err != nil || !u.Active {
		s.sockets.remove(conn)
		return false
	}
	return true
}

// CloseUserSockets closes the signaling and events sockets a user has open
// on this node, for a user who was just deactivated or deleted. It returns
// how many it closed.
func (s *Server) CloseUserSockets(userID string) int {
	return s.sockets.closeUser(userID, "account deactivated")
}

func (ss *sockets) remove(c *websocket.Conn) {
	ss.mu.Lock()
	delete(ss.live, c)
	ss.mu.Unlock()
	ss.wg.Done()
}

// closeAll closes every socket and waits for their handlers, or ctx.
func (ss *sockets) closeAll(ctx context.Context) error {
	ss.mu.Lock()
	ss.closed = true
	for c := range ss.live {
		_ = c.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseGoingAway, "server shutting down"), time.Now().Add(time.Second))
		_ = c.Close()
	}
	ss.mu.Unlock()
	done := make(chan struct{})
	go func() { ss.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("close signaling sockets: %w", ctx.Err())
	}
}

// apiSignal upgrades to the signaling WebSocket. Login and the
// xa_icall_join permission were checked by the route; a cookie session
// must also come from this very origin, since browsers send cookies on
// cross-site WebSocket upgrades and no CSRF token comes with them.
func (s *Server) apiSignal(c *fiber.Ctx) error {
	calls := s.deps.Calls
	if err := s.checkSocketUpgrade(c); err != nil {
		return err
	}
	a, _ := actorOf(c)
	a.Device = Device(c.Get(fiber.HeaderUserAgent))
	callID := c.Params("id") // a copy: the app is Immutable (server.go)
	if _, err := calls.Call(c.UserContext(), a, callID); err != nil {
		return err
	}
	return websocket.New(func(conn *websocket.Conn) {
		s.serveSignal(conn, calls, a, callID)
	}, websocket.Config{HandshakeTimeout: 10 * time.Second, ReadBufferSize: 4 << 10, WriteBufferSize: 16 << 10, WriteBufferPool: socketWriteBuffers})(c)
}

// serveSignal runs one signaling socket: this goroutine reads, one writer
// goroutine writes (messages, pings, the close frame).
func (s *Server) serveSignal(conn *websocket.Conn, calls Calls, a Actor, callID string) {
	if !s.addSocket(conn, a) {
		_ = conn.Close()
		return
	}
	defer s.sockets.remove(conn)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	w := newSocketWriter(conn, signalQueue, func(reason error) {
		s.log.Debug("signaling socket closing", "call", callID, "user", a.UserID, "reason", reason)
	})
	stop, send := w.stop, w.send

	cc, err := calls.Join(ctx, a, callID, send)
	if err != nil {
		s.log.Warn("open signaling connection", "call", callID, "err", err)
		go w.run(nil)
		stop(err)
		w.wait()
		return
	}
	// The call's end closes the socket after what is queued (the end
	// itself).
	go w.run(cc.Ended())
	conn.SetReadLimit(maxSignalFrame)
	_ = conn.SetReadDeadline(time.Now().Add(pongWait))
	conn.SetPongHandler(func(string) error { return conn.SetReadDeadline(time.Now().Add(pongWait)) })
	for {
		_, data, err := conn.ReadMessage()
		if err != nil {
			stop(err)
			break
		}
		_ = conn.SetReadDeadline(time.Now().Add(pongWait))
		if err := cc.Handle(data); err != nil {
			s.log.Debug("signaling message refused", "call", callID, "user", a.UserID, "err", err)
		}
	}
	cc.Close()
	w.wait()
}

// socketWriter is a socket's only writer and the queue in front of it:
// send never blocks, and a reader too slow to keep up is disconnected.
// The queue is a slice that grows with what waits, not a channel of the
// limit's size: a signaling socket's 512 places took 12 KB for each
// participant from the start, where a few are used.
type socketWriter struct {
	conn   *websocket.Conn
	limit  int           // messages waiting, the one being written included
	ready  chan struct{} // a message was queued; capacity 1
	done   chan struct{} // closed by stop
	once   sync.Once
	onStop func(error)
	ended  chan struct{} // closed when the writer has returned

	mu      sync.Mutex
	queue   [][]byte // waiting, oldest first
	spare   [][]byte // the last batch written, emptied, for reuse
	pending int      // queued and not yet written
}

// startWriter starts conn's writer with a queue of size messages; onStop
// hears why the socket closes, once.
func (s *Server) startWriter(conn *websocket.Conn, size int, onStop func(error)) *socketWriter {
	w := newSocketWriter(conn, size, onStop)
	go w.run(nil)
	return w
}

// newSocketWriter returns conn's writer with a queue of size messages,
// not yet running: send queues until run starts.
func newSocketWriter(conn *websocket.Conn, size int, onStop func(error)) *socketWriter {
	return &socketWriter{conn: conn, limit: size, ready: make(chan struct{}, 1), done: make(chan struct{}),
		onStop: onStop, ended: make(chan struct{})}
}

// stop closes the socket after what is queued, once.
func (w *socketWriter) stop(reason error) {
	w.once.Do(func() {
		if reason != nil && w.onStop != nil {
			w.onStop(reason)
		}
		close(w.done)
	})
}

// send queues b; a full queue disconnects the slow reader.
func (w *socketWriter) send(b []byte) error {
	select {
	case <-w.done:
		return errSocketClosed
	default:
	}
	w.mu.Lock()
	if w.pending >= w.limit {
		w.mu.Unlock()
		w.stop(errSlowReader)
		return errSlowReader
	}
	w.queue = append(w.queue, b)
	w.pending++
	w.mu.Unlock()
	select {
	case w.ready <- struct{}{}:
	default:
	}
	return nil
}

// take returns what is queued, oldest first, and empties the queue.
func (w *socketWriter) take() [][]byte {
	w.mu.Lock()
	defer w.mu.Unlock()
	batch := w.queue
	w.queue, w.spare = w.spare[:0], nil
	return batch
}

// written counts n messages of batch written (or dropped), and keeps the
// batch's array for the next one.
func (w *socketWriter) written(batch [][]byte, n int) {
	clear(batch)
	w.mu.Lock()
	w.pending -= n
	if w.spare == nil {
		w.spare = batch[:0]
	}
	w.mu.Unlock()
}

// wait returns when the writer has closed the socket.
func (w *socketWriter) wait() { <-w.ended }

// writeQueued writes what is queued; it reports false on a failed write.
func (w *socketWriter) writeQueued() bool {
	batch := w.take()
	for i, b := range batch {
		_ = w.conn.SetWriteDeadline(time.Now().Add(writeWait))
		if err := w.conn.WriteMessage(websocket.TextMessage, b); err != nil {
			w.written(batch, len(batch)-i)
			w.stop(err)
			return false
		}
		batch[i] = nil
		w.mu.Lock()
		w.pending--
		w.mu.Unlock()
	}
	w.written(batch, 0)
	return true
}

// run writes until the socket fails or stop is called; a close of end
// stops it with errCallEnded.
func (w *socketWriter) run(end <-chan struct{}) {
	defer close(w.ended)
	conn := w.conn
	ping := time.NewTicker(pingEvery)
	defer ping.Stop()
	defer conn.Close() // unblocks the reader
	for {
		select {
		case <-w.ready:
			if !w.writeQueued() {
				return
			}
		case <-end:
			end = nil
			w.stop(errCallEnded)
		case <-ping.C:
			if err := conn.WriteControl(websocket.PingMessage, nil, time.Now().Add(writeWait)); err != nil {
				w.stop(err)
				return
			}
		case <-w.done:
			// Flush what was queued (an error, end), then say goodbye.
			if !w.writeQueued() {
				return
			}
			_ = conn.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""), time.Now().Add(time.Second))
			return
		}
	}
}
