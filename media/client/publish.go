package client

import (
	"context"
	"fmt"
	"maps"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/sdp/v3"
	"github.com/pion/webrtc/v4"
)

// TrackSpec describes a synthetic track to publish.
type TrackSpec struct {
	// Kind is "audio" (Opus, one packet each 20 ms) or "video" (VP8).
	Kind string
	// ID is the track id; empty means the kind.
	ID string
	// Layers are simulcast rids, lowest quality first; empty for one layer.
	Layers []string
	// FPS is video frames per second; 0 means 30.
	FPS int
	// PacketsPerFrame is the packets in each video frame of the lowest
	// layer; layer i sends (i+1) times as many. 0 means 2.
	PacketsPerFrame int
	// PacketSize is the payload size in bytes; 0 means 1000 for video and
	// 100 for audio.
	PacketSize int
	// KeyframeEvery is the number of frames between unrequested
	// keyframes; 0 means 60.
	KeyframeEvery int
	// Screen marks a video track as a screen share (a=content:slides in
	// the offer), which the SFU lets through only with the screen-share
	// permission.
	Screen bool
}

// Publication is a track being published. It sends until the client
// closes.
type Publication struct {
	spec   TrackSpec
	tracks []*webrtc.TrackLocalStaticRTP
	sender *webrtc.RTPSender
	tr     *webrtc.RTPTransceiver
	sent   []atomic.Uint64 // packets per layer
	plis   atomic.Uint64
	key    atomic.Bool // a keyframe was requested
	done   chan struct{}
	once   sync.Once
}

// Publish adds synthetic tracks and negotiates them with the SFU in one
// offer. Packets flow from a ticker until Close. A refusal comes back as
// an *Error.
func (c *Client) Publish(ctx context.Context, specs ...TrackSpec) ([]*Publication, error) {
	// pion restarts ICE on a renegotiation that comes before the first
	// connection, so a second offer waits for it.
	if c.up.CurrentRemoteDescription() != nil {
		if err := c.waitConnected(ctx, c.up); err != nil {
			return nil, fmt.Errorf("publish: %w", err)
		}
	}
	pubs := make([]*Publication, 0, len(specs))
	for _, spec := range specs {
		pub, err := c.addTrack(spec)
		if err != nil {
			return nil, err
		}
		pubs = append(pubs, pub)
	}
	if err := c.negotiatePublish(ctx, false); err != nil {
		for _, pub := range pubs {
			_ = c.up.RemoveTrack(pub.sender)
		}
		return nil, err
	}
	c.mu.Lock()
	c.sentPubs = append(c.sentPubs, pubs...)
	c.mu.Unlock()
	for _, pub := range pubs {
		// Each simulcast encoding has its own RTCP stream, read apart:
		// its keyframe requests and NACKs (which the responder only
		// sees when read) never come through ReadRTCP.
		for _, t := range pub.tracks {
			c.wg.Add(1)
			go func() { defer c.wg.Done(); pub.rtcpLoop(t.RID()) }()
		}
		c.wg.Add(1)
		go func() { defer c.wg.Done(); pub.sendLoop() }()
	}
	return pubs, nil
}

// waitConnected waits until pc's ICE is connected.
func (c *Client) waitConnected(ctx context.Context, pc *webrtc.PeerConnection) error {
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for {
		switch pc.ICEConnectionState() {
		case webrtc.ICEConnectionStateConnected, webrtc.ICEConnectionStateCompleted:
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("wait for connection: %w", ctx.Err())
		case <-tick.C:
		}
	}
}

// addTrack adds the transceiver of one synthetic track.
func (c *Client) addTrack(spec TrackSpec) (*Publication, error) {
	if spec.ID == "" {
		spec.ID = spec.Kind
	}
	if spec.FPS == 0 {
		spec.FPS = 30
	}
	if spec.PacketsPerFrame == 0 {
		spec.PacketsPerFrame = 2
	}
	if spec.KeyframeEvery == 0 {
		spec.KeyframeEvery = 60
	}
	codec := webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8, ClockRate: 90000}
	if spec.Kind == "audio" {
		codec = webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2}
		spec.Layers = nil
		if spec.PacketSize == 0 {
			spec.PacketSize = 100
		}
	} else if spec.PacketSize == 0 {
		spec.PacketSize = 1000
	}
	rids := spec.Layers
	if len(rids) == 0 {
		rids = []string{""}
	}
	pub := &Publication{spec: spec, sent: make([]atomic.Uint64, len(rids)), done: make(chan struct{})}
	if spec.Screen {
		c.mu.Lock()
		c.screens[spec.ID] = true
		c.mu.Unlock()
	}
	for _, rid := range rids {
		var opts []func(*webrtc.TrackLocalStaticRTP)
		if rid != "" {
			opts = append(opts, webrtc.WithRTPStreamID(rid))
		}
		t, err := webrtc.NewTrackLocalStaticRTP(codec, spec.ID, "stream-"+spec.ID, opts...)
		if err != nil {
			return nil, fmt.Errorf("publish %s: %w", spec.ID, err)
		}
		pub.tracks = append(pub.tracks, t)
	}
	tr, err := c.up.AddTransceiverFromTrack(pub.tracks[0], webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionSendonly})
	if err != nil {
		return nil, fmt.Errorf("publish %s: %w", spec.ID, err)
	}
	pub.sender, pub.tr = tr.Sender(), tr
	for _, t := range pub.tracks[1:] {
		if err := pub.sender.AddEncoding(t); err != nil {
			return nil, fmt.Errorf("publish %s layer %s: %w", spec.ID, t.RID(), err)
		}
	}
	return pub, nil
}

