package sfu_test

import (
	"context"
	"errors"
	"net"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"

	"siteline/internal/testutil"
	"siteline/media/client"
	"siteline/media/mediatest"
	"siteline/media/sfu"
	"siteline/media/signal"
	"siteline/storage"
)

// directPeer is a WHIP or WHEP client: a plain pion peer connection with
// the codecs given (pion's defaults when none).
func directPeer(t *testing.T, codecs ...webrtc.RTPCodecParameters) *webrtc.PeerConnection {
	t.Helper()
	if len(codecs) == 0 {
		return mediatest.PeerConnection(t)
	}
	me := &webrtc.MediaEngine{}
	for _, c := range codecs {
		kind := webrtc.RTPCodecTypeVideo
		if strings.HasPrefix(c.MimeType, "audio/") {
			kind = webrtc.RTPCodecTypeAudio
		}
		if err := me.RegisterCodec(c, kind); err != nil {
			t.Fatal(err)
		}
	}
	se := webrtc.SettingEngine{}
	se.SetIncludeLoopbackCandidate(true)
	se.SetIPFilter(func(ip net.IP) bool { return ip.IsLoopback() })
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	pc, err := webrtc.NewAPI(webrtc.WithMediaEngine(me), webrtc.WithSettingEngine(se)).NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = pc.Close() })
	return pc
}

// sendTrack adds a send-only track of codec to pc and returns it.
func sendTrack(t *testing.T, pc *webrtc.PeerConnection, codec webrtc.RTPCodecCapability, id string) *webrtc.TrackLocalStaticRTP {
	t.Helper()
	tr, err := webrtc.NewTrackLocalStaticRTP(codec, id, "whip")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pc.AddTransceiverFromTrack(tr, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionSendonly}); err != nil {
		t.Fatal(err)
	}
	return tr
}

var (
	vp8  = webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8, ClockRate: 90000}
	opus = webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2}
)

// feed writes a packet to each track every 20 ms until the test ends.
func feed(t *testing.T, tracks ...*webrtc.TrackLocalStaticRTP) {
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for seq := uint16(0); ; seq++ {
			select {
			case <-stop:
				return
			case <-tick.C:
			}
			for _, tr := range tracks {
				_ = tr.WriteRTP(&rtp.Packet{Header: rtp.Header{Version: 2, SequenceNumber: seq, Timestamp: uint32(seq) * 960, Marker: true},
					Payload: []byte{0x10, 0x00, 0x9d, 0x01, 0x2a, byte(seq)}})
			}
		}
	}()
	t.Cleanup(func() { close(stop); <-done })
}

// bundleOnly rewrites every m-section but the first as RFC 9143
// bundle-only: port 0, a=bundle-only, no candidates. This is the layout
// GStreamer's webrtcbin offers by default.
func bundleOnly(offer string) string {
	parts := strings.Split(offer, "\r\nm=")
	for i := 2; i < len(parts); i++ {
		lines := strings.Split(parts[i], "\r\n")
		f := strings.Fields(lines[0])
		f[1] = "0"
		out := []string{strings.Join(f, " "), "a=bundle-only"}
		for _, l := range lines[1:] {
			if !strings.HasPrefix(l, "a=candidate") && l != "a=end-of-candidates" {
				out = append(out, l)
			}
		}
		parts[i] = strings.Join(out, "\r\n")
	}
	return strings.Join(parts, "\r\nm=")
}

func answerWith(t *testing.T, pc *webrtc.PeerConnection, answer string) {
	t.Helper()
	if err := pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: answer}); err != nil {
		t.Fatal(err)
	}
}

