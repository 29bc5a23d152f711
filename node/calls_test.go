package node

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"

	"siteline/media/client"
	"siteline/media/mediatest"
	"siteline/media/signal"
	"siteline/media/turn"
	"siteline/storage"
	"siteline/web"
)

// callNode is a node with a second user who may call.
type callNode struct {
	*testNode
	admin, tech *browser
}

func startCallNode(t *testing.T) *callNode {
	t.Helper()
	tn := startNode(t, Config{})
	admin := tn.admin()
	if st := admin.do("POST", "/api/v1/users", web.UserInput{Email: "tech@plant.example", Name: "Tom Tech",
		Password: "tech's password 1", Roles: []string{"regular"}}, nil); st != 201 {
		t.Fatalf("create tech = %d", st)
	}
	return &callNode{testNode: tn, admin: admin, tech: tn.login("tech@plant.example", "tech's password 1")}
}

func (cn *callNode) createCall(t *testing.T, b *browser) storage.Session {
	t.Helper()
	var s storage.Session
	if st := b.do("POST", "/api/v1/calls", web.CallInput{Name: "Pump 4", Goal: "leaking seal"}, &s); st != 201 {
		t.Fatalf("create call = %d", st)
	}
	return s
}

// dial opens the signaling socket as b, with its cookie and this origin.
func (cn *callNode) dial(ctx context.Context, b *browser, callID string) (*client.WS, error) {
	return client.DialWS(ctx, cn.url+"/api/v1/calls/"+callID+"/signal", client.WSOptions{
		Cookie: web.SessionCookie + "=" + b.cookie, Origin: cn.url})
}

// join makes a client through the node's WebSocket and joins the call.
func (cn *callNode) join(t *testing.T, b *browser, callID, name string, cfg client.Config) *client.Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	ws, err := cn.dial(ctx, b, callID)
	if err != nil {
		t.Fatalf("dial %s: %v", name, err)
	}
	cfg.Name = name
	cfg.LoopbackOnly = true
	c, err := client.New(cfg, ws)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	if err := c.Join(ctx, callID, client.JoinOptions{}); err != nil {
		t.Fatalf("join %s: %v", name, err)
	}
	return c
}

func waitTrack(t *testing.T, c *client.Client, pid, kind string) *client.Received {
	t.Helper()
	var found *client.Received
	eventually(t, 15*time.Second, kind+" track from "+pid, func() bool {
		for _, r := range c.Tracks() {
			if r.Participant == pid && r.Kind == kind && r.Stats().Unique > 0 {
				found = r
				return true
			}
		}
		return false
	})
	return found
}

func waitComplete(t *testing.T, what string, r *client.Received, n uint64) {
	t.Helper()
	eventually(t, 20*time.Second, what+" complete", func() bool {
		s := r.Stats()
		return s.Unique >= n && s.Missing == 0
	})
}

func TestCallThroughTheNode(t *testing.T) {
	cn := startCallNode(t)
	call := cn.createCall(t, cn.tech)
	var got storage.Session
	if st := cn.admin.do("GET", "/api/v1/calls/"+call.ID, nil, &got); st != 200 || got.Name != "Pump 4" || got.SiteID == "" {
		t.Fatalf("get call = %d %+v", st, got)
	}

	pub := cn.join(t, cn.tech, call.ID, "Tom", client.Config{})
	sub := cn.join(t, cn.admin, call.ID, "Ada", client.Config{})
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if _, err := pub.Publish(ctx, client.TrackSpec{Kind: "video"}, client.TrackSpec{Kind: "audio"}); err != nil {
		t.Fatalf("publish: %v", err)
	}
	waitComplete(t, "video", waitTrack(t, sub, pub.ID(), "video"), 90)
	waitComplete(t, "audio", waitTrack(t, sub, pub.ID(), "audio"), 75)

	// Joins are on disk once acknowledged.
	ps, err := cn.n.Store().SessionParticipants(ctx, call.ID)
	if err != nil || len(ps) != 2 {
		t.Fatalf("participants = %+v, %v", ps, err)
	}
	if err := pub.Leave(ctx); err != nil {
		t.Fatal(err)
	}
	_ = pub.Close()
	_ = sub.Close()
	eventually(t, 10*time.Second, "left events", func() bool {
		evs, err := cn.n.Store().SessionEvents(ctx, call.ID)
		if err != nil {
			t.Fatal(err)
		}
		var kinds []string
		for _, e := range evs {
			kinds = append(kinds, e.Kind)
		}
		return strings.Join(kinds, " ") == "joined joined left left"
	})
	ps, _ = cn.n.Store().SessionParticipants(ctx, call.ID)
	for _, p := range ps {
		if p.LeftAt == nil {
			t.Errorf("participant %s has no left time", p.ID)
		}
	}
	if v := metricValue(t, cn.n, "siteline_sfu_rtp_packets_total"); v == 0 {
		t.Errorf("no SFU packets counted on the node's registry")
	}
}

