package main

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/fasthttp/websocket"

	"siteline/media/client"
	"siteline/media/signal"
)

// galeneServer is a Galène server under test: room r is the
// auto-subgroup GROUP/r, every participant the wildcard user.
type galeneServer struct {
	url, group string
	tls        *tls.Config
}

func (g *galeneServer) Room(_ context.Context, r int) (string, error) {
	return fmt.Sprintf("%s/%d", g.group, r), nil
}

func (g *galeneServer) Dial(ctx context.Context, _, name string, subscribe bool) (client.Signaler, error) {
	c, err := dialGalene(ctx, g.url, g.tls, name, subscribe)
	if err != nil {
		return nil, err
	}
	return c, nil
}

// galene is a client.Signaler that speaks Galène's protocol (its
// galene-protocol.md, version 2), so that the same client, media and room
// shapes can be measured against Galène as a reference: one publisher
// stream (label "camera") and one down stream per subscriber, which is
// what a room of one publisher gives.
type galene struct {
	conn      *websocket.Conn
	id        string // our client id
	username  string
	password  string
	subscribe bool // request every stream

	wmu  sync.Mutex
	mu   sync.Mutex
	pub  string // our publish stream id
	down string // the stream Galène offered us
	in   []signal.Message
}

// dialGalene opens Galène's WebSocket at base/ws and sends the handshake.
func dialGalene(ctx context.Context, base string, tlsCfg *tls.Config, username string, subscribe bool) (*galene, error) {
	u := strings.Replace(strings.Replace(base, "https://", "wss://", 1), "http://", "ws://", 1) + "/ws"
	d := websocket.Dialer{HandshakeTimeout: 10 * time.Second, TLSClientConfig: tlsCfg}
	conn, _, err := d.DialContext(ctx, u, nil)
	if err != nil {
		return nil, fmt.Errorf("dial galene %s: %w", u, err)
	}
	g := &galene{conn: conn, id: randomID(), username: username, password: "bench", subscribe: subscribe, pub: randomID()}
	if err := g.write(map[string]any{"type": "handshake", "version": []string{"2"}, "id": g.id}); err != nil {
		conn.Close()
		return nil, err
	}
	return g, nil
}

func randomID() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func (g *galene) write(v any) error {
	g.wmu.Lock()
	defer g.wmu.Unlock()
	_ = g.conn.SetWriteDeadline(time.Now().Add(10 * time.Second))
	if err := g.conn.WriteJSON(v); err != nil {
		return fmt.Errorf("send to galene: %w", err)
	}
	return nil
}

type galeneCandidate struct {
	Candidate        string  `json:"candidate"`
	SDPMid           *string `json:"sdpMid,omitempty"`
	SDPMLineIndex    *uint16 `json:"sdpMLineIndex,omitempty"`
	UsernameFragment *string `json:"usernameFragment,omitempty"`
}

// Send translates the client's message.
func (g *galene) Send(_ context.Context, m signal.Message) error {
	switch m.Type {
	case signal.TypeJoin:
		if err := g.write(map[string]any{"type": "join", "kind": "join", "group": m.Room,
			"username": g.username, "password": g.password}); err != nil {
			return err
		}
		req := map[string][]string{}
		if g.subscribe {
			req[""] = []string{"audio", "video"}
		}
		return g.write(map[string]any{"type": "request", "request": req})
	case signal.TypeOffer: // publish
		return g.write(map[string]any{"type": "offer", "id": g.pub, "label": "camera",
			"source": g.id, "username": g.username, "sdp": m.SDP})
	case signal.TypeAnswer: // subscribe
		g.mu.Lock()
		id := g.down
		g.mu.Unlock()
		return g.write(map[string]any{"type": "answer", "id": id, "sdp": m.SDP})
	case signal.TypeCandidate:
		id := g.pub
		if m.Target == signal.TargetSubscribe {
			g.mu.Lock()
			id = g.down
			g.mu.Unlock()
		}
		c := galeneCandidate{Candidate: m.Candidate.Candidate, SDPMid: m.Candidate.SDPMid,
			SDPMLineIndex: m.Candidate.SDPMLineIndex}
		if m.Candidate.UsernameFragment != nil {
			c.UsernameFragment = m.Candidate.UsernameFragment
		}
		return g.write(map[string]any{"type": "ice", "id": id, "candidate": c})
	case signal.TypeLeave:
		return g.write(map[string]any{"type": "join", "kind": "leave", "username": g.username})
	}
	return nil // chat, mute and the rest have no use here
}

// Recv translates Galène's messages, answering pings.
func (g *galene) Recv(_ context.Context) (signal.Message, error) {
	for {
		_, data, err := g.conn.ReadMessage()
		if err != nil {
			return signal.Message{}, fmt.Errorf("receive from galene: %w", err)
		}
		var in struct {
			Type      string           `json:"type"`
			Kind      string           `json:"kind"`
			ID        string           `json:"id"`
			SDP       string           `json:"sdp"`
			Value     json.RawMessage  `json:"value"`
			Error     string           `json:"error"`
			Candidate *galeneCandidate `json:"candidate"`
		}
		if err := json.Unmarshal(data, &in); err != nil {
			continue
		}
		switch in.Type {
		case "ping":
			_ = g.write(map[string]any{"type": "pong"})
		case "joined":
			if in.Kind == "join" {
				m := signal.New(signal.TypeJoined)
				m.Participant = g.id
				return m, nil
			}
			if in.Kind == "fail" {
				m := signal.Errorf("", "galene", "join refused: %s %s", in.Error, in.Value)
				return m, nil
			}
		case "offer":
			g.mu.Lock()
			g.down = in.ID
			g.mu.Unlock()
			m := signal.New(signal.TypeOffer)
			m.Target, m.SDP = signal.TargetSubscribe, in.SDP
			return m, nil
		case "answer":
			m := signal.New(signal.TypeAnswer)
			m.ID, m.Target, m.SDP = "pub-1", signal.TargetPublish, in.SDP
			return m, nil
		case "ice":
			if in.Candidate == nil {
				continue
			}
			m := signal.New(signal.TypeCandidate)
			m.Target = signal.TargetSubscribe
			if in.ID == g.pub {
				m.Target = signal.TargetPublish
			}
			m.Candidate = &signal.Candidate{Candidate: in.Candidate.Candidate, SDPMid: in.Candidate.SDPMid,
				SDPMLineIndex: in.Candidate.SDPMLineIndex, UsernameFragment: in.Candidate.UsernameFragment}
			return m, nil
		case "usermessage":
			if in.Kind == "error" {
				return signal.Errorf("", "galene", "%s", in.Value), nil
			}
		}
	}
}

// Close closes the socket.
func (g *galene) Close() error { return g.conn.Close() }
