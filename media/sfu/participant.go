package sfu

import (
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/webrtc/v4"

	"siteline/media/internal/gate"
	"siteline/media/signal"
	"siteline/storage"
)

// Participant is one connection in a room. The web layer hands it every
// message the participant sends (Handle) and calls Leave when the socket
// closes.
type Participant struct {
	sfu  *SFU
	id   string
	info ParticipantInfo
	room *Room // set by Room.add before anyone else sees p

	sendFn func(signal.Message) error
	// out holds pointers: a queue of messages would keep MessageQueueSize
	// whole structs per participant.
	out      chan *signal.Message
	overflow chan struct{} // closed when out was full
	done     chan struct{} // closed by close
	once     sync.Once
	overOnce sync.Once

	handleMu sync.Mutex // one Handle at a time
	// upGate and downGate make a connection's candidates wait until its
	// description is queued: they are held across SetLocalDescription and
	// the queueing of the offer or answer.
	upGate, downGate gate.Gate
	// up is the publish connection, nil until the participant first
	// publishes (publishConn); set under mu. down is built with the
	// participant.
	up, down *webrtc.PeerConnection
	side     *sendSide // the subscribe connection's bandwidth estimation

	mu             sync.Mutex
	downs          map[string]*downTrack // by upTrack.id
	published      map[string]*upTrack   // by the publisher's track id
	offering       bool                  // subscribe offer sent, answer awaited
	negotiated     bool                  // an answer has been applied once
	downReady      bool                  // the subscribe connection's ICE has connected once
	pending        bool                  // renegotiate when the answer comes
	pendingRestart bool

	// direct marks a WHIP or WHEP participant (see whip.go): one
	// non-trickle exchange on the publish connection, no subscribe
	// connection, no renegotiation.
	direct bool

	lastPointer time.Time // of the last pointer relayed; under handleMu
	// Rate limits on what the others are sent and history keeps; under
	// handleMu.
	chatLimit, drawLimit, hideLimit *bucket

	sending atomic.Int32 // kinds of media the last publish offer sends

	// hidden is true while the participant sits in unseen (it starts as
	// info.Hidden; Reveal clears it); coaching while a hidden one's audio
	// is forwarded to the member it supervises. Both change under the
	// room's mu.
	hidden, coaching atomic.Bool
	// indicated is the monitoring state the participant was last told
	// ("" for none); under the room's mu.
	indicated string

	// overUDP is true while the subscribe connection's selected candidate
	// pair is UDP: its writes then go to the shared UDP socket and never
	// block for long, which a TCP connection's may.
	overUDP atomic.Bool

	remb  atomic.Int64 // last REMB from the participant, bits/s
	limit atomic.Int64 // cap on the estimate set by LimitBitrate, bits/s
}

func newParticipant(s *SFU, info ParticipantInfo, send func(signal.Message) error) (*Participant, error) {
	p := &Participant{
		sfu:       s,
		id:        info.ID,
		info:      info,
		sendFn:    send,
		out:       make(chan *signal.Message, s.cfg.MessageQueueSize),
		overflow:  make(chan struct{}),
		done:      make(chan struct{}),
		downs:     make(map[string]*downTrack),
		published: make(map[string]*upTrack),
		chatLimit: newBucket("chat messages", s.cfg.MessageRate, s.cfg.MessageBurst),
		drawLimit: newBucket("annotations", s.cfg.MessageRate, s.cfg.MessageBurst),
		hideLimit: newBucket("pointer hides", s.cfg.MessageRate, s.cfg.MessageBurst),
	}
	p.hidden.Store(info.Hidden)
	var err error
	if p.down, p.side, err = s.newPeerConnection(subscribe); err != nil {
		return nil, fmt.Errorf("subscribe connection: %w", err)
	}
	p.down.OnICECandidate(func(c *webrtc.ICECandidate) { p.sendCandidate(signal.TargetSubscribe, c) })
	p.down.OnConnectionStateChange(func(st webrtc.PeerConnectionState) {
		s.log.Debug("subscribe connection", "participant", p.id, "state", st)
	})
	p.down.OnICEConnectionStateChange(p.onDownICE)
	p.down.SCTP().Transport().ICETransport().OnSelectedCandidatePairChange(func(pair *webrtc.ICECandidatePair) {
		p.overUDP.Store(pair != nil && pair.Local != nil && pair.Local.Protocol == webrtc.ICEProtocolUDP)
	})
	s.goroutine(p.sendLoop)
	return p, nil
}

