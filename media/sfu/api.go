package sfu

import (
	"fmt"

	"github.com/pion/interceptor"
	"github.com/pion/interceptor/pkg/cc"
	"github.com/pion/interceptor/pkg/gcc"
	"github.com/pion/interceptor/pkg/nack"
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

// newPeerConnection builds a peer connection with its own media engine and
// interceptors: NACK generator and responder, RTCP reports, simulcast
// header extensions, TWCC feedback for what it receives, and TWCC with a
// send-side bandwidth estimator (GCC, no pacing) for what it sends. The
// estimator is returned for the subscribe side's layer choice.
func (s *SFU) newPeerConnection() (*webrtc.PeerConnection, cc.BandwidthEstimator, error) {
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
	reg := &interceptor.Registry{}
	reg.Add(nackCounterFactory{s.metrics})
	// NACKs: a generator asks publishers for what the SFU lost; what
	// subscribers lose is resent from each layer's shared cache (see
	// downTrack.retransmit), not from a per-subscriber responder buffer.
	nackGen, err := nack.NewGeneratorInterceptor()
	if err != nil {
		return nil, nil, fmt.Errorf("configure nack: %w", err)
	}
	me.RegisterFeedback(webrtc.RTCPFeedback{Type: "nack"}, webrtc.RTPCodecTypeVideo)
	reg.Add(nackGen)
	if err := webrtc.ConfigureRTCPReports(reg); err != nil {
		return nil, nil, fmt.Errorf("configure rtcp reports: %w", err)
	}
	if err := webrtc.ConfigureSimulcastExtensionHeaders(me); err != nil {
		return nil, nil, fmt.Errorf("configure simulcast: %w", err)
	}
	if err := webrtc.ConfigureTWCCSender(me, reg); err != nil {
		return nil, nil, fmt.Errorf("configure twcc feedback: %w", err)
	}
	ccf, err := cc.NewInterceptor(func() (cc.BandwidthEstimator, error) {
		return gcc.NewSendSideBWE(
			gcc.SendSideBWEInitialBitrate(1_000_000),
			gcc.SendSideBWEMaxBitrate(20_000_000),
			gcc.SendSideBWEPacer(gcc.NewNoOpPacer()),
		)
	})
	if err != nil {
		return nil, nil, fmt.Errorf("configure bandwidth estimation: %w", err)
	}
	var bwe cc.BandwidthEstimator
	ccf.OnNewPeerConnection(func(_ string, e cc.BandwidthEstimator) { bwe = e })
	reg.Add(twccOnlyFactory{ccf})
	// After the estimator, so that the sequence number it reads is
	// already in the packet (interceptors added later write first).
	if err := webrtc.ConfigureTWCCHeaderExtensionSender(me, reg); err != nil {
		return nil, nil, fmt.Errorf("configure twcc sender: %w", err)
	}

	s.mu.Lock()
	se := s.settings
	s.mu.Unlock()
	api := webrtc.NewAPI(webrtc.WithMediaEngine(me), webrtc.WithInterceptorRegistry(reg), webrtc.WithSettingEngine(se))
	pc, err := api.NewPeerConnection(webrtc.Configuration{SDPSemantics: webrtc.SDPSemanticsUnifiedPlan})
	if err != nil {
		return nil, nil, fmt.Errorf("new peer connection: %w", err)
	}
	return pc, bwe, nil
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
