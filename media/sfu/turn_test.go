package sfu_test

import (
	"context"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/pion/webrtc/v4"
	"github.com/prometheus/client_golang/prometheus"

	"siteline/internal/testutil"
	"siteline/media/client"
	"siteline/media/signal"
	"siteline/media/turn"
)

const turnSecret = "sfu-test-turn-secret-0123456789"

// turnRelay is a real media/turn server on 127.0.0.1 whose only allowed
// peer is the SFU's ICE UDP port: clients reach the SFU through it and
// nowhere else. Relaying to another loopback port, to 127.0.0.1 in
// general or to a denied range is refused by the relay's peer filter,
// which media/turn tests (TestPermissionFilter, TestPortFilter); it is not
// repeated here.
type turnRelay struct {
	*turn.Server
	reg *prometheus.Registry
}

func startTURN(t *testing.T, h *harness) *turnRelay {
	t.Helper()
	reg := prometheus.NewRegistry()
	ts, err := turn.New(turn.Config{
		ListenUDP:        "127.0.0.1:0",
		ListenTCP:        "127.0.0.1:0",
		RelayBindIP:      "127.0.0.1",
		Secret:           []byte(turnSecret),
		CredentialTTL:    time.Hour,
		AllowedPeerAddrs: []netip.AddrPort{h.udp.(*net.UDPAddr).AddrPort()},
		Registerer:       reg,
		Logger:           testLogger(),
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := ts.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := ts.Shutdown(ctx); err != nil {
			t.Errorf("turn shutdown: %v", err)
		}
	})
	return &turnRelay{Server: ts, reg: reg}
}

// iceServer is the RTCIceServer a client would get from the node, over
// UDP.
func (r *turnRelay) iceServer(username, password string) webrtc.ICEServer {
	return r.iceServerOver("udp", username, password)
}

// iceServerOver is the RTCIceServer of the relay's listener on transport,
// "udp" or "tcp".
func (r *turnRelay) iceServerOver(transport, username, password string) webrtc.ICEServer {
	addr := r.Addrs().UDP.String()
	if transport == "tcp" {
		addr = r.Addrs().TCP.String()
	}
	return webrtc.ICEServer{
		URLs:       []string{"turn:" + addr + "?transport=" + transport},
		Username:   username,
		Credential: password,
	}
}

