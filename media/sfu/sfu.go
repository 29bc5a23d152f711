package sfu

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net"
	"sync"

	"github.com/pion/ice/v4"
	"github.com/pion/webrtc/v4"

	"siteline/media/internal/pionlog"
	"siteline/media/internal/udpbatch"
	"siteline/media/signal"
)

// SFU holds the rooms of one node. New builds it; Start opens the shared
// ICE ports; Shutdown ends every call and closes them.
type SFU struct {
	cfg     Config
	log     *slog.Logger
	metrics *metrics

	mu       sync.Mutex
	rooms    map[string]*Room
	started  bool
	closed   bool
	settings webrtc.SettingEngine
	udpMux   ice.UDPMux
	batched  udpbatch.Group // the ICE UDP sockets as the mux writes to them; nil when not batched
	tcpMux   ice.TCPMux

	stop     chan struct{}  // closed by Shutdown
	roomOpen chan struct{}  // a room was created (layerLoop's wake-up)
	wg       sync.WaitGroup // every goroutine the SFU starts
}

// New checks cfg and builds an SFU. It opens nothing.
func New(cfg Config) (*SFU, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg.setDefaults()
	s := &SFU{
		cfg:      cfg,
		log:      cfg.Logger,
		rooms:    make(map[string]*Room),
		stop:     make(chan struct{}),
		roomOpen: make(chan struct{}, 1),
	}
	m, err := newMetrics(cfg.Registerer, s)
	if err != nil {
		return nil, err
	}
	s.metrics = m
	return s, nil
}

// Start begins serving ICE on the configured UDP socket and TCP listener.
func (s *SFU) Start() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	if s.started {
		return nil
	}
	// pion's Debug and Trace chatter is dropped; Info and above keep their level.
	logs := pionlog.Factory{Log: s.log}
	se := webrtc.SettingEngine{LoggerFactory: logs}
	if s.cfg.UDPConn != nil {
		// Every subscriber's packets leave through this one socket: the
		// writes that pile up while one is in progress leave together
		// with one sendmmsg (udpbatch.Conn).
		conn := udpbatch.New(s.cfg.UDPConn)
		if bc, ok := conn.(*udpbatch.Conn); ok {
			s.batched = udpbatch.Group{bc}
		}
		s.udpMux = webrtc.NewICEUDPMux(logs.NewLogger("udpmux"), conn)
	} else {
		// pion opens a socket per local address (candidates name the
		// address they were reached on); each one batches too.
		mux, bn, err := listenUDPPort(s.cfg.UDPPort, ice.UDPMuxFromPortWithLogger(logs.NewLogger("udpmux")))
		if err != nil {
			return fmt.Errorf("open ICE UDP port %d: %w", s.cfg.UDPPort, err)
		}
		s.udpMux, s.batched = mux, bn.group()
	}
	se.SetICEUDPMux(s.udpMux)
	networks := []webrtc.NetworkType{webrtc.NetworkTypeUDP4, webrtc.NetworkTypeUDP6}
	if s.cfg.TCPListener != nil {
		s.tcpMux = webrtc.NewICETCPMux(logs.NewLogger("tcpmux"), s.cfg.TCPListener, 8)
		se.SetICETCPMux(s.tcpMux)
		// The SFU is reached on its configured TCP port (passive
		// candidates on the listener's address); it never dials out, so
		// it offers no active candidates, which pion would otherwise add
		// on every interface for each passive candidate of the client.
		se.DisableActiveTCP(true)
		networks = append(networks, webrtc.NetworkTypeTCP4, webrtc.NetworkTypeTCP6)
	}
	se.SetNetworkTypes(networks)
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	if s.cfg.UDPConn != nil && isLoopback(s.cfg.UDPConn.LocalAddr()) {
		se.SetIncludeLoopbackCandidate(true)
	}
	if len(s.cfg.NAT1To1IPs) > 0 {
		se.SetNAT1To1IPs(s.cfg.NAT1To1IPs, webrtc.ICECandidateTypeHost)
	}
	s.settings = se
	s.started = true
	s.goroutine(s.layerLoop)
	return nil
}

// Shutdown ends every call (participants are sent end), closes the ICE
// ports and waits for the SFU's goroutines, or for ctx.
func (s *SFU) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	close(s.stop)
	rooms := make([]*Room, 0, len(s.rooms))
	for _, r := range s.rooms {
		rooms = append(rooms, r)
	}
	udp, tcp := s.udpMux, s.tcpMux
	s.mu.Unlock()

	for _, r := range rooms {
		r.end("the server is shutting down")
	}
	if udp != nil {
		_ = udp.Close()
	} else if s.cfg.UDPConn != nil {
		_ = s.cfg.UDPConn.Close()
	}
	if tcp != nil {
		_ = tcp.Close()
	} else if s.cfg.TCPListener != nil {
		_ = s.cfg.TCPListener.Close()
	}
	done := make(chan struct{})
	go func() { s.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("sfu shutdown: %w", ctx.Err())
	}
}

