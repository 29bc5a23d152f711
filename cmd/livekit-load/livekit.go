package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fasthttp/websocket"
	"github.com/livekit/protocol/livekit"
	"github.com/pion/sdp/v3"
	"google.golang.org/protobuf/proto"

	"siteline/media/client"
	"siteline/media/signal"
)

// protocolVersion is the LiveKit signaling protocol version announced: 16
// has a publisher and a subscriber peer connection, the subscriber one
// primary for those who subscribe (as Siteline's protocol), and answers
// only failed requests.
const protocolVersion = "16"

// server is a LiveKit server under test. Rooms are created by the first
// join; each participant's access token carries its room and grant.
type server struct {
	url         string // ws:// or http:// base
	key, secret string
	prefix      string // room names are PREFIX-0, PREFIX-1...
	paused      atomic.Int64
}

func (s *server) Room(_ context.Context, r int) (string, error) {
	return fmt.Sprintf("%s-%d", s.prefix, r), nil
}

// Dial opens the signaling WebSocket at /rtc, joining room at once. A
// publisher may only publish and a subscriber only subscribe; auto
// subscribe (the default) subscribes it to every track of the room.
func (s *server) Dial(ctx context.Context, room, name string, subscribe bool) (client.Signaler, error) {
	token, err := accessToken(s.key, s.secret, room, name, !subscribe, subscribe)
	if err != nil {
		return nil, err
	}
	base := strings.Replace(strings.Replace(s.url, "https://", "wss://", 1), "http://", "ws://", 1)
	q := url.Values{"access_token": {token}, "protocol": {protocolVersion}, "sdk": {"go"},
		"auto_subscribe": {fmt.Sprint(subscribe)}}
	d := websocket.Dialer{HandshakeTimeout: 10 * time.Second}
	conn, resp, err := d.DialContext(ctx, base+"/rtc?"+q.Encode(), nil)
	if err != nil {
		if resp != nil { // refused: LiveKit says why in the body
			body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
			resp.Body.Close()
			return nil, fmt.Errorf("dial livekit %s: %s: %s", base, resp.Status, strings.TrimSpace(string(body)))
		}
		return nil, fmt.Errorf("dial livekit %s: %w", base, err)
	}
	return &signaler{conn: conn, paused: &s.paused, published: map[string]chan struct{}{}, done: make(chan struct{})}, nil
}

// signaler is a client.Signaler that speaks LiveKit's protocol: protobuf
// SignalRequest and SignalResponse messages over the WebSocket. Its
// offers, answers and trickled candidates name their peer connection as
// Siteline's do; a publish offer is preceded by an AddTrackRequest for
// each track it sends, and waits until LiveKit has published them.
type signaler struct {
	conn   *websocket.Conn
	paused *atomic.Int64 // streams LiveKit paused (congestion), for the report

	wmu       sync.Mutex
	mu        sync.Mutex
	offerID   uint32                   // our last publish offer
	subOffer  uint32                   // LiveKit's last subscribe offer, echoed by our answer
	published map[string]chan struct{} // by track cid: closed when LiveKit published it

	once sync.Once
	done chan struct{} // closed by Close: stops the pings
}

func (s *signaler) write(req *livekit.SignalRequest) error {
	data, err := proto.Marshal(req)
	if err != nil {
		return fmt.Errorf("encode livekit request: %w", err)
	}
	s.wmu.Lock()
	defer s.wmu.Unlock()
	_ = s.conn.SetWriteDeadline(time.Now().Add(10 * time.Second))
	if err := s.conn.WriteMessage(websocket.BinaryMessage, data); err != nil {
		return fmt.Errorf("send to livekit: %w", err)
	}
	return nil
}

// Send translates the client's message.
func (s *signaler) Send(ctx context.Context, m signal.Message) error {
	switch m.Type {
	case signal.TypeJoin:
		return nil // the WebSocket's URL joined
	case signal.TypeOffer: // publish
		if err := s.addTracks(ctx, m.SDP); err != nil {
			return err
		}
		s.mu.Lock()
		s.offerID++
		id := s.offerID
		s.mu.Unlock()
		return s.write(&livekit.SignalRequest{Message: &livekit.SignalRequest_Offer{
			Offer: &livekit.SessionDescription{Type: "offer", Sdp: m.SDP, Id: id}}})
	case signal.TypeAnswer: // subscribe
		s.mu.Lock()
		id := s.subOffer
		s.mu.Unlock()
		return s.write(&livekit.SignalRequest{Message: &livekit.SignalRequest_Answer{
			Answer: &livekit.SessionDescription{Type: "answer", Sdp: m.SDP, Id: id}}})
	case signal.TypeCandidate:
		init, err := json.Marshal(m.Candidate) // RTCIceCandidateInit's JSON, as LiveKit wants it
		if err != nil {
			return fmt.Errorf("encode candidate: %w", err)
		}
		return s.write(&livekit.SignalRequest{Message: &livekit.SignalRequest_Trickle{
			Trickle: &livekit.TrickleRequest{CandidateInit: string(init), Target: target(m.Target)}}})
	case signal.TypeLeave:
		return s.leave()
	}
	return nil // chat, mute and the rest have no use here
}

func (s *signaler) leave() error {
	return s.write(&livekit.SignalRequest{Message: &livekit.SignalRequest_Leave{
		Leave: &livekit.LeaveRequest{Reason: livekit.DisconnectReason_CLIENT_INITIATED, Action: livekit.LeaveRequest_DISCONNECT}}})
}

