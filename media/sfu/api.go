package sfu

import (
	"fmt"

	"github.com/pion/interceptor"
	"github.com/pion/interceptor/pkg/cc"
	"github.com/pion/interceptor/pkg/gcc"
	"github.com/pion/interceptor/pkg/nack"
	"github.com/pion/interceptor/pkg/report"
	"github.com/pion/sdp/v3"
	"github.com/pion/webrtc/v4"
)

// Codecs the SFU accepts and forwards. No RTX: retransmissions come on
// the media SSRC, which keeps forwarding a single stream per layer.
func videoCodecs() []webrtc.RTPCodecParameters {
	return []webrtc.RTPCodecParameters{
		{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8, ClockRate: 90000}, PayloadType: 96},
		{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP9, ClockRate: 90000, SDPFmtpLine: "profile-id=0"}, PayloadType: 98},
		{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeH264, ClockRate: 90000,
			SDPFmtpLine: "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f"}, PayloadType: 102},
		{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeH264, ClockRate: 90000,
			SDPFmtpLine: "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42001f"}, PayloadType: 108},
	}
}

func audioCodecs() []webrtc.RTPCodecParameters {
	return []webrtc.RTPCodecParameters{
		{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2,
			SDPFmtpLine: "minptime=10;useinbandfec=1"}, PayloadType: 111},
	}
}

// initialEstimate is a subscriber's send-side estimate, in bit/s, before
// any feedback.
const initialEstimate = 1_000_000

// direction tells the two peer connections of a participant apart: each
// gets only the interceptors its direction needs, since every interceptor
// costs per packet or runs its own timer per connection.
type direction int

const (
	publish   direction = iota // media from the participant
	subscribe                  // media to the participant
)

func (d direction) String() string {
	if d == publish {
		return "publish"
	}
	return "subscribe"
}

// newPeerConnection builds a peer connection with its own media engine and
// interceptors.
//
// The publish side (media in): NACK generator (the SFU asks the publisher
// for what it lost), receiver reports, TWCC feedback for the publisher's
// own bandwidth estimate, simulcast header extensions.
//
// The subscribe side (media out): sender reports, and on video only the
// transport-wide sequence number with a send-side bandwidth estimator (GCC,
// no pacing) over its feedback, returned for the layer choice, run only
// while it has one to make (sendSide) and built the first time it runs
// (estimator.go). Audio is left out of it: its packets are half of a
// call's and its rate does not change with the estimate.
// What subscribers lose is resent from each layer's shared cache
// (downTrack.retransmit), not from a per-subscriber buffer.
func (s *SFU) newPeerConnection(dir direction) (*webrtc.PeerConnection, *sendSide, error) {
	me := &webrtc.MediaEngine{}
	for _, c := range videoCodecs() {
		c.RTCPFeedback = []webrtc.RTCPFeedback{{Type: "goog-remb"}, {Type: "ccm", Parameter: "fir"}, {Type: "nack", Parameter: "pli"}}
		if err := me.RegisterCodec(c, webrtc.RTPCodecTypeVideo); err != nil {
			return nil, nil, fmt.Errorf("register codec %s: %w", c.MimeType, err)
		}
	}
	for _, c := range audioCodecs() {
		if err := me.RegisterCodec(c, webrtc.RTPCodecTypeAudio); err != nil {
			return nil, nil, fmt.Errorf("register codec %s: %w", c.MimeType, err)
		}
	}
	me.RegisterFeedback(webrtc.RTCPFeedback{Type: "nack"}, webrtc.RTPCodecTypeVideo)
	reg := &interceptor.Registry{}
	reg.Add(nackCounterFactory{s.metrics})
	var side *sendSide
	var err error
	if dir == publish {
		err = s.publishInterceptors(me, reg)
	} else {
		side = &sendSide{}
		err = s.subscribeInterceptors(me, reg, side)
	}
	if err != nil {
		return nil, nil, err
	}

	s.mu.Lock()
	se := s.settings
	s.mu.Unlock()
	api := webrtc.NewAPI(webrtc.WithMediaEngine(me), webrtc.WithInterceptorRegistry(reg), webrtc.WithSettingEngine(se))
	pc, err := api.NewPeerConnection(webrtc.Configuration{SDPSemantics: webrtc.SDPSemanticsUnifiedPlan})
	if err != nil {
		return nil, nil, fmt.Errorf("new peer connection: %w", err)
	}
	s.metrics.conns.WithLabelValues(dir.String()).Inc()
	return pc, side, nil
}

// closeConn closes a connection newPeerConnection built.
func (s *SFU) closeConn(pc *webrtc.PeerConnection, dir direction) {
	_ = pc.Close()
	s.metrics.conns.WithLabelValues(dir.String()).Dec()
}

func (s *SFU) publishInterceptors(me *webrtc.MediaEngine, reg *interceptor.Registry) error {
	nackGen, err := nack.NewGeneratorInterceptor()
	if err != nil {
		return fmt.Errorf("configure nack: %w", err)
	}
	reg.Add(nackGen)
	receiver, err := report.NewReceiverInterceptor()
	if err != nil {
		return fmt.Errorf("configure receiver reports: %w", err)
	}
	reg.Add(receiver)
	if err := webrtc.ConfigureSimulcastExtensionHeaders(me); err != nil {
		return fmt.Errorf("configure simulcast: %w", err)
	}
	if err := webrtc.ConfigureTWCCSender(me, reg); err != nil {
		return fmt.Errorf("configure twcc feedback: %w", err)
	}
	return nil
}

func (s *SFU) subscribeInterceptors(me *webrtc.MediaEngine, reg *interceptor.Registry, side *sendSide) error {
	sender, err := report.NewSenderInterceptor()
	if err != nil {
		return fmt.Errorf("configure sender reports: %w", err)
	}
	reg.Add(sender)
	me.RegisterFeedback(webrtc.RTCPFeedback{Type: webrtc.TypeRTCPFBTransportCC}, webrtc.RTPCodecTypeVideo)
	if err := me.RegisterHeaderExtension(webrtc.RTPHeaderExtensionCapability{URI: sdp.TransportCCURI}, webrtc.RTPCodecTypeVideo); err != nil {
		return fmt.Errorf("configure twcc: %w", err)
	}
	// The estimator is built by the first packet numbered for it
	// (estimator.go): a subscriber that never receives a simulcast track
	// never has one.
	ccf, err := cc.NewInterceptor(func() (cc.BandwidthEstimator, error) {
		return newLazyEstimator(initialEstimate, func() (cc.BandwidthEstimator, error) {
			return gcc.NewSendSideBWE(
				gcc.SendSideBWEInitialBitrate(initialEstimate),
				gcc.SendSideBWEMaxBitrate(20_000_000),
				gcc.SendSideBWEPacer(gcc.NewNoOpPacer()),
			)
		}), nil
	})
	if err != nil {
		return fmt.Errorf("configure bandwidth estimation: %w", err)
	}
	ccf.OnNewPeerConnection(func(_ string, e cc.BandwidthEstimator) { side.bwe = e })
	// Last, so that it writes first: the number is in the packet before
	// the estimator records it.
	reg.Add(stampFactory{side: side, est: ccf})
	return nil
}
