package web

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"time"

	"github.com/gofiber/contrib/websocket"
	"github.com/gofiber/fiber/v2"

	"siteline/policy"
	"siteline/storage"
)

// Events pushes events to a user's open backoffice pages, one WebSocket
// per page: a call ringing them, and that ring stopping. The node
// implements it; the sessions table and their history say what rings
// whom, so a page that opens late still learns of a call ringing now.
type Events interface {
	// Subscribe sends the actor's events to send until cancel is called:
	// first the calls ringing the actor now, then EventReady, then events
	// as they happen. send must not block.
	Subscribe(ctx context.Context, a Actor, send func(Event) error) (cancel func(), err error)
	// Decline stops a call ringing the actor on all their pages; the call
	// stays on their waiting calls, joinable until the caller ends it.
	Decline(ctx context.Context, a Actor, callID string) error
	// WaitingCalls lists the open calls that the actor's service requests
	// started, ringing or answered, with their callers.
	WaitingCalls(ctx context.Context, a Actor) ([]WaitingCall, error)
}

// Event types sent on GET /api/v1/events.
const (
	// EventReady follows the calls ringing when the socket opened.
	EventReady = "ready"
	// EventIncomingCall: a call rings the user.
	EventIncomingCall = "incoming_call"
	// EventRingStopped: the call stopped ringing; Reason says why.
	EventRingStopped = "ring_stopped"
	// EventCallStatus tells a caller what became of their direct call to
	// a user (CallerName is the callee): Reason is one of the Ring
	// reasons.
	EventCallStatus = "call_status"
)

// Reasons of EventRingStopped.
const (
	RingAnswered = "answered"  // someone joined the call: it is active
	RingDeclined = "declined"  // the user declined it on one of their pages
	RingEnded    = "ended"     // the caller ended the call
	RingNoAnswer = "no_answer" // a direct call rang unanswered for its time
)

// Event is one message on the events socket.
type Event struct {
	Type       string     `json:"type"`
	CallID     string     `json:"call_id,omitempty"`
	CallerName string     `json:"caller_name,omitempty"`
	Subject    string     `json:"subject,omitempty"`
	StartedAt  *time.Time `json:"started_at,omitempty"`
	Reason     string     `json:"reason,omitempty"`
	// URL is where a direct call from another user lives: the call page
	// on the caller's node, maybe another node of the federation.
	URL string `json:"url,omitempty"`
	// Supervision is what changed on a team dashboard the user watches
	// (EventSupervision).
	Supervision *SupervisionUpdate `json:"supervision,omitempty"`
	// Presence is the state (PresenceOnline, PresenceInCall,
	// PresenceOffline) of the users of the organisation whose presence
	// changed (EventPresence); with PresenceAll it is every user not
	// offline, and any other user is offline.
	Presence    map[string]string `json:"presence,omitempty"`
	PresenceAll bool              `json:"presence_all,omitempty"`
}

// WaitingCall is a call on the expert's dashboard.
type WaitingCall struct {
	Call       storage.Session `json:"call"`
	CallerName string          `json:"caller_name"`
	// Declined is true once the expert declined the ring; they may still
	// join.
	Declined bool `json:"declined"`
}

// Events socket limits: the client sends pongs, activity and the close.
const (
	maxEventFrame = 4 << 10
	eventQueue    = 64
)

func (s *Server) eventRoutes() []route {
	p := APIPrefix
	return []route{
		// No permission: every logged-in user may hear their own calls
		// ring; guests are refused (xa_ocall_outside-the-call).
		{method: "GET", path: p + "/events", summary: "Events WebSocket of the caller's open pages: incoming_call, ring_stopped (after the calls ringing now, ready); with presence=1 and the contact list's permission, presence (the colleagues not offline, then each change)", handler: s.apiEvents},
		{method: "POST", path: p + "/calls/:id/decline", summary: "Decline a call ringing the caller: the ring stops; the call stays joinable until the caller ends it", handler: s.apiDecline},
		{method: "GET", path: p + "/waiting-calls", perm: policy.InviteGuestUsers, summary: "Open calls started by the caller's service requests, with their callers", out: []WaitingCall{}, handler: s.apiWaitingCalls},
	}
}

