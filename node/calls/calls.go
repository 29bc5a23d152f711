package calls

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"siteline/media/sfu"
	"siteline/media/signal"
	"siteline/media/turn"
	"siteline/node/internal/check"
	"siteline/storage"
	"siteline/web"
)

// Service is the calls use case behind web.Calls: a call is a session
// row in the site store and a room of the SFU under the same id; joins and
// leaves are written to the session's history before they are
// acknowledged.
type Service struct {
	life    context.Context // Deps.Context, ended by Wait
	endLife context.CancelFunc

	store       Store
	enforcer    Enforcer
	supervision Supervision
	audit       Auditor
	blobs       Blobs
	ring        *RingHub
	now         func() time.Time
	log         *slog.Logger
	cfg         Config

	media  atomic.Pointer[mediaParts] // SetMedia
	queues atomic.Pointer[Queues]     // SetQueues; supervise.go

	wg sync.WaitGroup // departure watchers

	mu      sync.Mutex
	directs map[string]*directSession // WHIP and WHEP sessions by id

	empty emptyCalls // end.go

	monitors sync.Map // call id -> the member it shows (monitor.go)
}

type directSession struct {
	callID string
	userID string
	left   *Departure
	leave  func()
}

// mediaParts are the SFU and the relay of a node whose media runs.
type mediaParts struct {
	sfu   SFU
	relay Relay // nil when every TURN listener is off
}

// New builds the call service. It has no media until SetMedia: calls can
// be read, not joined.
func New(d Deps) *Service {
	if d.Context == nil {
		d.Context = context.Background()
	}
	if d.Now == nil {
		d.Now = time.Now
	}
	if d.Log == nil {
		d.Log = slog.New(slog.DiscardHandler)
	}
	life, end := context.WithCancel(d.Context)
	return &Service{life: life, endLife: end, store: d.Store, enforcer: d.Enforcer, supervision: d.Supervision,
		audit: d.Audit, blobs: d.Blobs, ring: d.Ring, now: d.Now, log: d.Log, cfg: d.Config,
		directs: make(map[string]*directSession)}
}

var _ web.Calls = (*Service)(nil)

// SetMedia gives the service the node's SFU and TURN relay (relay nil
// when off), once both are built and before the SFU starts.
func (cs *Service) SetMedia(s SFU, relay Relay) {
	cs.media.Store(&mediaParts{sfu: s, relay: relay})
}

// Wait waits for the departure watchers, once the SFU has shut down, then
// ends the service's lifetime.
func (cs *Service) Wait() {
	cs.wg.Wait()
	cs.endLife()
}

// bounded returns a context for a write nobody waits on, bounded by d.
func (cs *Service) bounded(d time.Duration) (context.Context, context.CancelFunc) {
	return context.WithTimeout(cs.life, d)
}

func (cs *Service) sfu() (SFU, error) {
	m := cs.media.Load()
	if m == nil {
		return nil, fmt.Errorf("media is not running on this node: %w", storage.ErrNotFound)
	}
	return m.sfu, nil
}

func (cs *Service) relay() Relay {
	if m := cs.media.Load(); m != nil {
		return m.relay
	}
	return nil
}

// CreateCall starts a session at this site.
func (cs *Service) CreateCall(ctx context.Context, a web.Actor, in web.CallInput) (storage.Session, error) {
	in.Name, in.Goal = strings.TrimSpace(in.Name), strings.TrimSpace(in.Goal)
	switch {
	case len(in.Name) > 200:
		return storage.Session{}, validation("name", "must be at most 200 characters")
	case len(in.Goal) > 2000:
		return storage.Session{}, validation("goal", "must be at most 2000 characters")
	}
	if err := check.NameChars("name", in.Name); err != nil {
		return storage.Session{}, err
	}
	if err := cs.checkActiveCalls(ctx, a); err != nil {
		return storage.Session{}, err
	}
	s := storage.Session{
		ID: newID(), OrgID: a.OrgID, SiteID: cs.cfg.SiteID, Kind: storage.SessionConference,
		Name: in.Name, Goal: in.Goal, Status: storage.SessionActive, CreatedBy: actorID(a),
		StartedAt: cs.now().UTC(),
	}
	if s.OrgID == "" {
		s.OrgID = cs.cfg.OrgID
	}
	if err := cs.store.CreateSession(ctx, s); err != nil {
		return storage.Session{}, fmt.Errorf("create call: %w", err)
	}
	cs.created(s.ID)
	return s, nil
}