// Sent returns the packets sent on each layer.
func (p *Publication) Sent() []uint64 {
	out := make([]uint64, len(p.sent))
	for i := range p.sent {
		out[i] = p.sent[i].Load()
	}
	return out
}

// KeyframeRequests returns the PLIs and FIRs received for this track.
func (p *Publication) KeyframeRequests() uint64 { return p.plis.Load() }

func (p *Publication) stop() { p.once.Do(func() { close(p.done) }) }

// rtcpLoop reads the RTCP of the encoding rid ("" for a track without
// simulcast).
func (p *Publication) rtcpLoop(rid string) {
	for {
		var pkts []rtcp.Packet
		var err error
		if rid == "" {
			pkts, _, err = p.sender.ReadRTCP()
		} else {
			pkts, _, err = p.sender.ReadSimulcastRTCP(rid)
		}
		if err != nil {
			return
		}
		for _, pkt := range pkts {
			switch pkt.(type) {
			case *rtcp.PictureLossIndication, *rtcp.FullIntraRequest:
				p.plis.Add(1)
				p.key.Store(true)
			}
		}
	}
}

// sendLoop writes one video frame per layer each 1/FPS, or one audio
// packet each 20 ms, with increasing sequence numbers and timestamps.
func (p *Publication) sendLoop() {
	audio := p.spec.Kind == "audio"
	interval := time.Second / time.Duration(p.spec.FPS)
	step := uint32(90000 / p.spec.FPS)
	if audio {
		interval, step = 20*time.Millisecond, 960
	}
	// pion does not mark simulcast packets with the MID and RID header
	// extensions, as browsers do; without them the SFU cannot tell the
	// layers' SSRCs apart (they are not in the offer) and ignores them.
	var midID, ridID uint8
	if p.tracks[0].RID() != "" {
		for _, e := range p.sender.GetParameters().HeaderExtensions {
			switch e.URI {
			case sdp.SDESMidURI:
				midID = uint8(e.ID) //nolint:gosec // negotiated ids are 1-14
			case sdp.SDESRTPStreamIDURI:
				ridID = uint8(e.ID) //nolint:gosec // negotiated ids are 1-14
			}
		}
	}
	mid := p.tr.Mid()
	seq := make([]uint16, len(p.tracks))
	ts := make([]uint32, len(p.tracks))
	for i := range p.tracks {
		seq[i], ts[i] = uint16(rand.Uint32()), rand.Uint32()
	}
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for frame := 0; ; frame++ {
		select {
		case <-p.done:
			return
		case <-tick.C:
		}
		key := frame%p.spec.KeyframeEvery == 0 || p.key.Swap(false)
		now := time.Now()
		for i, t := range p.tracks {
			n := 1
			if !audio {
				n = p.spec.PacketsPerFrame * (i + 1)
			}
			for k := 0; k < n; k++ {
				var payload []byte
				if audio {
					payload = opusPayload(p.spec.PacketSize, now)
				} else {
					payload = vp8LayerPayload(k == 0, key, p.spec.PacketSize, now, i)
				}
				pkt := &rtp.Packet{Header: rtp.Header{
					Version: 2, Marker: k == n-1, SequenceNumber: seq[i], Timestamp: ts[i],
				}, Payload: payload}
				seq[i]++
				if midID != 0 && ridID != 0 {
					_ = pkt.Header.SetExtension(midID, []byte(mid))
					_ = pkt.Header.SetExtension(ridID, []byte(t.RID()))
				}
				if err := t.WriteRTP(pkt); err == nil {
					p.sent[i].Add(1)
				}
			}
			ts[i] += step
		}
	}
}

// markScreens adds a=content:slides to the video sections of offer that
// carry a track published as a screen; the local description stays as
// pion made it.
func (c *Client) markScreens(offer string) (string, error) {
	c.mu.Lock()
	screens := maps.Clone(c.screens)
	c.mu.Unlock()
	if len(screens) == 0 {
		return offer, nil
	}
	var sd sdp.SessionDescription
	if err := sd.UnmarshalString(offer); err != nil {
		return "", fmt.Errorf("parse publish offer: %w", err)
	}
	for _, md := range sd.MediaDescriptions {
		if md.MediaName.Media != "video" {
			continue
		}
		for _, a := range md.Attributes {
			if f := strings.Fields(a.Value); a.Key == "msid" && len(f) == 2 && screens[f[1]] {
				md.WithValueAttribute("content", "slides")
				break
			}
		}
	}
	b, err := sd.Marshal()
	if err != nil {
		return "", fmt.Errorf("write publish offer: %w", err)
	}
	return string(b), nil
}
