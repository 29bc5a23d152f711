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

// direction tells the two peer connections of a participant apart: each
// gets only the interceptors its direction needs, since every interceptor
// costs per packet or runs its own timer per connection.
type direction int

const (
	publish   direction = iota // media from the participant
	subscribe                  // media to the participant
)

// newPeerConnection builds a peer connection with its own media engine and
// interceptors.
//
// The publish side (media in): NACK generator (the SFU asks the publisher
// for what it lost), receiver reports, TWCC feedback for the publisher's
// own bandwidth estimate, simulcast header extensions.
//
// The subscribe side (media out): sender reports, and on video only the
// transport-wide sequence number with a send-side bandwidth estimator (GCC,
// no pacing) over its feedback, returned for the layer choice. Audio is left
// out of it: its packets are half of a call's and its rate does not change
// with the estimate. What subscribers lose is resent from each layer's
// shared cache (downTrack.retransmit), not from a per-subscriber buffer.
func (s *SFU) newPeerConnection(dir direction) (*webrtc.PeerConnection, cc.BandwidthEstimator, error) {
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
	var bwe cc.BandwidthEstimator
	var err error
	if dir == publish {
		err = s.publishInterceptors(me, reg)
	} else {
		err = s.subscribeInterceptors(me, reg, &bwe)
	}
	if err != nil {
		return nil, nil, err
	}

	s.mu.Lock()
	se := s.settings
	s.mu.Unlock()
	if dir == subscribe {
		se.DetachDataChannels() // the chat channel's reader: Participant.readChat
	}
	api := webrtc.NewAPI(webrtc.WithMediaEngine(me), webrtc.WithInterceptorRegistry(reg), webrtc.WithSettingEngine(se))
	pc, err := api.NewPeerConnection(webrtc.Configuration{SDPSemantics: webrtc.SDPSemanticsUnifiedPlan})
	if err != nil {
		return nil, nil, fmt.Errorf("new peer connection: %w", err)
	}
	return pc, bwe, nil
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

func (s *SFU) subscribeInterceptors(me *webrtc.MediaEngine, reg *interceptor.Registry, bwe *cc.BandwidthEstimator) error {
	sender, err := report.NewSenderInterceptor()
	if err != nil {
		return fmt.Errorf("configure sender reports: %w", err)
	}
	reg.Add(sender)
	me.RegisterFeedback(webrtc.RTCPFeedback{Type: webrtc.TypeRTCPFBTransportCC}, webrtc.RTPCodecTypeVideo)
	if err := me.RegisterHeaderExtension(webrtc.RTPHeaderExtensionCapability{URI: sdp.TransportCCURI}, webrtc.RTPCodecTypeVideo); err != nil {
		return fmt.Errorf("configure twcc: %w", err)
	}
	ccf, err := cc.NewInterceptor(func() (cc.BandwidthEstimator, error) {
		return gcc.NewSendSideBWE(
			gcc.SendSideBWEInitialBitrate(1_000_000),
			gcc.SendSideBWEMaxBitrate(20_000_000),
			gcc.SendSideBWEPacer(gcc.NewNoOpPacer()),
		)
	})
	if err != nil {
		return fmt.Errorf("configure bandwidth estimation: %w", err)
	}
	ccf.OnNewPeerConnection(func(_ string, e cc.BandwidthEstimator) { *bwe = e })
	reg.Add(twccOnlyFactory{ccf})
	// After the estimator, so that the sequence number it reads is
	// already in the packet (interceptors added later write first).
	reg.Add(stampFactory{})
	return nil
}

// twccOnlyFactory wraps the congestion controller so that it only takes
// the streams that negotiated the transport-wide CC header extension: the
// controller refuses to write a packet without it, and a subscriber that
// did not negotiate TWCC must still get media (its estimate then comes
// from REMB or LimitBitrate).
type twccOnlyFactory struct{ f *cc.InterceptorFactory }

func (w twccOnlyFactory) NewInterceptor(id string) (interceptor.Interceptor, error) {
	i, err := w.f.NewInterceptor(id)
	if err != nil {
		return nil, err
	}
	return twccOnly{i}, nil
}

type twccOnly struct{ interceptor.Interceptor }

func (t twccOnly) BindLocalStream(info *interceptor.StreamInfo, w interceptor.RTPWriter) interceptor.RTPWriter {
	for _, e := range info.RTPHeaderExtensions {
		if e.URI == sdp.TransportCCURI {
			return t.Interceptor.BindLocalStream(info, w)
		}
	}
	return w
}
