package mediatest

import (
	"strings"
	"testing"

	"github.com/pion/webrtc/v4"
)

func TestOfferHoldsLoopbackCandidatesOnly(t *testing.T) {
	pc := PeerConnection(t)
	if _, err := pc.AddTransceiverFromKind(webrtc.RTPCodecTypeVideo); err != nil {
		t.Fatal(err)
	}
	sdp := Offer(t, pc)
	if pc.ICEGatheringState() != webrtc.ICEGatheringStateComplete {
		t.Errorf("gathering = %s after Offer, want complete", pc.ICEGatheringState())
	}
	var cands []string
	for line := range strings.Lines(sdp) {
		if strings.HasPrefix(line, "a=candidate:") {
			cands = append(cands, strings.TrimSpace(line))
		}
	}
	if len(cands) == 0 {
		t.Fatalf("offer has no candidates:\n%s", sdp)
	}
	for _, c := range cands {
		if f := strings.Fields(c); len(f) < 5 || f[2] != "udp" || f[4] != "127.0.0.1" {
			t.Errorf("candidate %q: want UDP on 127.0.0.1", c)
		}
	}
}