func ctx10(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// Every m-section counts for the permission check, bundle-only ones too,
// and only what the offer sends is asked for.
func TestWHIPChecksEverySectionWhateverItsPort(t *testing.T) {
	h := startSFU(t)
	h.auth.refuse("camera-only", signal.PermPublishMic)
	h.auth.refuse("mic-only", signal.PermPublishCamera)

	pc := directPeer(t)
	sendTrack(t, pc, vp8, "video")
	sendTrack(t, pc, opus, "audio")
	offer := bundleOnly(mediatest.Offer(t, pc))
	if !strings.Contains(offer, "m=audio 0 ") || !strings.Contains(offer, "a=bundle-only") {
		t.Fatalf("offer is not bundle-only:\n%s", offer)
	}
	_, _, err := h.sfu.Publish(ctx10(t), "r1", sfu.ParticipantInfo{UserID: "camera-only"}, offer)
	var fb *storage.ForbiddenError
	if !errors.As(err, &fb) || fb.Permission != signal.PermPublishMic {
		t.Fatalf("video + bundle-only audio without the microphone: %v, want refusal naming %s", err, signal.PermPublishMic)
	}
	if r := h.sfu.Room("r1"); r != nil && len(r.Participants()) != 0 {
		t.Errorf("refused publisher is in the room: %v", r.Participants())
	}

	// Audio alone needs the microphone only.
	audio := directPeer(t)
	sendTrack(t, audio, opus, "audio")
	p, answer, err := h.sfu.Publish(ctx10(t), "r1", sfu.ParticipantInfo{UserID: "mic-only"}, mediatest.Offer(t, audio))
	if err != nil {
		t.Fatalf("audio-only publish by a user without the camera: %v", err)
	}
	defer p.Leave()
	answerWith(t, audio, answer)
}

// Offers in codecs the SFU does not take are refused with
// ErrUnsupported naming what was offered and what is supported.
func TestDirectRefusesOffersWithoutACommonCodec(t *testing.T) {
	h := startSFU(t)
	h265 := webrtc.RTPCodecParameters{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeH265, ClockRate: 90000}, PayloadType: 100}
	pcmu := webrtc.RTPCodecParameters{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypePCMU, ClockRate: 8000}, PayloadType: 0}
	pc := directPeer(t, h265, pcmu)
	sendTrack(t, pc, h265.RTPCodecCapability, "video")
	sendTrack(t, pc, pcmu.RTPCodecCapability, "audio")
	_, _, err := h.sfu.Publish(ctx10(t), "r2", sfu.ParticipantInfo{UserID: "u"}, mediatest.Offer(t, pc))
	if !errors.Is(err, storage.ErrUnsupported) || !strings.Contains(err.Error(), "H265") || !strings.Contains(err.Error(), "VP8") {
		t.Fatalf("H.265 + PCMU offer: %v, want ErrUnsupported naming H265 and VP8", err)
	}

	// A VP8 publisher, and a player that takes H.264 only.
	pub := directPeer(t)
	video := sendTrack(t, pub, vp8, "video")
	p, answer, err := h.sfu.Publish(ctx10(t), "r2", sfu.ParticipantInfo{UserID: "pub"}, mediatest.Offer(t, pub))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Leave()
	answerWith(t, pub, answer)
	feed(t, video)
	testutil.Eventually(t, 10*time.Second, "the VP8 track in the room", func() bool { return h.metric("siteline_sfu_tracks") == 1 })
	h264 := webrtc.RTPCodecParameters{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeH264, ClockRate: 90000,
		SDPFmtpLine: "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f"}, PayloadType: 102}
	player := directPeer(t, h264)
	if _, err := player.AddTransceiverFromKind(webrtc.RTPCodecTypeVideo, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionRecvonly}); err != nil {
		t.Fatal(err)
	}
	_, _, err = h.sfu.Play(ctx10(t), "r2", sfu.ParticipantInfo{UserID: "viewer"}, mediatest.Offer(t, player))
	if !errors.Is(err, storage.ErrUnsupported) || !strings.Contains(err.Error(), "H264") || !strings.Contains(err.Error(), "VP8") {
		t.Fatalf("H.264 player of a VP8 call: %v, want ErrUnsupported naming H264 and VP8", err)
	}
	if got := len(h.sfu.Room("r2").Participants()); got != 1 {
		t.Errorf("room has %d participants after the refusal, want the publisher alone", got)
	}
}

// A WHEP offer in GStreamer's default layout, audio first and video
// bundle-only, gets video.
func TestWHEPAnswersBundleOnlySections(t *testing.T) {
	h := startSFU(t)
	pub := directPeer(t)
	video := sendTrack(t, pub, vp8, "video")
	audio := sendTrack(t, pub, opus, "audio")
	p, answer, err := h.sfu.Publish(ctx10(t), "r3", sfu.ParticipantInfo{UserID: "pub"}, mediatest.Offer(t, pub))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Leave()
	answerWith(t, pub, answer)
	feed(t, video, audio)
	testutil.Eventually(t, 10*time.Second, "both tracks in the room", func() bool { return h.metric("siteline_sfu_tracks") == 2 })

	player := directPeer(t)
	for _, k := range []webrtc.RTPCodecType{webrtc.RTPCodecTypeAudio, webrtc.RTPCodecTypeVideo} {
		if _, err := player.AddTransceiverFromKind(k, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionRecvonly}); err != nil {
			t.Fatal(err)
		}
	}
	got := make(chan string, 4)
	player.OnTrack(func(tr *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
		if _, _, err := tr.ReadRTP(); err == nil {
			got <- tr.Kind().String()
		}
	})
	offer := bundleOnly(mediatest.Offer(t, player))
	if !strings.Contains(offer, "m=video 0 ") {
		t.Fatalf("offer is not bundle-only:\n%s", offer)
	}
	pp, pAnswer, err := h.sfu.Play(ctx10(t), "r3", sfu.ParticipantInfo{UserID: "viewer"}, offer)
	if err != nil {
		t.Fatal(err)
	}
	defer pp.Leave()
	if n := strings.Count(pAnswer, "a=sendonly"); n != 2 {
		t.Errorf("answer sends %d sections, want 2:\n%s", n, pAnswer)
	}
	answerWith(t, player, pAnswer)
	kinds := map[string]bool{}
	deadline := time.After(10 * time.Second)
	for len(kinds) < 2 {
		select {
		case k := <-got:
			kinds[k] = true
		case <-deadline:
			t.Fatalf("player received %v, want audio and video", kinds)
		}
	}
}