// metricValue sums the samples of a series on the node's registry.
func metricValue(t *testing.T, n *Node, name string) float64 {
	t.Helper()
	families, err := n.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	total := 0.0
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
		for _, m := range f.GetMetric() {
			switch {
			case m.Counter != nil:
				total += m.Counter.GetValue()
			case m.Gauge != nil:
				total += m.Gauge.GetValue()
			}
		}
	}
	return total
}

func TestSignalingRefusals(t *testing.T) {
	cn := startCallNode(t)
	call := cn.createCall(t, cn.admin)
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()

	// Without xa_icall_join: 403 naming it, before the upgrade.
	if st := cn.admin.do("POST", "/api/v1/users", web.UserInput{Email: "nobody@plant.example", Password: "nobody's password", Roles: []string{}}, nil); st != 201 {
		t.Fatalf("create nobody = %d", st)
	}
	nobody := cn.login("nobody@plant.example", "nobody's password")
	_, err := cn.dial(ctx, nobody, call.ID)
	var he *client.HandshakeError
	if !errors.As(err, &he) || he.Status != 403 || !strings.Contains(he.Body, "xa_icall_join") {
		t.Fatalf("dial without permission = %v, want 403 naming xa_icall_join", err)
	}
	// A cookie from another origin is refused.
	_, err = client.DialWS(ctx, cn.url+"/api/v1/calls/"+call.ID+"/signal", client.WSOptions{
		Cookie: web.SessionCookie + "=" + cn.admin.cookie, Origin: "https://evil.example"})
	if !errors.As(err, &he) || he.Status != 403 {
		t.Fatalf("cross-origin dial = %v, want 403", err)
	}
	// An unknown call is 404.
	if _, err = cn.dial(ctx, cn.admin, "nosuchcall"); !errors.As(err, &he) || he.Status != 404 {
		t.Fatalf("dial unknown call = %v, want 404", err)
	}

	// Malformed, out-of-order and oversized messages get an error and the
	// connection stays usable.
	ws, err := cn.dial(ctx, cn.admin, call.ID)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	expectError := func(what string, data []byte, code string) {
		t.Helper()
		if err := ws.SendRaw(ctx, data); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		m, err := ws.Recv(ctx)
		for err == nil && (m.Type == signal.TypeOffer || m.Type == signal.TypeCandidate) {
			m, err = ws.Recv(ctx) // the SFU's subscribe offer, once joined
		}
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		if m.Type != signal.TypeError || m.Code != code {
			t.Fatalf("%s: got %+v, want error %s", what, m, code)
		}
	}
	expectError("malformed", []byte(`{"v":1,"type":`), signal.CodeBadMessage)
	expectError("unknown field", []byte(`{"v":1,"type":"join","room":"`+call.ID+`","bogus":1}`), signal.CodeBadMessage)
	expectError("before join", []byte(`{"v":1,"type":"chat","text":"hi"}`), signal.CodeBadMessage)
	expectError("oversized", append(append([]byte(`{"v":1,"type":"chat","text":"`), bytes.Repeat([]byte("x"), signal.DefaultMaxSize)...), `"}`...), signal.CodeBadMessage)
	expectError("wrong room", []byte(`{"v":1,"type":"join","id":"j0","room":"other"}`), signal.CodeBadMessage)
	// Still usable: a proper join is answered with joined.
	if err := ws.Send(ctx, signal.Message{V: 1, Type: signal.TypeJoin, ID: "j1", Room: call.ID, Name: "Ada"}); err != nil {
		t.Fatal(err)
	}
	for {
		m, err := ws.Recv(ctx)
		if err != nil {
			t.Fatalf("after refusals: %v", err)
		}
		if m.Type == signal.TypeJoined {
			break
		}
		if m.Type == signal.TypeError {
			t.Fatalf("join refused: %+v", m)
		}
	}
	// A second join is out of order and changes nothing.
	expectError("join twice", []byte(`{"v":1,"type":"join","room":"`+call.ID+`"}`), signal.CodeBadMessage)
}