func target(t signal.Target) livekit.SignalTarget {
	if t == signal.TargetSubscribe {
		return livekit.SignalTarget_SUBSCRIBER
	}
	return livekit.SignalTarget_PUBLISHER
}

// addTracks sends an AddTrackRequest for each track the publish offer
// sends that LiveKit does not know yet, its cid the track id of the
// section's msid, and waits for LiveKit to publish them all.
func (s *signaler) addTracks(ctx context.Context, offer string) error {
	var desc sdp.SessionDescription
	if err := desc.UnmarshalString(offer); err != nil {
		return fmt.Errorf("read publish offer: %w", err)
	}
	var wait []chan struct{}
	for _, md := range desc.MediaDescriptions {
		msid, ok := md.Attribute("msid") // "stream-id track-id"
		_, cid, _ := strings.Cut(msid, " ")
		if !ok || cid == "" {
			continue
		}
		s.mu.Lock()
		ch, known := s.published[cid]
		if !known {
			ch = make(chan struct{})
			s.published[cid] = ch
		}
		s.mu.Unlock()
		wait = append(wait, ch)
		if known {
			continue
		}
		req := &livekit.AddTrackRequest{Cid: cid, Name: cid, DisableRed: true}
		switch md.MediaName.Media {
		case "video":
			// One layer: the synthetic VP8 keyframes say 320x180.
			req.Type, req.Source, req.Width, req.Height = livekit.TrackType_VIDEO, livekit.TrackSource_CAMERA, 320, 180
			req.Layers = []*livekit.VideoLayer{{Quality: livekit.VideoQuality_HIGH, Width: 320, Height: 180}}
		case "audio":
			req.Type, req.Source = livekit.TrackType_AUDIO, livekit.TrackSource_MICROPHONE
		default:
			continue
		}
		if err := s.write(&livekit.SignalRequest{Message: &livekit.SignalRequest_AddTrack{AddTrack: req}}); err != nil {
			return err
		}
	}
	for _, ch := range wait {
		select {
		case <-ch:
		case <-ctx.Done():
			return fmt.Errorf("livekit did not publish the tracks: %w", ctx.Err())
		}
	}
	return nil
}

// Recv translates LiveKit's messages and starts pinging once joined.
func (s *signaler) Recv(_ context.Context) (signal.Message, error) {
	for {
		_, data, err := s.conn.ReadMessage()
		if err != nil {
			return signal.Message{}, fmt.Errorf("receive from livekit: %w", err)
		}
		var res livekit.SignalResponse
		if err := proto.Unmarshal(data, &res); err != nil {
			continue
		}
		switch msg := res.Message.(type) {
		case *livekit.SignalResponse_Join:
			go s.ping(time.Duration(max(1, msg.Join.PingInterval)) * time.Second)
			m := signal.New(signal.TypeJoined)
			m.Participant = msg.Join.GetParticipant().GetSid()
			return m, nil
		case *livekit.SignalResponse_Offer:
			s.mu.Lock()
			s.subOffer = msg.Offer.Id
			s.mu.Unlock()
			m := signal.New(signal.TypeOffer)
			m.Target, m.SDP = signal.TargetSubscribe, msg.Offer.Sdp
			return m, nil
		case *livekit.SignalResponse_Answer:
			m := signal.New(signal.TypeAnswer)
			m.ID, m.Target, m.SDP = fmt.Sprintf("pub-%d", msg.Answer.Id), signal.TargetPublish, msg.Answer.Sdp
			return m, nil
		case *livekit.SignalResponse_Trickle:
			var c signal.Candidate
			if err := json.Unmarshal([]byte(msg.Trickle.CandidateInit), &c); err != nil || c.Candidate == "" {
				continue
			}
			m := signal.New(signal.TypeCandidate)
			m.Target = signal.TargetPublish
			if msg.Trickle.Target == livekit.SignalTarget_SUBSCRIBER {
				m.Target = signal.TargetSubscribe
			}
			m.Candidate = &c
			return m, nil
		case *livekit.SignalResponse_TrackPublished:
			s.mu.Lock()
			if ch, ok := s.published[msg.TrackPublished.Cid]; ok && !closed(ch) {
				close(ch)
			}
			s.mu.Unlock()
		case *livekit.SignalResponse_StreamStateUpdate:
			for _, st := range msg.StreamStateUpdate.StreamStates {
				if st.State == livekit.StreamState_PAUSED {
					s.paused.Add(1)
				}
			}
		case *livekit.SignalResponse_RequestResponse:
			if r := msg.RequestResponse; r.Reason != livekit.RequestResponse_OK {
				return signal.Errorf("", "livekit", "request %d refused: %s %s", r.RequestId, r.Reason, r.Message), nil
			}
		case *livekit.SignalResponse_Leave:
			return signal.Errorf("", "livekit", "asked to leave: %s", msg.Leave.Reason), nil
		}
	}
}

func closed(ch chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

// ping sends LiveKit's keep-alive every interval, as its SDKs do: the
// server counts a participant without recent signaling as gone when ICE
// falters.
func (s *signaler) ping(interval time.Duration) {
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		select {
		case <-s.done:
			return
		case <-tick.C:
			if err := s.write(&livekit.SignalRequest{Message: &livekit.SignalRequest_PingReq{
				PingReq: &livekit.Ping{Timestamp: time.Now().UnixMilli()}}}); err != nil {
				return
			}
		}
	}
}

// Close leaves the room, so that LiveKit does not keep the participant for
// a reconnection, and closes the socket.
func (s *signaler) Close() error {
	var err error
	s.once.Do(func() {
		close(s.done)
		_ = s.leave()
		err = s.conn.Close()
	})
	return err
}