// Call returns a session of the actor's organisation: what joining by the
// call's link needs. Its data is for its people (ViewCall).
func (cs *Service) Call(ctx context.Context, a web.Actor, id string) (storage.Session, error) {
	s, err := cs.store.Session(ctx, id)
	if err == nil && !a.Local && s.OrgID != a.OrgID {
		err = fmt.Errorf("session %s: %w", id, storage.ErrNotFound)
	}
	if err != nil {
		return storage.Session{}, fmt.Errorf("call: %w", err)
	}
	return s, nil
}

// OpenCall returns a session of the actor's organisation that can still
// be joined.
func (cs *Service) OpenCall(ctx context.Context, a web.Actor, id string) (storage.Session, error) {
	s, err := cs.Call(ctx, a, id)
	if err != nil {
		return s, err
	}
	if s.Status == storage.SessionEnded {
		return s, fmt.Errorf("call %s has ended: %w", id, storage.ErrConflict)
	}
	return s, nil
}

// ICEServers lists STUN and TURN URLs on host with credentials minted for
// this call and user.
func (cs *Service) ICEServers(ctx context.Context, a web.Actor, callID, host string) (web.ICEConfig, error) {
	s, err := cs.OpenCall(ctx, a, callID)
	if err != nil {
		return web.ICEConfig{}, err
	}
	if err := cs.MayRead(ctx, a, s); err != nil {
		return web.ICEConfig{}, fmt.Errorf("relay credentials: %w", err)
	}
	relay := cs.relay()
	if relay == nil {
		return web.ICEConfig{ICEServers: []web.ICEServer{}}, nil
	}
	if ip := listenIP(cs.cfg.RelayListen...); ip != "" {
		host = ip
	} else if len(cs.cfg.PublicIPs) > 0 {
		host = cs.cfg.PublicIPs[0]
	}
	addrs := relay.Addrs()
	var stun, turnURLs []string
	if addrs.UDP != nil {
		hp := net.JoinHostPort(host, strconv.Itoa(addrs.UDP.Port))
		stun = append(stun, "stun:"+hp)
		turnURLs = append(turnURLs, "turn:"+hp+"?transport=udp")
	}
	if addrs.TCP != nil {
		turnURLs = append(turnURLs, "turn:"+net.JoinHostPort(host, strconv.Itoa(addrs.TCP.Port))+"?transport=tcp")
	}
	if addrs.TLS != nil {
		turnURLs = append(turnURLs, "turns:"+net.JoinHostPort(host, strconv.Itoa(addrs.TLS.Port))+"?transport=tcp")
	}
	user, pass, expires := relay.Credentials(turn.Grant{Org: s.OrgID, Call: callID, User: actorID(a)}, cs.now())
	out := web.ICEConfig{ExpiresAt: expires.UTC()}
	if len(stun) > 0 {
		out.ICEServers = append(out.ICEServers, web.ICEServer{URLs: stun})
	}
	out.ICEServers = append(out.ICEServers, web.ICEServer{URLs: turnURLs, Username: user, Credential: pass})
	return out, nil
}

// listenIP returns the first specific IP among listen addresses.
func listenIP(addrs ...string) string {
	for _, l := range addrs {
		host, _, err := net.SplitHostPort(l)
		if ip := net.ParseIP(host); err == nil && ip != nil && !ip.IsUnspecified() {
			return ip.String()
		}
	}
	return ""
}

// Departure writes a participant's left event once, whichever comes first:
// the socket's close, the participant's own leave, the call's end. A
// supervisor's sit-in is audited on its way out too; an emptied call
// starts its grace period (end.go).
type Departure struct {
	cs       *Service
	callID   string
	pid      string
	userID   string
	joinedAt time.Time
	sitIn    bool
	away     func() // the user is no longer in a call here (presence)
	once     sync.Once
}

// Record writes the departure, the first time it is called.
func (d *Departure) Record() {
	d.once.Do(func() {
		ctx, cancel := d.cs.bounded(10 * time.Second)
		defer cancel()
		now := d.cs.now().UTC()
		ev := storage.SessionEvent{ID: newID(), SessionID: d.callID, At: now, Kind: storage.EventLeft,
			ActorID: d.userID, Payload: payload(map[string]string{"participant": d.pid})}
		if err := d.cs.store.RecordLeave(ctx, d.pid, now, ev); err != nil {
			d.cs.log.Error("record leave", "call", d.callID, "participant", d.pid, "err", err)
		}
		if d.sitIn {
			if err := d.cs.audit.Audit(ctx, d.userID, "call.sit_in_end", d.callID, map[string]string{"participant": d.pid,
				"joined_at": d.joinedAt.Format(time.RFC3339Nano), "left_at": now.Format(time.RFC3339Nano)}); err != nil {
				d.cs.log.Error("audit the end of a sit-in", "call", d.callID, "participant", d.pid, "err", err)
			}
		}
		if d.away != nil {
			d.away()
		}
		d.cs.left(d.callID)
	})
}