// iceServers fetches the call's ICE servers as b.
func iceServers(t *testing.T, b *browser, callID string) web.ICEConfig {
	t.Helper()
	var cfg web.ICEConfig
	if st := b.do("GET", "/api/v1/calls/"+callID+"/ice-servers", nil, &cfg); st != 200 {
		t.Fatalf("ice-servers = %d", st)
	}
	return cfg
}

func pionICEServers(cfg web.ICEConfig) []webrtc.ICEServer {
	var out []webrtc.ICEServer
	for _, s := range cfg.ICEServers {
		out = append(out, webrtc.ICEServer{URLs: s.URLs, Username: s.Username, Credential: s.Credential})
	}
	return out
}

func TestRelayOnlyClientReachesTheSFUThroughTURN(t *testing.T) {
	cn := startCallNode(t)
	call := cn.createCall(t, cn.tech)
	ice := iceServers(t, cn.admin, call.ID)
	if len(ice.ICEServers) == 0 || ice.ICEServers[len(ice.ICEServers)-1].Username == "" || !ice.ExpiresAt.After(time.Now()) {
		t.Fatalf("ice servers = %+v", ice)
	}

	pub := cn.join(t, cn.tech, call.ID, "Tom", client.Config{})
	relayed := cn.join(t, cn.admin, call.ID, "Ada", client.Config{ICEServers: pionICEServers(ice), RelayOnly: true})
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if _, err := pub.Publish(ctx, client.TrackSpec{Kind: "video"}, client.TrackSpec{Kind: "audio"}); err != nil {
		t.Fatalf("publish: %v", err)
	}
	waitComplete(t, "relayed video", waitTrack(t, relayed, pub.ID(), "video"), 60)
	if n := cn.n.media.turn.Allocations(); n == 0 {
		t.Errorf("no TURN allocation while the relay-only client receives")
	}
	if v := metricValue(t, cn.n, "siteline_turn_relayed_bytes_total"); v == 0 {
		t.Errorf("no relayed bytes counted")
	}
}

func TestTURNRefusesBadCredentialsAndForbiddenPeers(t *testing.T) {
	cn := startCallNode(t)
	call := cn.createCall(t, cn.admin)
	ice := iceServers(t, cn.admin, call.ID)
	good := ice.ICEServers[len(ice.ICEServers)-1]
	server := cn.n.media.turn.Addrs().UDP.String()
	expiredUser, expiredPass, _ := cn.n.media.turn.Credentials(turn.Grant{Org: call.OrgID, Call: call.ID, User: "x"}, time.Now().Add(-48*time.Hour))

	allocate := func(user, pass string) (net.PacketConn, func(), error) {
		c := mediatest.NewTURNClient(t, mediatest.TURN{Conn: mediatest.UDP4(t), Server: server,
			Realm: cn.n.media.turn.Realm(), Username: user, Password: pass})
		relay, err := c.Allocate()
		if err != nil {
			c.Close()
			return nil, nil, err
		}
		return relay, func() { relay.Close(); c.Close() }, nil
	}
	if _, _, err := allocate(good.Username, good.Credential+"x"); err == nil {
		t.Errorf("allocation with a forged password succeeded")
	}
	if _, _, err := allocate(expiredUser, expiredPass); err == nil {
		t.Errorf("allocation with expired credentials succeeded")
	}
	relay, done, err := allocate(good.Username, good.Credential)
	if err != nil {
		t.Fatalf("allocation with minted credentials: %v", err)
	}
	defer done()
	// The relay reaches the SFU's ICE port, and nothing else on loopback:
	// not the node's HTTP port.
	httpAddr := cn.n.httpLn.Addr().(*net.TCPAddr)
	if _, err := relay.WriteTo([]byte("x"), &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: httpAddr.Port}); err == nil {
		// pion reports a refused permission on the write that asks for it
		// only for IPs no rule allows; for an allowed IP on another port
		// the relay drops the Send indication, and refuses the channel
		// bind with 403 (media/turn's TestChannelBindToARefusedPeerIs403).
		// Either way nothing gets there.
		t.Logf("write to 127.0.0.1:%d accepted by the client; the relay drops it", httpAddr.Port)
	}
	if _, err := relay.WriteTo([]byte("x"), &net.UDPAddr{IP: net.IPv4(169, 254, 1, 1), Port: 9}); err == nil {
		t.Errorf("relay to link-local 169.254.1.1 was permitted")
	}
	if v := metricValue(t, cn.n, "siteline_turn_auth_failures_total"); v < 2 {
		t.Errorf("auth failures counted = %v, want >= 2", v)
	}
}

