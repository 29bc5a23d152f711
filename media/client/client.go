package client

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/pion/ice/v4"
	"github.com/pion/interceptor"
	"github.com/pion/webrtc/v4"

	"siteline/media/internal/gate"
	"siteline/media/signal"
)

// Config configures a Client.
type Config struct {
	// Logger receives the client's logs; nil discards them.
	Logger *slog.Logger
	// Name is the display name sent with join.
	Name string
	// LoopbackOnly gathers only loopback candidates (tests on 127.0.0.1).
	LoopbackOnly bool
	// Networks are the ICE network types to gather; nil means UDP4.
	Networks []webrtc.NetworkType
	// EventBuffer is how many room events (chat, participants, tracks,
	// errors) are kept for Next; 0 means 1024. Older events are dropped.
	EventBuffer int
	// ICEServers are STUN and TURN servers for both connections, as a
	// browser's RTCIceServer list (TURN REST credentials from the node).
	ICEServers []webrtc.ICEServer
	// RelayOnly uses relay candidates only (ICE transport policy relay),
	// so every packet goes through a TURN server of ICEServers.
	RelayOnly bool
}

// JoinOptions are the optional fields of join.
type JoinOptions struct {
	Hidden  bool   // sit in as a supervisor
	Monitor string // user id of the member supervised
}

// Client is one participant. New builds it; Join connects; Close ends it.
type Client struct {
	cfg Config
	log *slog.Logger
	sig Signaler

	up, down *webrtc.PeerConnection

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	joined   chan signal.Message // joined or the error refusing join
	answered chan signal.Message // publish answers, or errors
	pubSeq   atomic.Int64
	// upGate and downGate hold a connection's candidates back until its
	// offer or answer is sent.
	upGate, downGate gate.Gate
	// gathered counts the local candidates of each connection.
	upGathered, downGathered atomic.Int64

	mu       sync.Mutex
	id       string
	events   []signal.Message
	seen     []signal.Message // every event, for assertions
	notify   chan struct{}    // closed and replaced when an event arrives
	tracks   map[string]*Received
	sentPubs []*Publication
	screens  map[string]bool // ids of the tracks published as screens
}

// New builds a client that will signal through sig.
func New(cfg Config, sig Signaler) (*Client, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.EventBuffer == 0 {
		cfg.EventBuffer = 1024
	}
	ctx, cancel := context.WithCancel(context.Background())
	c := &Client{
		cfg: cfg, log: cfg.Logger, sig: sig, ctx: ctx, cancel: cancel,
		joined:   make(chan signal.Message, 1),
		answered: make(chan signal.Message, 1),
		notify:   make(chan struct{}),
		tracks:   make(map[string]*Received),
		screens:  make(map[string]bool),
	}
	var err error
	if c.up, err = c.newPeerConnection(); err != nil {
		return nil, fmt.Errorf("client publish connection: %w", err)
	}
	if c.down, err = c.newPeerConnection(); err != nil {
		_ = c.up.Close()
		return nil, fmt.Errorf("client subscribe connection: %w", err)
	}
	c.up.OnICECandidate(func(cand *webrtc.ICECandidate) { c.sendCandidate(signal.TargetPublish, cand) })
	c.down.OnICECandidate(func(cand *webrtc.ICECandidate) { c.sendCandidate(signal.TargetSubscribe, cand) })
	c.down.OnTrack(c.onTrack)
	return c, nil
}