// watch records the departure when p is gone.
func (cs *Service) watch(p *sfu.Participant, d *Departure) {
	cs.wg.Add(1)
	go func() {
		defer cs.wg.Done()
		<-p.Done()
		d.Record()
	}()
}

// RecordJoin writes the participant row and its joined event, and returns
// the participant's departure, to be recorded once they leave.
func (cs *Service) RecordJoin(ctx context.Context, a web.Actor, callID, pid, name, device string, hidden bool) (*Departure, error) {
	now := cs.now().UTC()
	uid := actorID(a)
	p := storage.SessionParticipant{ID: pid, SessionID: callID, UserID: uid, DisplayName: name,
		UserKind: actorKind(a), DeviceKind: device, Hidden: hidden, JoinedAt: now}
	ev := storage.SessionEvent{ID: newID(), SessionID: callID, At: now, Kind: storage.EventJoined, ActorID: uid,
		Payload: payload(map[string]any{"participant": pid, "name": name, "hidden": hidden, "device": device})}
	if err := cs.store.RecordJoin(ctx, p, ev); err != nil {
		return nil, err
	}
	cs.answerIfRinging(ctx, a, callID, hidden) // ring.go
	d := &Departure{cs: cs, callID: callID, pid: pid, userID: uid, joinedAt: now, sitIn: hidden, away: func() {}}
	if cs.ring != nil && !hidden {
		cs.ring.answeredDirect(callID, uid)   // dial.go
		cs.ring.queueJoined(ctx, callID, uid) // queue_hooks.go
		d.away = cs.ring.presence.JoinedCall(a.OrgID, uid, callID)
	}
	return d, nil
}

// Join opens a signaling connection; the client's join message enters the
// room.
func (cs *Service) Join(ctx context.Context, a web.Actor, callID string, send func([]byte) error) (web.CallConn, error) {
	if _, err := cs.OpenCall(ctx, a, callID); err != nil {
		return nil, err
	}
	if _, err := cs.sfu(); err != nil {
		return nil, err
	}
	return &callConn{cs: cs, actor: a, callID: callID, sendRaw: send, ended: make(chan struct{}),
		stream: signal.NewStream(signal.FromClient, signal.DefaultMaxSize)}, nil
}

// callConn is one signaling connection: it decodes and orders messages
// (signal.Stream), enters the room on join and hands the rest to the SFU.
type callConn struct {
	cs      *Service
	actor   web.Actor
	callID  string
	sendRaw func([]byte) error
	ended   chan struct{} // closed once the call's end is sent
	endOnce sync.Once

	mu     sync.Mutex
	stream *signal.Stream
	p      *sfu.Participant
	left   *Departure
	closed bool
}

func (c *callConn) reply(m signal.Message) {
	data, err := signal.Encode(m)
	if err == nil {
		err = c.sendRaw(data)
	}
	if err != nil {
		c.cs.log.Debug("signaling reply", "call", c.callID, "type", m.Type, "err", err)
	}
}

// Handle carries out one message. A refused message is answered with an
// error message and changes nothing.
func (c *callConn) Handle(data []byte) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return fmt.Errorf("signaling message on call %s: connection closed", c.callID)
	}
	m, err := c.stream.Decode(data)
	if err != nil {
		c.reply(sfu.ErrorMessage(requestID(data), err))
		return err
	}
	if m.Type == signal.TypeJoin {
		if err := c.join(m); err != nil {
			// The stream saw join; a refused join must leave it unjoined.
			c.stream = signal.NewStream(signal.FromClient, signal.DefaultMaxSize)
			c.reply(sfu.ErrorMessage(m.ID, err))
			return err
		}
		return nil
	}
	if ok, err := c.handleSupervision(m); ok { // supervise.go
		return err
	}
	return c.p.Handle(m)
}

// requestID recovers the id of a refused message, so that the error can
// name the request it answers.
func requestID(data []byte) string {
	var env struct {
		ID string `json:"id"`
	}
	if len(data) > signal.DefaultMaxSize || json.Unmarshal(data, &env) != nil || len(env.ID) > signal.MaxIDLength {
		return ""
	}
	return env.ID
}