// A WHIP session whose peer goes away without DELETE, or whose ICE never
// connects, is removed with its tracks.
func TestDirectSessionsWithoutAConnectionAreRemoved(t *testing.T) {
	h := startSFU(t, func(c *sfu.Config) { c.DirectTimeout = 2 * time.Second })
	watcher := h.join("watcher", "r4", client.JoinOptions{})

	pub := directPeer(t)
	video := sendTrack(t, pub, vp8, "video")
	p, answer, err := h.sfu.Publish(ctx10(t), "r4", sfu.ParticipantInfo{UserID: "pub"}, mediatest.Offer(t, pub))
	if err != nil {
		t.Fatal(err)
	}
	answerWith(t, pub, answer)
	feed(t, video)
	next(t, watcher, "track published", isType(signal.TypeTrackPublished))
	// The publisher vanishes: no DELETE, no leave.
	_ = pub.Close()
	select {
	case <-p.Done():
	case <-time.After(15 * time.Second):
		t.Fatal("publisher closed without DELETE is still in the room")
	}
	next(t, watcher, "track unpublished", isType(signal.TypeTrackUnpublished))
	if n := h.metric("siteline_sfu_tracks"); n != 0 {
		t.Errorf("tracks after the publisher vanished = %v", n)
	}

	// An offer whose candidates lead nowhere never connects.
	lost := directPeer(t)
	sendTrack(t, lost, vp8, "video")
	offer := regexp.MustCompile(`a=candidate:[^\r]*\r\n`).ReplaceAllString(mediatest.Offer(t, lost), "")
	start := time.Now()
	q, _, err := h.sfu.Publish(ctx10(t), "r4", sfu.ParticipantInfo{UserID: "lost"}, offer)
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-q.Done():
		if d := time.Since(start); d < 2*time.Second {
			t.Errorf("session removed after %v, before its timeout", d)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("a session that never connected is still in the room")
	}
	if got := h.sfu.Room("r4").Participants(); len(got) != 1 {
		t.Errorf("participants left = %v, want the watcher alone", got)
	}
}

// The answer's candidates are the configured addresses: the UDP socket
// and the ICE-TCP listener, passive, and no active TCP candidate on every
// interface even when the client offers a passive TCP one.
func TestDirectAnswerCandidatesAreTheConfiguredOnes(t *testing.T) {
	var udp, tcp string
	h := startSFU(t, func(c *sfu.Config) {
		udp = c.UDPConn.LocalAddr().String()
		tcp = c.TCPListener.Addr().String()
	})
	pc := directPeer(t)
	sendTrack(t, pc, vp8, "video")
	offer := mediatest.Offer(t, pc)
	// A passive TCP candidate, as libnice offers.
	offer = strings.Replace(offer, "a=end-of-candidates", "a=candidate:9 1 tcp 1518280447 127.0.0.1 9 typ host tcptype active\r\n"+
		"a=candidate:10 1 tcp 1518280446 127.0.0.1 40000 typ host tcptype passive\r\na=end-of-candidates", 1)
	p, answer, err := h.sfu.Publish(ctx10(t), "r5", sfu.ParticipantInfo{UserID: "u"}, offer)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Leave()
	cands := regexp.MustCompile(`a=candidate:\S+ \d+ (\S+) \d+ (\S+) (\d+) typ host(?: tcptype (\S+))?`).FindAllStringSubmatch(answer, -1)
	if len(cands) == 0 {
		t.Fatalf("answer has no candidates:\n%s", answer)
	}
	seen := map[string]bool{}
	for _, c := range cands {
		addr := net.JoinHostPort(c[2], c[3])
		switch strings.ToLower(c[1]) {
		case "udp":
			if addr != udp {
				t.Errorf("UDP candidate %s, want %s only", addr, udp)
			}
		case "tcp":
			if addr != tcp || c[4] != "passive" {
				t.Errorf("TCP candidate %s %s, want %s passive only", addr, c[4], tcp)
			}
		}
		seen[strings.ToLower(c[1])] = true
	}
	if !seen["udp"] || !seen["tcp"] {
		t.Errorf("answer's candidates cover %v, want udp and tcp:\n%s", seen, answer)
	}
	if strings.Contains(answer, "typ srflx") || strings.Contains(answer, "typ relay") {
		t.Errorf("answer has candidates other than host ones:\n%s", answer)
	}
}