func (c *Client) newPeerConnection() (*webrtc.PeerConnection, error) {
	me := &webrtc.MediaEngine{}
	fb := []webrtc.RTCPFeedback{{Type: "goog-remb"}, {Type: "ccm", Parameter: "fir"}, {Type: "nack", Parameter: "pli"}}
	if err := me.RegisterCodec(webrtc.RTPCodecParameters{
		RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8, ClockRate: 90000, RTCPFeedback: fb},
		PayloadType:        96,
	}, webrtc.RTPCodecTypeVideo); err != nil {
		return nil, fmt.Errorf("register vp8: %w", err)
	}
	if err := me.RegisterCodec(webrtc.RTPCodecParameters{
		RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2,
			SDPFmtpLine: "minptime=10;useinbandfec=1"},
		PayloadType: 111,
	}, webrtc.RTPCodecTypeAudio); err != nil {
		return nil, fmt.Errorf("register opus: %w", err)
	}
	reg := &interceptor.Registry{}
	if err := webrtc.ConfigureNack(me, reg); err != nil {
		return nil, fmt.Errorf("configure nack: %w", err)
	}
	if err := webrtc.ConfigureRTCPReports(reg); err != nil {
		return nil, fmt.Errorf("configure reports: %w", err)
	}
	if err := webrtc.ConfigureSimulcastExtensionHeaders(me); err != nil {
		return nil, fmt.Errorf("configure simulcast: %w", err)
	}
	if err := webrtc.ConfigureTWCCSender(me, reg); err != nil {
		return nil, fmt.Errorf("configure twcc: %w", err)
	}
	se := webrtc.SettingEngine{}
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	networks := c.cfg.Networks
	if networks == nil {
		networks = []webrtc.NetworkType{webrtc.NetworkTypeUDP4}
	}
	se.SetNetworkTypes(networks)
	if c.cfg.LoopbackOnly {
		se.SetIncludeLoopbackCandidate(true)
		se.SetIPFilter(func(ip net.IP) bool { return ip.IsLoopback() })
	}
	api := webrtc.NewAPI(webrtc.WithMediaEngine(me), webrtc.WithInterceptorRegistry(reg), webrtc.WithSettingEngine(se))
	pcfg := webrtc.Configuration{ICEServers: c.cfg.ICEServers}
	if c.cfg.RelayOnly {
		pcfg.ICETransportPolicy = webrtc.ICETransportPolicyRelay
	}
	pc, err := api.NewPeerConnection(pcfg)
	if err != nil {
		return nil, fmt.Errorf("new peer connection: %w", err)
	}
	return pc, nil
}

// ID returns the participant id the SFU gave, once joined.
func (c *Client) ID() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.id
}

// Join enters room and waits for joined. A refusal comes back as an
// *Error naming the code and any missing permission.
func (c *Client) Join(ctx context.Context, room string, opts JoinOptions) error {
	c.wg.Add(1)
	go c.readLoop()
	m := signal.New(signal.TypeJoin)
	m.Room = room
	m.Name = c.cfg.Name
	m.Hidden = opts.Hidden
	m.Monitor = opts.Monitor
	if err := c.sig.Send(ctx, m); err != nil {
		return fmt.Errorf("join %s: %w", room, err)
	}
	select {
	case r := <-c.joined:
		if r.Type == signal.TypeError {
			return fmt.Errorf("join %s: %w", room, errorOf(r))
		}
		return nil
	case <-ctx.Done():
		return fmt.Errorf("join %s: %w", room, ctx.Err())
	}
}

// Error is an error message from the SFU.
type Error struct {
	Code       string
	Permission string
	Message    string
}

func (e *Error) Error() string {
	if e.Permission != "" {
		return fmt.Sprintf("%s: %s (permission %s)", e.Code, e.Message, e.Permission)
	}
	return e.Code + ": " + e.Message
}

func errorOf(m signal.Message) *Error {
	return &Error{Code: m.Code, Permission: m.Permission, Message: m.Error}
}

func (c *Client) readLoop() {
	defer c.wg.Done()
	stream := signal.NewStream(signal.FromServer, signal.DefaultMaxSize)
	for {
		m, err := c.sig.Recv(c.ctx)
		if err != nil {
			return
		}
		if err := stream.Accept(m); err != nil {
			c.log.Warn("server message out of order", "type", m.Type, "err", err)
			continue
		}
		if err := c.handle(m); err != nil {
			c.log.Warn("handle server message", "type", m.Type, "err", err)
		}
	}
}