// publishConn returns the publish connection, built by the first call.
// Most participants of a call only watch, and a connection never
// negotiated would still hold its interceptors and their timers (the NACK
// generator's every 100 ms, receiver reports every second) for the whole
// call.
func (p *Participant) publishConn() (*webrtc.PeerConnection, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.up != nil {
		return p.up, nil
	}
	if p.closed() {
		return nil, ErrClosed
	}
	up, _, err := p.sfu.newPeerConnection(publish)
	if err != nil {
		return nil, fmt.Errorf("publish connection: %w", err)
	}
	up.OnTrack(p.onTrack)
	up.OnICECandidate(func(c *webrtc.ICECandidate) { p.sendCandidate(signal.TargetPublish, c) })
	up.OnConnectionStateChange(func(st webrtc.PeerConnectionState) {
		p.sfu.log.Debug("publish connection", "participant", p.id, "state", st)
	})
	p.up = up
	return up, nil
}

// publishing returns the publish connection, nil before the first offer.
func (p *Participant) publishing() *webrtc.PeerConnection {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.up
}

// ID returns the participant's id in the room.
func (p *Participant) ID() string { return p.id }

// Info returns what the participant joined with, Hidden as it is now.
func (p *Participant) Info() ParticipantInfo {
	info := p.info
	info.Hidden = p.hidden.Load()
	return info
}

// LimitBitrate caps what the SFU sends this participant to bps bits per
// second, on top of the estimate; 0 removes the cap.
func (p *Participant) LimitBitrate(bps int) { p.limit.Store(int64(bps)) }

func (p *Participant) peer() signal.Peer { return signal.Peer{ID: p.id, Name: p.info.Name} }

// send queues m for the participant. It never blocks: a participant whose
// queue is full is disconnected, as a slow consumer.
func (p *Participant) send(m signal.Message) {
	select {
	case <-p.done:
	case p.out <- &m:
	default:
		p.overOnce.Do(func() { close(p.overflow) })
	}
}

func (p *Participant) sendLoop() {
	for {
		select {
		case m := <-p.out:
			if err := p.sendFn(*m); err != nil {
				p.sfu.log.Debug("send to participant", "participant", p.id, "type", m.Type, "err", err)
			}
		case <-p.overflow:
			p.sfu.log.Warn("participant too slow to read signaling; disconnecting", "participant", p.id)
			p.Leave()
			return
		case <-p.done:
			for { // flush what was queued before the end, such as end itself
				select {
				case m := <-p.out:
					_ = p.sendFn(*m)
				default:
					return
				}
			}
		}
	}
}

func (p *Participant) sendCandidate(target signal.Target, c *webrtc.ICECandidate) {
	g := &p.upGate
	if target == signal.TargetSubscribe {
		g = &p.downGate
	}
	m := signal.New(signal.TypeCandidate)
	m.Target = target
	if c == nil {
		m.Candidate = &signal.Candidate{} // end of candidates
	} else {
		init := c.ToJSON()
		m.Candidate = &signal.Candidate{Candidate: init.Candidate, SDPMid: init.SDPMid,
			SDPMLineIndex: init.SDPMLineIndex, UsernameFragment: init.UsernameFragment}
	}
	g.Pass(func() { p.send(m) })
}