// metric sums the samples of the named series in the relay's registry
// whose label has value (any sample if label is "").
func (r *turnRelay) metric(t *testing.T, name, label, value string) float64 {
	t.Helper()
	families, err := r.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	total := 0.0
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
		for _, m := range f.GetMetric() {
			match := label == ""
			for _, l := range m.GetLabel() {
				match = match || l.GetName() == label && l.GetValue() == value
			}
			if !match {
				continue
			}
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

// joinRelayed joins user to room with ICE transport policy relay and the
// given TURN credentials.
func (h *harness) joinRelayed(user, room string, ice webrtc.ICEServer) *client.Client {
	h.t.Helper()
	c, err := client.New(client.Config{Name: user, LoopbackOnly: true, Logger: testLogger(),
		ICEServers: []webrtc.ICEServer{ice}, RelayOnly: true}, newLoopback(h.sfu, user))
	if err != nil {
		h.t.Fatal(err)
	}
	h.t.Cleanup(func() { _ = c.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := c.Join(ctx, room, client.JoinOptions{}); err != nil {
		h.t.Fatalf("%s joins %s: %v", user, room, err)
	}
	return c
}

// TestRelayOnly runs a call whose publisher and subscriber may use relay
// candidates only: every packet between them and the SFU crosses the
// TURN relay, authenticated with credentials minted by turn.Server; the
// clients reach the relay over UDP, and over TCP (where the relay's loop
// reads their connections, media/turn/tcp_linux.go).
func TestRelayOnly(t *testing.T) {
	testutil.System(t)
	for _, transport := range []string{"udp", "tcp"} {
		t.Run(transport, func(t *testing.T) { testRelayOnly(t, transport) })
	}
}

func testRelayOnly(t *testing.T, transport string) {
	h := startSFU(t)
	relay := startTURN(t, h)
	creds := func(user string) webrtc.ICEServer {
		u, p, _ := relay.Credentials(turn.Grant{User: user}, time.Now())
		return relay.iceServerOver(transport, u, p)
	}
	pub := h.joinRelayed("tech", "relayed", creds("tech"))
	sub := h.joinRelayed("expert", "relayed", creds("expert"))
	h.publish(pub, client.TrackSpec{Kind: "video", PacketSize: 600})

	v := trackOf(t, sub, pub.ID(), "video")
	complete(t, "relayed subscriber", v, 120)
	st := v.Stats()
	t.Logf("subscriber: %d packets, %.1f packets/s, latency avg %v max %v", st.Unique, st.Rate(), st.LatencyAvg, st.LatencyMax)

	for name, c := range map[string]*client.Client{"publisher": pub, "subscriber": sub} {
		for _, target := range []signal.Target{signal.TargetPublish, signal.TargetSubscribe} {
			if (name == "subscriber") == (target == signal.TargetPublish) {
				continue // publishes, or receives, nothing: never connects
			}
			if info := c.Conn(target); info.Local != "relay" {
				t.Errorf("%s's %s connection: selected pair %s/%s (%s), want a relay local candidate",
					name, target, info.Local, info.Remote, info.ICE)
			}
		}
	}
	for _, dir := range []string{"client_to_peer", "peer_to_client"} {
		// 120 video packets of 600 bytes crossed each way at least once
		// (publisher to SFU, SFU to subscriber).
		if b := relay.metric(t, "siteline_turn_relayed_bytes_total", "direction", dir); b < 120*600 {
			t.Errorf("siteline_turn_relayed_bytes_total{direction=%s} = %v, want at least %d", dir, b, 120*600)
		}
	}
	if n := relay.Allocations(); n < 2 {
		t.Errorf("relay holds %d allocations, want at least 2 (publisher's publish connection, subscriber's subscribe)", n)
	}
}

// TestRelayRefusesBadCredentials: with expired or forged credentials a
// relay-only client gets no allocation, so it has no candidate at all and
// its ICE can never connect; nothing is relayed and the SFU receives no
// media.
func TestRelayRefusesBadCredentials(t *testing.T) {
	h := startSFU(t)
	relay := startTURN(t, h)
	expiredUser, expiredPass, _ := relay.Credentials(turn.Grant{User: "tech"}, time.Now().Add(-2*time.Hour))
	goodUser, _, _ := relay.Credentials(turn.Grant{User: "tech"}, time.Now())
	forgedPass := "aGVsbG8gdGhpcyBpcyBub3QgdGhlIGhtYWM=" // base64, not the HMAC of goodUser

	for _, tt := range []struct {
		name, username, password, reason string
	}{
		{"expired", expiredUser, expiredPass, "expired"},
		{"forged", goodUser, forgedPass, "bad_integrity"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			before := relay.metric(t, "siteline_turn_auth_failures_total", "reason", tt.reason)
			c := h.joinRelayed("tech-"+tt.name, "refused", relay.iceServer(tt.username, tt.password))
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if _, err := c.Publish(ctx, client.TrackSpec{Kind: "video"}); err != nil {
				t.Fatalf("publish: %v", err) // signaling works; ICE will not
			}
			testutil.Eventually(t, 10*time.Second, "publish connection's gathering to complete", func() bool {
				return c.Conn(signal.TargetPublish).Gathering == webrtc.ICEGatheringStateComplete
			})
			info := c.Conn(signal.TargetPublish)
			if info.Gathered != 0 {
				t.Errorf("gathered %d candidates with refused credentials, want none", info.Gathered)
			}
			if info.ICE == webrtc.ICEConnectionStateConnected || info.ICE == webrtc.ICEConnectionStateCompleted || info.Local != "" {
				t.Errorf("publish connection %s with pair %q, want never connected", info.ICE, info.Local)
			}
			if got := relay.metric(t, "siteline_turn_auth_failures_total", "reason", tt.reason); got <= before {
				t.Errorf("siteline_turn_auth_failures_total{reason=%s} = %v, want more than %v", tt.reason, got, before)
			}
		})
	}
	if n := relay.metric(t, "siteline_turn_allocations_created_total", "", ""); n != 0 {
		t.Errorf("siteline_turn_allocations_created_total = %v, want 0", n)
	}
	if b := relay.metric(t, "siteline_turn_relayed_bytes_total", "", ""); b != 0 {
		t.Errorf("siteline_turn_relayed_bytes_total = %v, want 0", b)
	}
	if n := h.metricWith("siteline_sfu_rtp_packets_total", "direction", "in"); n != 0 {
		t.Errorf("the SFU received %v RTP packets from clients that have no candidate", n)
	}
}