func (c *callConn) join(m signal.Message) error {
	if m.Room != "" && m.Room != c.callID {
		return fmt.Errorf("join room %q on the signaling connection of call %s: %w", m.Room, c.callID, storage.ErrInvalid)
	}
	s, err := c.cs.sfu()
	if err != nil {
		return err
	}
	ctx, cancel := c.cs.bounded(10 * time.Second)
	defer cancel()
	var supervised string
	if m.Hidden {
		call, err := c.cs.OpenCall(ctx, c.actor, c.callID)
		if err != nil {
			return err
		}
		if supervised, err = c.cs.checkSitIn(ctx, c.actor, call, m.Monitor); err != nil {
			return fmt.Errorf("sit in on call %s: %w", c.callID, err)
		}
	}
	name := displayName(c.actor)
	// Messages to the client wait until the join is on disk: joined is
	// its acknowledgement.
	ready := make(chan struct{})
	var ok bool
	send := func(msg signal.Message) error {
		<-ready
		if !ok {
			return sfu.ErrLeft
		}
		data, err := signal.Encode(msg)
		if err != nil {
			return err
		}
		err = c.sendRaw(data)
		if msg.Type == signal.TypeEnd {
			c.endOnce.Do(func() { close(c.ended) })
		}
		return err
	}
	pid := newID()
	p, err := s.Join(ctx, c.callID, sfu.ParticipantInfo{ID: pid, UserID: actorID(c.actor), Name: name,
		Hidden: m.Hidden, Monitor: supervised, Guest: isGuest(c.actor)}, send)
	if err != nil {
		close(ready)
		return err
	}
	c.cs.joined(c.callID)
	left, err := c.cs.RecordJoin(ctx, c.actor, c.callID, pid, name, c.actor.Device, m.Hidden)
	if err != nil {
		close(ready)
		p.Leave()
		c.cs.left(c.callID)
		return fmt.Errorf("record join: %w", err)
	}
	if m.Hidden {
		if err := c.cs.supervisionEvent(ctx, c.actor, c.callID, storage.EventSitIn, "call.sit_in", map[string]any{"participant": pid,
			"supervised": supervised, "joined_at": left.joinedAt.Format(time.RFC3339Nano)}); err != nil {
			close(ready)
			p.Leave()
			left.Record()
			return err
		}
	}
	ok = true
	close(ready)
	c.p, c.left = p, left
	c.cs.watch(p, left)
	return nil
}

// Ended is closed once the call's end has been sent: the socket has
// nothing more to carry.
func (c *callConn) Ended() <-chan struct{} { return c.ended }

// Close leaves the call and records the departure before returning.
func (c *callConn) Close() {
	c.mu.Lock()
	c.closed = true
	p, left := c.p, c.left
	c.mu.Unlock()
	if p != nil {
		p.Leave()
		left.Record()
	}
}

// Publish answers a WHIP offer.
func (cs *Service) Publish(ctx context.Context, a web.Actor, callID, offer string) (web.DirectSession, error) {
	return cs.direct(ctx, a, callID, offer, "whip")
}

// Play answers a WHEP offer.
func (cs *Service) Play(ctx context.Context, a web.Actor, callID, offer string) (web.DirectSession, error) {
	return cs.direct(ctx, a, callID, offer, "whep")
}

func (cs *Service) direct(ctx context.Context, a web.Actor, callID, offer, kind string) (web.DirectSession, error) {
	if _, err := cs.OpenCall(ctx, a, callID); err != nil {
		return web.DirectSession{}, err
	}
	s, err := cs.sfu()
	if err != nil {
		return web.DirectSession{}, err
	}
	pid := newID()
	info := sfu.ParticipantInfo{ID: pid, UserID: actorID(a), Name: displayName(a)}
	var p *sfu.Participant
	var answer string
	if kind == "whip" {
		p, answer, err = s.Publish(ctx, callID, info, offer)
	} else {
		p, answer, err = s.Play(ctx, callID, info, offer)
	}
	if err != nil {
		return web.DirectSession{}, err
	}
	cs.joined(callID)
	left, err := cs.RecordJoin(ctx, a, callID, pid, info.Name, kind, false)
	if err != nil {
		p.Leave()
		cs.left(callID)
		return web.DirectSession{}, fmt.Errorf("record %s join: %w", kind, err)
	}
	cs.mu.Lock()
	cs.directs[pid] = &directSession{callID: callID, userID: actorID(a), left: left, leave: p.Leave}
	cs.mu.Unlock()
	cs.wg.Add(1)
	go func() {
		defer cs.wg.Done()
		<-p.Done()
		left.Record()
		cs.mu.Lock()
		delete(cs.directs, pid)
		cs.mu.Unlock()
	}()
	return web.DirectSession{ID: pid, Answer: answer}, nil
}

// EndDirect ends a WHIP or WHEP session of the actor's.
func (cs *Service) EndDirect(ctx context.Context, a web.Actor, callID, id string) error {
	cs.mu.Lock()
	d := cs.directs[id]
	cs.mu.Unlock()
	if d == nil || d.callID != callID || !a.Local && d.userID != actorID(a) {
		return fmt.Errorf("whip/whep session %s of call %s: %w", id, callID, storage.ErrNotFound)
	}
	if d.leave != nil {
		d.leave()
	}
	d.left.Record()
	return nil
}