// Handle carries out one message from the participant. On failure the
// participant is sent an error message (naming the missing permission if
// it was refused) and nothing changes; the error is returned too, for the
// caller's logs. Handle is safe to call from several goroutines, but
// messages are only ordered if one goroutine calls it.
func (p *Participant) Handle(m signal.Message) error {
	p.handleMu.Lock()
	defer p.handleMu.Unlock()
	if p.closed() {
		return fmt.Errorf("%s from %s: %w", m.Type, p.id, ErrLeft)
	}
	err := p.handle(m)
	if err != nil {
		p.send(ErrorMessage(m.ID, err))
		return fmt.Errorf("%s from %s: %w", m.Type, p.id, err)
	}
	return nil
}

func (p *Participant) handle(m signal.Message) error {
	if err := m.Validate(); err != nil {
		return err
	}
	switch m.Type {
	case signal.TypeOffer:
		return p.handleOffer(m)
	case signal.TypeAnswer:
		return p.handleAnswer(m)
	case signal.TypeCandidate:
		return p.handleCandidate(m)
	case signal.TypeICERestart:
		if m.Target != signal.TargetSubscribe {
			return fmt.Errorf("restart the publish connection with an ICE-restart offer: %w", storage.ErrInvalid)
		}
		p.negotiate(true)
		return nil
	case signal.TypeChat:
		return p.handleChat(m)
	case signal.TypeAnnotate:
		return p.handleAnnotate(m)
	case signal.TypePointer:
		return p.handlePointer(m)
	case signal.TypeRecord:
		return p.handleRecord(m)
	case signal.TypeMute:
		return p.handleMute(m)

	case signal.TypeEnd:
		if err := p.sfu.cfg.Authorizer.Check(p.info.UserID, signal.PermEndForAll); err != nil {
			return err
		}
		if p.hidden.Load() {
			return fmt.Errorf("a hidden participant cannot end the call for all; reveal yourself first: %w", storage.ErrConflict)
		}
		if r := p.sfu.cfg.Recorder; r != nil {
			if err := r.End(p.room.id, p.info); err != nil {
				return err
			}
		}
		p.room.end("ended by " + p.info.Name)
		return nil
	case signal.TypeLeave:
		p.Leave()
		return nil
	case signal.TypeJoin:
		return fmt.Errorf("already joined: %w", storage.ErrConflict)
	default:
		return fmt.Errorf("%w: %s is not sent by a client", signal.ErrOutOfOrder, m.Type)
	}
}

func (p *Participant) handleOffer(m signal.Message) error {
	if m.Target != signal.TargetPublish {
		return fmt.Errorf("%w: offers go to the publish connection", signal.ErrOutOfOrder)
	}
	kinds, err := sendingKinds(m.SDP)
	if err != nil {
		return err
	}
	if err := p.checkHiddenPublish(kinds); err != nil { // supervise.go
		return err
	}
	for _, perm := range publishPermissions(kinds) {
		if err := p.sfu.cfg.Authorizer.Check(p.info.UserID, perm); err != nil {
			return err
		}
	}
	sending := len(kinds)
	if kinds["screen"] {
		sending-- // a kind of video, not a third kind of media
	}
	p.sending.Store(int32(sending))
	up, err := p.publishConn()
	if err != nil {
		return err
	}
	offer := webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: m.SDP}
	if err := up.SetRemoteDescription(offer); err != nil {
		return fmt.Errorf("set publish offer: %w: %v", storage.ErrInvalid, err)
	}
	answer, err := up.CreateAnswer(nil)
	if err != nil {
		return fmt.Errorf("create publish answer: %w", err)
	}
	p.upGate.Hold()
	if err := up.SetLocalDescription(answer); err != nil {
		p.upGate.Release(func() {})
		return fmt.Errorf("set publish answer: %w", err)
	}
	reply := signal.New(signal.TypeAnswer)
	reply.ID = m.ID
	reply.Target = signal.TargetPublish
	reply.SDP = answer.SDP
	p.upGate.Release(func() { p.send(reply) })
	return nil
}