func (c *Client) handle(m signal.Message) error {
	switch m.Type {
	case signal.TypeJoined:
		c.mu.Lock()
		c.id = m.Participant
		c.mu.Unlock()
		c.addEvent(m)
		select {
		case c.joined <- m:
		default:
		}
	case signal.TypeOffer:
		return c.answer(m)
	case signal.TypeAnswer:
		if err := c.up.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: m.SDP}); err != nil {
			return fmt.Errorf("set publish answer: %w", err)
		}
		select {
		case c.answered <- m:
		default:
		}
	case signal.TypeCandidate:
		if m.Candidate.Candidate == "" {
			return nil
		}
		pc := c.up
		if m.Target == signal.TargetSubscribe {
			pc = c.down
		}
		return pc.AddICECandidate(webrtc.ICECandidateInit{Candidate: m.Candidate.Candidate,
			SDPMid: m.Candidate.SDPMid, SDPMLineIndex: m.Candidate.SDPMLineIndex,
			UsernameFragment: m.Candidate.UsernameFragment})
	case signal.TypeError:
		c.addEvent(m)
		c.mu.Lock()
		joined := c.id != ""
		c.mu.Unlock()
		if !joined {
			select {
			case c.joined <- m:
			default:
			}
		}
		if strings.HasPrefix(m.ID, "pub-") {
			select {
			case c.answered <- m:
			default:
			}
		}
	default:
		c.addEvent(m)
	}
	return nil
}

// answer accepts the SFU's offer on the subscribe connection.
func (c *Client) answer(m signal.Message) error {
	if err := c.down.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: m.SDP}); err != nil {
		return fmt.Errorf("set subscribe offer: %w", err)
	}
	ans, err := c.down.CreateAnswer(nil)
	if err != nil {
		return fmt.Errorf("create subscribe answer: %w", err)
	}
	c.downGate.Hold()
	if err := c.down.SetLocalDescription(ans); err != nil {
		c.downGate.Release(func() {})
		return fmt.Errorf("set subscribe answer: %w", err)
	}
	reply := signal.New(signal.TypeAnswer)
	reply.Target = signal.TargetSubscribe
	reply.SDP = ans.SDP
	c.downGate.Release(func() { err = c.sig.Send(c.ctx, reply) })
	if err != nil {
		return fmt.Errorf("send subscribe answer: %w", err)
	}
	return nil
}

func (c *Client) sendCandidate(target signal.Target, cand *webrtc.ICECandidate) {
	if cand == nil {
		return
	}
	g, gathered := &c.upGate, &c.upGathered
	if target == signal.TargetSubscribe {
		g, gathered = &c.downGate, &c.downGathered
	}
	gathered.Add(1)
	init := cand.ToJSON()
	m := signal.New(signal.TypeCandidate)
	m.Target = target
	m.Candidate = &signal.Candidate{Candidate: init.Candidate, SDPMid: init.SDPMid,
		SDPMLineIndex: init.SDPMLineIndex, UsernameFragment: init.UsernameFragment}
	g.Pass(func() {
		if err := c.sig.Send(c.ctx, m); err != nil {
			c.log.Debug("send candidate", "err", err)
		}
	})
}

// negotiatePublish offers the publish connection and waits for the answer.
func (c *Client) negotiatePublish(ctx context.Context, restart bool) error {
	offer, err := c.up.CreateOffer(&webrtc.OfferOptions{ICERestart: restart})
	if err != nil {
		return fmt.Errorf("create publish offer: %w", err)
	}
	m := signal.New(signal.TypeOffer)
	m.ID = fmt.Sprintf("pub-%d", c.pubSeq.Add(1))
	m.Target = signal.TargetPublish
	if m.SDP, err = c.markScreens(offer.SDP); err != nil {
		return err
	}
	c.upGate.Hold()
	if err := c.up.SetLocalDescription(offer); err != nil {
		c.upGate.Release(func() {})
		return fmt.Errorf("set publish offer: %w", err)
	}
	c.upGate.Release(func() { err = c.sig.Send(ctx, m) })
	if err != nil {
		return fmt.Errorf("send publish offer: %w", err)
	}
	select {
	case r := <-c.answered:
		if r.Type == signal.TypeError {
			_ = c.up.SetLocalDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeRollback})
			return fmt.Errorf("publish: %w", errorOf(r))
		}
		return nil
	case <-ctx.Done():
		return fmt.Errorf("publish answer: %w", ctx.Err())
	}
}

// ConnInfo describes the ICE side of one of the client's connections.
type ConnInfo struct {
	ICE       webrtc.ICEConnectionState
	Gathering webrtc.ICEGatheringState
	// Gathered is the number of local candidates gathered so far.
	Gathered int
	// Local and Remote are the types of the selected pair's candidates
	// ("host", "srflx", "prflx", "relay"), empty before a pair is selected.
	Local, Remote string
	// Sections are the media of the remote description's m= sections, in
	// order ("audio", "video", "application"), none before one is set.
	Sections []string
}