func TestWHIPPublishWHEPPlay(t *testing.T) {
	cn := startCallNode(t)
	call := cn.createCall(t, cn.admin)

	// The publisher: a plain pion peer connection, as OBS or GStreamer.
	pc := mediatest.PeerConnection(t)
	video, err := webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8, ClockRate: 90000}, "video", "obs")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pc.AddTransceiverFromTrack(video, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionSendonly}); err != nil {
		t.Fatal(err)
	}
	tok := cn.token(t, cn.admin)
	answer, location := cn.exchange(t, pc, tok, call.ID, "whip")
	if err := pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: answer}); err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	sent := make(chan struct{})
	go func() { // 50 packets/s of a VP8 keyframe-shaped payload
		defer close(sent)
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for seq := uint16(0); ; seq++ {
			select {
			case <-stop:
				return
			case <-tick.C:
			}
			payload := append([]byte{0x10, 0x00, 0x9d, 0x01, 0x2a}, bytes.Repeat([]byte{byte(seq)}, 200)...)
			_ = video.WriteRTP(&rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 96, SequenceNumber: seq,
				Timestamp: uint32(seq) * 1800, Marker: true}, Payload: payload})
		}
	}()
	defer func() { close(stop); <-sent }()
	eventually(t, 15*time.Second, "WHIP track in the room", func() bool {
		r := cn.n.media.sfu.Room(call.ID)
		return r != nil && metricValue(t, cn.n, "siteline_sfu_rtp_packets_total") > 0
	})

	// The player.
	player := mediatest.PeerConnection(t)
	if _, err := player.AddTransceiverFromKind(webrtc.RTPCodecTypeVideo, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionRecvonly}); err != nil {
		t.Fatal(err)
	}
	got := make(chan uint16, 1024)
	player.OnTrack(func(tr *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
		for {
			p, _, err := tr.ReadRTP()
			if err != nil {
				return
			}
			select {
			case got <- p.SequenceNumber:
			default:
			}
		}
	})
	pAnswer, pLocation := cn.exchange(t, player, tok, call.ID, "whep")
	if err := player.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: pAnswer}); err != nil {
		t.Fatal(err)
	}
	// Received packets are consecutive.
	var last uint16
	for i := 0; i < 50; i++ {
		select {
		case seq := <-got:
			if i > 0 && seq != last+1 {
				t.Fatalf("WHEP packet %d: seq %d after %d", i, seq, last)
			}
			last = seq
		case <-time.After(15 * time.Second):
			t.Fatalf("WHEP player got %d packets", i)
		}
	}

	for _, loc := range []string{pLocation, location} {
		if st, body := cn.admin.raw("DELETE", loc, "", nil); st != 200 {
			t.Errorf("DELETE %s = %d %s", loc, st, body)
		}
	}
	ctx := context.Background()
	eventually(t, 10*time.Second, "WHIP/WHEP left events", func() bool {
		evs, _ := cn.n.Store().SessionEvents(ctx, call.ID)
		left := 0
		for _, e := range evs {
			if e.Kind == storage.EventLeft {
				left++
			}
		}
		return left == 2
	})
}

// exchange posts pc's complete offer to the call's WHIP or WHEP endpoint
// with a bearer token and returns the answer and Location.
func (cn *callNode) exchange(t *testing.T, pc *webrtc.PeerConnection, tok, callID, kind string) (string, string) {
	t.Helper()
	offer := mediatest.Offer(t, pc)
	req, _ := http.NewRequest("POST", cn.url+"/api/v1/calls/"+callID+"/"+kind, strings.NewReader(offer))
	req.Header.Set("Content-Type", "application/sdp")
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body bytes.Buffer
	_, _ = body.ReadFrom(resp.Body)
	if resp.StatusCode != 201 || resp.Header.Get("Location") == "" {
		t.Fatalf("%s = %d %s", kind, resp.StatusCode, body.String())
	}
	return body.String(), resp.Header.Get("Location")
}

// token creates an API token for b's user and returns its secret.
func (cn *callNode) token(t *testing.T, b *browser) string {
	t.Helper()
	var out struct {
		Secret string `json:"secret"`
	}
	if st := b.do("POST", "/api/v1/tokens", map[string]string{"name": fmt.Sprintf("whip-%d", time.Now().UnixNano())}, &out); st != 201 || out.Secret == "" {
		t.Fatalf("create token = %d", st)
	}
	return out.Secret
}
