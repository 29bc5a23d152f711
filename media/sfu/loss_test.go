package sfu_test

import (
	"fmt"
	"testing"
	"time"

	"siteline/internal/testutil"
	"siteline/media/client"
	"siteline/media/signal"
)

// TestNackRecoversLoss puts a lossy UDP proxy between a publisher and the
// SFU: a deterministic pseudo-random share of the publisher's RTP packets
// never reach the SFU (retransmissions included; STUN, DTLS and RTCP always
// pass). The SFU's NACKs must get the publisher to resend them, so that a
// subscriber behind a clean link sees the sequence (almost) complete and
// at (nearly) the rate it was sent.
//
// Floors, for 60 packets/s sent (30 frames/s of 2 packets) over a window
// of lossWindow packets:
//   - distinct packets received / sequence span: at least 99% at 5% loss,
//     at least 95% at 20% (the last ~200 ms may still be in repair);
//   - distinct packets received per second: at least 48 (80% of 60) at
//     both rates, that is 24 of the 30 frames/s;
//   - the SFU sent NACKs and counted the packets missing on arrival.
func TestNackRecoversLoss(t *testing.T) {
	testutil.System(t)
	for _, tt := range []struct {
		loss, completeFloor float64
	}{
		{0.05, 0.99},
		{0.20, 0.95},
	} {
		t.Run(fmt.Sprintf("loss %.0f%%", tt.loss*100), func(t *testing.T) {
			testNackRecovers(t, tt.loss, tt.completeFloor)
		})
	}
}

const (
	lossWindow    = 240 // packets, 4 s
	lossRateFloor = 48.0
)

func testNackRecovers(t *testing.T, loss, completeFloor float64) {
	h := startSFU(t)
	proxy := newUDPProxy(t, h.udp, loss, 0, 7)
	pub := h.connectVia("tech", proxy)
	if err := pub.Join(t.Context(), "loss", client.JoinOptions{}); err != nil {
		t.Fatal(err)
	}
	sub := h.join("expert", "loss", client.JoinOptions{})
	h.publish(pub, client.TrackSpec{Kind: "video", PacketSize: 600})

	v := trackOf(t, sub, pub.ID(), "video")
	testutil.Eventually(t, 15*time.Second, fmt.Sprintf("%d packets received", lossWindow), func() bool {
		s := v.Stats()
		return s.Unique+s.Missing >= lossWindow
	})
	// Repair lags loss by a NACK interval (100 ms) and a round trip, so
	// the share may be below the floor for a moment: poll.
	var s client.TrackStats
	share := func() float64 {
		s = v.Stats()
		return float64(s.Unique) / float64(s.Unique+s.Missing)
	}
	testutil.Eventually(t, 5*time.Second, fmt.Sprintf("at least %.0f%% of the sequence received", completeFloor*100), func() bool {
		return share() >= completeFloor
	})
	rate := s.Rate()
	sent, dropped := proxy.rtpUp.Load(), proxy.droppedUp.Load()
	lost, nacks := h.metric("siteline_sfu_rtp_packets_lost_total"), h.metricWith("siteline_sfu_nacks_total", "direction", "sent")
	t.Logf("proxy: %d RTP packets from the publisher, %d dropped (%.1f%%), %d other datagrams up, %d down",
		sent, dropped, 100*float64(dropped)/float64(sent), proxy.otherUp.Load(), proxy.otherDown.Load()+proxy.rtpDown.Load())
	t.Logf("subscriber: %d distinct of %d (%.2f%%), %d duplicates, %.1f packets/s, latency avg %v max %v",
		s.Unique, s.Unique+s.Missing, 100*share(), s.Duplicates, rate, s.LatencyAvg, s.LatencyMax)
	t.Logf("sfu: %v packets missing on arrival, %v packets NACKed to the publisher", lost, nacks)

	if dropped == 0 || float64(dropped) < loss/2*float64(sent) || float64(dropped) > loss*2*float64(sent) {
		t.Errorf("the proxy dropped %d of %d RTP packets, want about %.0f%%", dropped, sent, loss*100)
	}
	if rate < lossRateFloor {
		t.Errorf("subscriber's rate %.1f packets/s, want at least %.0f", rate, lossRateFloor)
	}
	if lost == 0 {
		t.Error("siteline_sfu_rtp_packets_lost_total did not grow")
	}
	if nacks == 0 {
		t.Error("siteline_sfu_nacks_total{direction=sent} did not grow")
	}
	// Retransmissions filled the gaps: fewer are missing at the
	// subscriber than were missing on arrival at the SFU.
	if float64(s.Missing) >= lost {
		t.Errorf("subscriber misses %d packets, the SFU missed %v on arrival: nothing was recovered", s.Missing, lost)
	}
}

// TestNackToSubscriber drops a share of the SFU's RTP on its way to one
// subscriber: the subscriber NACKs, and the SFU resends from the
// publisher's shared packet cache, so the subscriber sees the sequence
// (almost) complete. Floors as for TestNackRecoversLoss.
func TestNackToSubscriber(t *testing.T) {
	testutil.System(t)
	for _, tt := range []struct {
		loss, completeFloor float64
	}{
		{0.05, 0.99},
		{0.20, 0.95},
	} {
		t.Run(fmt.Sprintf("loss %.0f%%", tt.loss*100), func(t *testing.T) {
			h := startSFU(t)
			proxy := newUDPProxy(t, h.udp, 0, tt.loss, 11)
			pub := h.join("tech", "loss", client.JoinOptions{})
			sub := h.connectConnVia("expert", proxy, signal.TargetSubscribe)
			if err := sub.Join(t.Context(), "loss", client.JoinOptions{}); err != nil {
				t.Fatal(err)
			}
			h.publish(pub, client.TrackSpec{Kind: "video", PacketSize: 600})
			v := trackOf(t, sub, pub.ID(), "video")
			testutil.Eventually(t, 15*time.Second, fmt.Sprintf("%d packets received", lossWindow), func() bool {
				s := v.Stats()
				return s.Unique+s.Missing >= lossWindow
			})
			var s client.TrackStats
			share := func() float64 {
				s = v.Stats()
				return float64(s.Unique) / float64(s.Unique+s.Missing)
			}
			testutil.Eventually(t, 5*time.Second, fmt.Sprintf("at least %.0f%% of the sequence received", tt.completeFloor*100), func() bool {
				return share() >= tt.completeFloor
			})
			sent, dropped := proxy.rtpDown.Load(), proxy.droppedDown.Load()
			resent := h.metricWith("siteline_sfu_retransmits_total", "result", "sent")
			t.Logf("proxy: %d RTP packets to the subscriber, %d dropped (%.1f%%); sfu resent %v; subscriber: %d distinct of %d (%.2f%%), %.1f packets/s",
				sent, dropped, 100*float64(dropped)/float64(sent), resent, s.Unique, s.Unique+s.Missing, 100*share(), s.Rate())
			if dropped == 0 || float64(dropped) < tt.loss/2*float64(sent) {
				t.Errorf("the proxy dropped %d of %d RTP packets, want about %.0f%%", dropped, sent, tt.loss*100)
			}
			if resent == 0 {
				t.Error("siteline_sfu_retransmits_total{result=sent} did not grow")
			}
			if rate := s.Rate(); rate < lossRateFloor {
				t.Errorf("subscriber's rate %.1f packets/s, want at least %.0f", rate, lossRateFloor)
			}
		})
	}
}