// Conn describes the publish or the subscribe connection.
func (c *Client) Conn(target signal.Target) ConnInfo {
	pc, gathered := c.up, &c.upGathered
	if target == signal.TargetSubscribe {
		pc, gathered = c.down, &c.downGathered
	}
	info := ConnInfo{ICE: pc.ICEConnectionState(), Gathering: pc.ICEGatheringState(), Gathered: int(gathered.Load())}
	if d := pc.CurrentRemoteDescription(); d != nil {
		for _, line := range strings.Split(d.SDP, "\n") {
			if media, ok := strings.CutPrefix(line, "m="); ok {
				if f := strings.Fields(media); len(f) > 0 {
					info.Sections = append(info.Sections, f[0])
				}
			}
		}
	}
	// From the stats: ICETransport.GetSelectedCandidatePair races with
	// the transport's start.
	report := pc.GetStats()
	for _, st := range report {
		pair, ok := st.(webrtc.ICECandidatePairStats)
		if !ok || !pair.Nominated || pair.State != webrtc.StatsICECandidatePairStateSucceeded {
			continue
		}
		if l, ok := report[pair.LocalCandidateID].(webrtc.ICECandidateStats); ok {
			info.Local = l.CandidateType.String()
		}
		if r, ok := report[pair.RemoteCandidateID].(webrtc.ICECandidateStats); ok {
			info.Remote = r.CandidateType.String()
		}
	}
	return info
}

// RestartICE restarts ICE on both connections, as after a network change:
// a new publish offer with fresh credentials, and a request for a new
// subscribe offer.
func (c *Client) RestartICE(ctx context.Context) error {
	if c.up.CurrentRemoteDescription() != nil { // publishing
		if err := c.negotiatePublish(ctx, true); err != nil {
			return fmt.Errorf("ice restart: %w", err)
		}
	}
	m := signal.New(signal.TypeICERestart)
	m.Target = signal.TargetSubscribe
	if err := c.sig.Send(ctx, m); err != nil {
		return fmt.Errorf("ice restart: %w", err)
	}
	return nil
}

// Chat says text to the room.
func (c *Client) Chat(ctx context.Context, text string) error {
	m := signal.New(signal.TypeChat)
	m.Text = text
	if err := c.sig.Send(ctx, m); err != nil {
		return fmt.Errorf("chat: %w", err)
	}
	return nil
}

// Send sends any message, for tests of the protocol.
func (c *Client) Send(ctx context.Context, m signal.Message) error {
	return c.sig.Send(ctx, m)
}

func (c *Client) addEvent(m signal.Message) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.seen = append(c.seen, m)
	c.events = append(c.events, m)
	if len(c.events) > c.cfg.EventBuffer {
		c.events = c.events[1:]
	}
	close(c.notify)
	c.notify = make(chan struct{})
}

// Next returns the first pending event for which match is true, dropping
// the events before it, or waits for one until ctx ends.
func (c *Client) Next(ctx context.Context, match func(signal.Message) bool) (signal.Message, error) {
	for {
		c.mu.Lock()
		for i, m := range c.events {
			if match(m) {
				c.events = c.events[i+1:]
				c.mu.Unlock()
				return m, nil
			}
		}
		c.events = c.events[:0]
		wait := c.notify
		c.mu.Unlock()
		select {
		case <-wait:
		case <-ctx.Done():
			return signal.Message{}, fmt.Errorf("wait for event: %w", ctx.Err())
		}
	}
}

// Seen returns every event received so far (everything but SDP and
// candidates), in order.
func (c *Client) Seen() []signal.Message {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]signal.Message(nil), c.seen...)
}

// Leave says goodbye to the room; Close still has to be called.
func (c *Client) Leave(ctx context.Context) error {
	if err := c.sig.Send(ctx, signal.New(signal.TypeLeave)); err != nil {
		return fmt.Errorf("leave: %w", err)
	}
	return nil
}

// Close stops publishing and receiving, closes both connections and the
// signaler, and waits for the client's goroutines.
func (c *Client) Close() error {
	c.cancel()
	c.mu.Lock()
	pubs := c.sentPubs
	c.mu.Unlock()
	for _, p := range pubs {
		p.stop()
	}
	err := errors.Join(c.up.Close(), c.down.Close(), c.sig.Close())
	c.wg.Wait()
	return err
}