// Join puts a participant into room roomID, creating the room if needed,
// after checking the participant may join (and sit in, if hidden). send
// delivers messages to the participant, in order, from one goroutine; it
// should not block for long. The participant is sent joined, then an offer
// for its subscribe connection.
func (s *SFU) Join(ctx context.Context, roomID string, info ParticipantInfo, send func(signal.Message) error) (*Participant, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("join room %s: %w", roomID, err)
	}
	if err := s.cfg.Authorizer.Check(info.UserID, signal.PermJoin); err != nil {
		return nil, fmt.Errorf("join room %s: %w", roomID, err)
	}
	if info.Hidden {
		if err := s.cfg.Authorizer.Check(info.UserID, signal.PermSitIn); err != nil {
			return nil, fmt.Errorf("sit in on room %s: %w", roomID, err)
		}
	}
	if info.ID == "" {
		info.ID = randomID()
	}
	s.mu.Lock()
	if !s.started || s.closed {
		s.mu.Unlock()
		if s.closed {
			return nil, fmt.Errorf("join room %s: %w", roomID, ErrClosed)
		}
		return nil, fmt.Errorf("join room %s: %w", roomID, ErrNotStarted)
	}
	s.mu.Unlock()

	p, err := newParticipant(s, info, send)
	if err != nil {
		return nil, fmt.Errorf("join room %s: %w", roomID, err)
	}
	for {
		r := s.room(roomID)
		if r == nil {
			p.close()
			return nil, fmt.Errorf("join room %s: %w", roomID, ErrClosed)
		}
		if err := r.add(p); err == errRoomEnded {
			continue // raced with the room's end: make a new one
		} else if err != nil {
			p.close()
			return nil, fmt.Errorf("join room %s: %w", roomID, err)
		}
		return p, nil
	}
}

// room returns the room called id, creating it; nil if the SFU is closed.
func (s *SFU) room(id string) *Room {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	r := s.rooms[id]
	if r == nil {
		r = newRoom(s, id)
		s.rooms[id] = r
		select {
		case s.roomOpen <- struct{}{}:
		default:
		}
	}
	return r
}

// noRooms tells whether the SFU has no room open.
func (s *SFU) noRooms() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.rooms) == 0
}

// dropRoom forgets r if it is still the room under its id.
func (s *SFU) dropRoom(r *Room) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.rooms[r.id] == r {
		delete(s.rooms, r.id)
	}
}

// Broadcast sends m to every participant of room id, hidden ones
// included: what the node adds to a call from outside signaling (a file
// uploaded over HTTP). It reports whether the room exists.
func (s *SFU) Broadcast(id string, m signal.Message) bool {
	r := s.Room(id)
	if r == nil {
		return false
	}
	r.broadcast(m)
	return true
}

// End ends room id for everyone, as end for all does, without writing
// anything: the caller has. It reports whether the room existed.
func (s *SFU) End(id, reason string) bool {
	r := s.Room(id)
	if r == nil {
		return false
	}
	r.end(reason)
	return true
}

// Room returns the room called id, or nil.
func (s *SFU) Room(id string) *Room {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.rooms[id]
}

// counts returns the numbers of rooms, participants and tracks.
func (s *SFU) counts() (rooms, participants, tracks int) {
	list := s.roomList()
	for _, r := range list {
		p, t := r.counts()
		participants += p
		tracks += t
	}
	return len(list), participants, tracks
}

// roomList returns the rooms open now.
func (s *SFU) roomList() []*Room {
	s.mu.Lock()
	defer s.mu.Unlock()
	list := make([]*Room, 0, len(s.rooms))
	for _, r := range s.rooms {
		list = append(list, r)
	}
	return list
}

// batches returns the sendmmsg calls made for queued packets on the ICE
// UDP socket and the packets they sent.
func (s *SFU) batches() (calls, packets uint64) {
	return s.batchedConn().Batches()
}

// sendFailures returns the queued packets the ICE UDP socket refused.
func (s *SFU) sendFailures() uint64 {
	return s.batchedConn().Dropped()
}

func (s *SFU) batchedConn() udpbatch.Group {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.batched
}

// goroutine runs f on a goroutine the SFU waits for at Shutdown.
func (s *SFU) goroutine(f func()) {
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		f()
	}()
}

func isLoopback(a net.Addr) bool {
	switch a := a.(type) {
	case *net.UDPAddr:
		return a.IP.IsLoopback()
	case *net.TCPAddr:
		return a.IP.IsLoopback()
	}
	return false
}

func randomID() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
