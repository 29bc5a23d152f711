package sfu_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"siteline/internal/testutil"
	"siteline/media/client"
	"siteline/media/sfu"
)

// joinAs joins user to room and returns the client with the SFU's side of
// it, for LimitBitrate.
func (h *harness) joinAs(user, room string) (*client.Client, *sfu.Participant) {
	h.t.Helper()
	lb := newLoopback(h.sfu, user)
	c, err := client.New(client.Config{Name: user, LoopbackOnly: true, Logger: testLogger()}, lb)
	if err != nil {
		h.t.Fatal(err)
	}
	h.t.Cleanup(func() { _ = c.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := c.Join(ctx, room, client.JoinOptions{}); err != nil {
		h.t.Fatalf("%s joins %s: %v", user, room, err)
	}
	lb.mu.Lock()
	defer lb.mu.Unlock()
	return c, lb.p
}

// Simulcast layers of the test publisher: 30 frames/s of 2, 4 and 6
// packets of simulcastPacket bytes, about 160, 320 and 480 kbit/s as the
// SFU measures them (headers and extensions included).
const (
	simulcastPacket = 300
	// lowBudget fits the low layer with the up-switch margin (1.25) but
	// not the middle one.
	lowBudget = 250_000
)

// onLayer waits until the newest packets r receives come from layer only,
// for at least n packets in a row, and returns the stats then.
func onLayer(t *testing.T, who string, r *client.Received, layer int, n uint64) client.TrackStats {
	t.Helper()
	var from client.TrackStats
	started := false
	testutil.Eventually(t, 15*time.Second, fmt.Sprintf("%s to receive %d packets of layer %d only", who, n, layer), func() bool {
		s := r.Stats()
		if s.LastLayer != layer {
			started = false
			return false
		}
		if !started {
			from, started = s, true
			return false
		}
		others := uint64(0)
		for i := range s.Layers {
			if i != layer {
				others += s.Layers[i] - from.Layers[i]
			}
		}
		if others > 0 {
			started = false
			return false
		}
		return s.Layers[layer]-from.Layers[layer] >= n
	})
	return r.Stats()
}

// TestSimulcastLayerPerSubscriber publishes three simulcast layers (the
// client's TrackSpec.Layers, one encoding per rid) to two subscribers. The
// one limited below the middle layer's rate gets the low layer, the other
// the high one; swapping the limits swaps the layers, on a keyframe and
// with no gap in the sequence each subscriber sees. The synthetic payload
// names the layer that sent it, so the assertions are on what arrives.
// The unlimited subscriber's budget is the SFU's send-side estimate from
// its TWCC feedback; a REMB from a subscriber lowers it too.
func TestSimulcastLayerPerSubscriber(t *testing.T) {
	testutil.System(t)
	h := startSFU(t)
	pub := h.join("tech", "sim", client.JoinOptions{})
	lowC, lowP := h.joinAs("expert", "sim")
	highC, highP := h.joinAs("lead", "sim")
	lowP.LimitBitrate(lowBudget)

	pubs := h.publish(pub, client.TrackSpec{Kind: "video", Layers: []string{"q", "h", "f"}, PacketSize: simulcastPacket})
	testutil.Eventually(t, 10*time.Second, "every layer sent", func() bool {
		s := pubs[0].Sent()
		return len(s) == 3 && s[0] > 0 && s[1] > 0 && s[2] > 0
	})

	low := trackOf(t, lowC, pub.ID(), "video")
	high := trackOf(t, highC, pub.ID(), "video")
	onLayer(t, "limited subscriber", low, 0, 60)
	onLayer(t, "unlimited subscriber", high, 2, 60)
	complete(t, "limited subscriber", low, 120)
	complete(t, "unlimited subscriber", high, 120)
	t.Logf("before the swap: packets by layer: limited %v, unlimited %v", low.Stats().Layers, high.Stats().Layers)

	// Swap the limits: each subscriber moves to the other's layer, at a
	// keyframe the SFU asks the publisher for, and the writer renumbers
	// so that neither sees a gap.
	switches, plis := h.metric("siteline_sfu_simulcast_switches_total"), pubs[0].KeyframeRequests()
	lowP.LimitBitrate(0)
	highP.LimitBitrate(lowBudget)
	onLayer(t, "formerly limited subscriber", low, 2, 60)
	onLayer(t, "newly limited subscriber", high, 0, 60)
	lowN, highN := low.Stats().Unique, high.Stats().Unique
	complete(t, "formerly limited subscriber", low, lowN)
	complete(t, "newly limited subscriber", high, highN)
	t.Logf("after the swap: packets by layer: formerly limited %v, newly limited %v", low.Stats().Layers, high.Stats().Layers)
	if got := h.metric("siteline_sfu_simulcast_switches_total"); got < switches+2 {
		t.Errorf("siteline_sfu_simulcast_switches_total = %v, want at least %v", got, switches+2)
	}
	if got := pubs[0].KeyframeRequests(); got <= plis {
		t.Errorf("the publisher got %d keyframe requests, no more than before the swap", got)
	}
	// A receiver's own estimate (REMB) lowers the choice as well: the
	// formerly limited subscriber, now unlimited, says it can take only
	// the low layer's rate.
	if err := lowC.SendREMB(lowBudget); err != nil {
		t.Fatal(err)
	}
	onLayer(t, "subscriber sending REMB", low, 0, 60)
	complete(t, "subscriber sending REMB", low, low.Stats().Unique)

	for who, r := range map[string]*client.Received{"formerly limited": low, "newly limited": high} {
		if s := r.Stats(); s.LayerSwitches == 0 || s.BadSwitches != 0 {
			t.Errorf("%s subscriber: %d layer switches, %d of them not on a keyframe; want some, none",
				who, s.LayerSwitches, s.BadSwitches)
		}
	}
}

// TestBandwidthEstimationOnlyWithSimulcast: the send-side estimate only
// chooses simulcast layers, so the SFU numbers a subscriber's packets for
// transport-wide feedback, and runs its estimator, only while that
// subscriber receives a simulcast track. A call of single-layer tracks, as
// the browser publishes, costs no estimation at all.
func TestBandwidthEstimationOnlyWithSimulcast(t *testing.T) {
	testutil.System(t)
	h := startSFU(t)
	const gauge = "siteline_sfu_bandwidth_estimators"
	tech := h.join("tech", "bwe", client.JoinOptions{})
	expert := h.join("expert", "bwe", client.JoinOptions{})
	lead := h.join("lead", "bwe", client.JoinOptions{})
	h.publish(tech, client.TrackSpec{Kind: "video"})
	single := trackOf(t, expert, tech.ID(), "video")
	leadsSingle := trackOf(t, lead, tech.ID(), "video")

	// The lead publishes simulcast: the tech and the expert receive it and
	// start estimating; the lead receives the tech's single layer only.
	h.publish(lead, client.TrackSpec{Kind: "video", Layers: []string{"q", "h", "f"}, PacketSize: simulcastPacket})
	sim := trackOf(t, expert, lead.ID(), "video")
	testutil.Eventually(t, 10*time.Second, gauge+" = 2", func() bool { return h.metric(gauge) == 2 })
	testutil.Eventually(t, 10*time.Second, "numbered packets on both of the expert's tracks", func() bool {
		return sim.Stats().Numbered >= 60 && single.Stats().Numbered >= 60
	})
	from := leadsSingle.Stats()
	testutil.Eventually(t, 10*time.Second, "the lead to receive 60 more packets", func() bool {
		return leadsSingle.Stats().Unique >= from.Unique+60
	})
	if n := leadsSingle.Stats().Numbered; n != 0 || h.metric(gauge) != 2 {
		t.Errorf("the lead, receiving no simulcast track, got %d numbered packets (%s = %v); want none (2)",
			n, gauge, h.metric(gauge))
	}

	// The lead leaves: nobody receives a simulcast track any more, the
	// estimation stops, and the expert's packets leave unnumbered (past
	// the few that were on their way when it stopped).
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := lead.Leave(ctx); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 10*time.Second, gauge+" = 0", func() bool { return h.metric(gauge) == 0 })
	before := single.Stats()
	testutil.Eventually(t, 10*time.Second, "the expert to receive 10 more packets", func() bool {
		return single.Stats().Unique >= before.Unique+10
	})
	settled := single.Stats()
	testutil.Eventually(t, 10*time.Second, "the expert to receive 60 more packets", func() bool {
		return single.Stats().Unique >= settled.Unique+60
	})
	if got := single.Stats().Numbered; got != settled.Numbered {
		t.Errorf("the expert got %d numbered packets after the estimation stopped, want none", got-settled.Numbered)
	}
}