func (p *Participant) handleAnswer(m signal.Message) error {
	if m.Target != signal.TargetSubscribe {
		return fmt.Errorf("%w: answers go to the subscribe connection", signal.ErrOutOfOrder)
	}
	answer := webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: m.SDP}
	if err := p.down.SetRemoteDescription(answer); err != nil {
		return fmt.Errorf("set subscribe answer: %w: %v", storage.ErrInvalid, err)
	}
	p.mu.Lock()
	p.offering = false
	p.negotiated = true
	again, restart := p.pending && p.downReady, p.pendingRestart
	if again {
		p.pending, p.pendingRestart = false, false
	}
	p.mu.Unlock()
	if again {
		p.negotiate(restart)
	}
	return nil
}

// onDownICE sends a renegotiation held back until the subscribe
// connection first connected.
func (p *Participant) onDownICE(st webrtc.ICEConnectionState) {
	if st != webrtc.ICEConnectionStateConnected {
		return
	}
	p.mu.Lock()
	first := !p.downReady
	p.downReady = true
	again := first && p.pending && !p.offering
	restart := p.pendingRestart
	if again {
		p.pending, p.pendingRestart = false, false
	}
	p.mu.Unlock()
	if again {
		p.negotiate(restart)
	}
}

func (p *Participant) handleCandidate(m signal.Message) error {
	c := m.Candidate
	if c.Candidate == "" {
		return nil // end of candidates
	}
	pc := p.down
	if m.Target != signal.TargetSubscribe {
		if pc = p.publishing(); pc == nil {
			return fmt.Errorf("%w: a publish candidate before the publish offer", signal.ErrOutOfOrder)
		}
	}
	init := webrtc.ICECandidateInit{Candidate: c.Candidate, SDPMid: c.SDPMid,
		SDPMLineIndex: c.SDPMLineIndex, UsernameFragment: c.UsernameFragment}
	if err := pc.AddICECandidate(init); err != nil {
		return fmt.Errorf("add %s candidate: %w: %v", m.Target, storage.ErrInvalid, err)
	}
	return nil
}

func (p *Participant) handleChat(m signal.Message) error {
	if err := p.sfu.cfg.Authorizer.Check(p.info.UserID, signal.PermChat); err != nil {
		return err
	}
	if p.hidden.Load() {
		return fmt.Errorf("a hidden participant cannot chat: %w", storage.ErrConflict)
	}
	if err := p.chatLimit.take(time.Now()); err != nil {
		return err
	}
	ev := signal.New(signal.TypeChat)
	ev.ID = m.ID
	ev.Participant = p.id
	ev.Name = p.info.Name
	ev.Text = m.Text
	ev.Time = time.Now().UnixMilli()
	if r := p.sfu.cfg.Recorder; r != nil {
		if err := r.Chat(p.room.id, p.info, ev); err != nil {
			return err
		}
	}
	p.room.broadcast(ev)
	return nil
}

func (p *Participant) handleMute(m signal.Message) error {
	if p.hidden.Load() {
		return fmt.Errorf("a hidden participant has nothing to mute: %w", storage.ErrConflict)
	}
	ev := signal.New(signal.TypeMute)
	ev.Participant = p.id
	ev.Kind = m.Kind
	ev.Muted = m.Muted
	p.room.mu.Lock()
	p.room.broadcastLocked(ev, p)
	p.room.mu.Unlock()
	return nil
}

// negotiate sends a new offer on the subscribe connection, or marks one
// pending if an answer is awaited.
func (p *Participant) negotiate(restart bool) {
	if p.direct {
		return
	}
	p.mu.Lock()
	if p.closed() {
		p.mu.Unlock()
		return
	}
	if len(p.down.GetTransceivers()) == 0 {
		// Nothing to send yet, and an offer without a section would start
		// no transport: the first track's subscribe negotiates.
		p.mu.Unlock()
		return
	}
	// pion restarts ICE if a renegotiation comes before the transport has
	// started, so a second offer waits for the first connection.
	if p.offering || p.negotiated && !p.downReady {
		p.pending = true
		p.pendingRestart = p.pendingRestart || restart
		offering, ready := p.offering, p.downReady
		p.mu.Unlock()
		p.sfu.log.Debug("subscribe offer pending", "participant", p.id, "offering", offering, "ready", ready)
		return
	}
	p.offering = true
	p.mu.Unlock()

	p.downGate.Hold()
	offer, err := p.down.CreateOffer(&webrtc.OfferOptions{ICERestart: restart})
	if err == nil {
		err = p.down.SetLocalDescription(offer)
	}
	m := signal.New(signal.TypeOffer)
	m.Target = signal.TargetSubscribe
	m.SDP = offer.SDP
	p.downGate.Release(func() {
		if err == nil {
			p.send(m)
		}
	})
	p.sfu.log.Debug("subscribe offer", "participant", p.id, "restart", restart, "tracks", len(p.down.GetTransceivers()), "err", err)
	if err != nil && !p.closed() {
		p.sfu.log.Warn("subscribe offer", "participant", p.id, "err", err)
		p.mu.Lock()
		p.offering = false
		p.mu.Unlock()
	}
}