// checkSocketUpgrade refuses a request that is not a WebSocket upgrade,
// and a cookie-authenticated upgrade from another site: browsers send
// cookies on cross-site upgrades, and no CSRF token comes with them.
func (s *Server) checkSocketUpgrade(c *fiber.Ctx) error {
	if !websocket.IsWebSocketUpgrade(c) {
		return &Error{Status: fiber.StatusUpgradeRequired, Code: "upgrade_required", Message: "this endpoint speaks WebSocket only"}
	}
	if _, cookie := sessionOf(c); !cookie {
		return nil
	}
	if origin := c.Get(fiber.HeaderOrigin); origin == "" || !s.ownOrigin(c, origin) { // origin.go
		return &Error{Status: fiber.StatusForbidden, Code: "csrf", Message: fmt.Sprintf("WebSocket upgrade from origin %q refused: it must be this site", origin)}
	}
	return nil
}

// apiEvents upgrades to the events WebSocket of a logged-in user.
func (s *Server) apiEvents(c *fiber.Ctx) error {
	events := s.deps.Events
	if err := s.checkSocketUpgrade(c); err != nil {
		return err
	}
	a, _ := actorOf(c)
	if a.Local {
		return &storage.ValidationError{Field: "actor", Problem: "must be a user: no call rings the node's local operator"}
	}
	// A phonebook page asks for the presence of its colleagues; other pages
	// are spared its traffic.
	presence := c.Query("presence") == "1"
	return websocket.New(func(conn *websocket.Conn) {
		s.serveEvents(conn, events, a, presence)
	}, websocket.Config{HandshakeTimeout: 10 * time.Second, ReadBufferSize: 4 << 10, WriteBufferSize: 16 << 10, WriteBufferPool: socketWriteBuffers})(c)
}

// socketWriteBuffers lends the signaling and events sockets their write
// buffers for the time of a message: a socket that is idle most of the
// time (every open page has one, every call participant two) holds none.
var socketWriteBuffers = &sync.Pool{}

// serveEvents runs one events socket: this goroutine reads (pongs, the
// close), a socketWriter writes.
func (s *Server) serveEvents(conn *websocket.Conn, events Events, a Actor, presence bool) {
	if !s.addSocket(conn, a) {
		_ = conn.Close()
		return
	}
	defer s.sockets.remove(conn)

	w := s.startWriter(conn, eventQueue, func(reason error) {
		s.log.Debug("events socket closing", "user", a.UserID, "reason", reason)
	})
	stop := w.stop
	send := func(e Event) error {
		b, err := json.Marshal(e)
		if err != nil {
			return err
		}
		return w.send(b)
	}

	ctx, cancelCtx := context.WithTimeout(context.Background(), 10*time.Second)
	cancel, err := events.Subscribe(ctx, a, send)
	cancelCtx()
	if err != nil {
		s.log.Warn("open events socket", "user", a.UserID, "err", err)
		stop(err)
		w.wait()
		return
	}
	defer cancel()
	if sup := s.deps.Supervision; sup != nil {
		defer sup.Watch(a, send)()
	}
	if feed := s.deps.PresenceFeed; feed != nil && presence && s.can(a, policy.ContactList) {
		defer feed.WatchPresence(a, send)()
	}
	conn.SetReadLimit(maxEventFrame)
	_ = conn.SetReadDeadline(time.Now().Add(pongWait))
	conn.SetPongHandler(func(string) error { return conn.SetReadDeadline(time.Now().Add(pongWait)) })
	for {
		_, msg, err := conn.ReadMessage()
		if err != nil {
			stop(err)
			break
		}
		s.pageMessage(a, msg)
		_ = conn.SetReadDeadline(time.Now().Add(pongWait))
	}
	w.wait()
}

// pageMessage handles what a page sends on its events socket: activity
// ({"type":"activity"}, at most every half minute while the user uses the
// page), which keeps the user from being idle on the team dashboard.
// Anything else is ignored.
func (s *Server) pageMessage(a Actor, msg []byte) {
	var m struct {
		Type string `json:"type"`
	}
	if json.Unmarshal(msg, &m) != nil || m.Type != "activity" || s.deps.Supervision == nil {
		return
	}
	s.deps.Supervision.Active(a)
}

func (s *Server) apiDecline(c *fiber.Ctx) error {
	a, _ := actorOf(c)
	if err := s.deps.Events.Decline(c.UserContext(), a, param(c, "id")); err != nil {
		return err
	}
	return c.SendStatus(fiber.StatusNoContent)
}

func (s *Server) apiWaitingCalls(c *fiber.Ctx) error {
	a, _ := actorOf(c)
	out, err := s.deps.Events.WaitingCalls(c.UserContext(), a)
	if err != nil {
		return err
	}
	return c.JSON(nonNil(out))
}