// subscribe adds a writer for t to p's subscribe connection. The caller
// renegotiates.
func (p *Participant) subscribe(t *upTrack) {
	if p.direct {
		return
	}
	local, err := webrtc.NewTrackLocalStaticRTP(t.codec, t.id, t.owner.id)
	if err != nil {
		p.sfu.log.Warn("subscribe", "participant", p.id, "track", t.id, "err", err)
		return
	}
	p.mu.Lock()
	if p.closed() || p.downs[t.id] != nil {
		p.mu.Unlock()
		return
	}
	sender, err := p.down.AddTrack(local)
	if err != nil {
		p.mu.Unlock()
		p.sfu.log.Warn("subscribe", "participant", p.id, "track", t.id, "err", err)
		return
	}
	d := newDownTrack(p, t, local, sender)
	p.downs[t.id] = d
	p.mu.Unlock()
	d.start()
	t.addSubscriber(d)
}

// unsubscribe removes p's writer for t and renegotiates.
func (p *Participant) unsubscribe(t *upTrack) {
	p.mu.Lock()
	d := p.downs[t.id]
	delete(p.downs, t.id)
	p.mu.Unlock()
	if d == nil {
		return
	}
	d.stop()
	if !p.closed() {
		_ = p.down.RemoveTrack(d.sender)
		p.negotiate(false)
	}
}

// onTrack receives a publisher's track, or one simulcast layer of it.
func (p *Participant) onTrack(remote *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
	p.mu.Lock()
	if p.closed() {
		p.mu.Unlock()
		return
	}
	t := p.published[remote.ID()]
	first := t == nil
	if first {
		t = newUpTrack(p, remote)
		p.published[remote.ID()] = t
	}
	l := t.addLayer(remote)
	p.mu.Unlock()
	p.sfu.log.Debug("track received", "participant", p.id, "kind", remote.Kind(), "track", remote.ID(), "rid", remote.RID(), "first", first)
	if first && !p.room.publish(t) {
		return
	}
	p.sfu.goroutine(func() { t.read(l) })
}

// trackEnded forgets a published track whose layers have all ended.
func (p *Participant) trackEnded(t *upTrack) {
	p.mu.Lock()
	if p.published[t.remoteID] == t {
		delete(p.published, t.remoteID)
	}
	p.mu.Unlock()
	p.room.unpublish(t)
}

// Leave takes the participant out of its room and closes its connections.
// It is idempotent.
func (p *Participant) Leave() {
	if p.room != nil {
		p.room.remove(p)
	}
	p.close()
}

func (p *Participant) closed() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// close ends p's goroutines and connections, without telling the room.
func (p *Participant) close() {
	p.once.Do(func() {
		close(p.done)
		p.mu.Lock()
		downs := make([]*downTrack, 0, len(p.downs))
		for _, d := range p.downs {
			downs = append(downs, d)
		}
		clear(p.downs)
		p.estimating(false)
		up := p.up
		p.mu.Unlock()
		for _, d := range downs {
			d.stop()
		}
		if up != nil {
			p.sfu.closeConn(up, publish)
		}
		p.sfu.closeConn(p.down, subscribe)
	})
}
