package sfu_test

import (
	"context"
	"testing"
	"time"

	"siteline/internal/testutil"
	"siteline/media/client"
	"siteline/media/signal"
)

// Video: 30 frames/s of 2 packets; audio: 50 packets/s. The measured rate
// must be within rateTolerance of that.
const (
	videoPPS      = 60.0
	audioPPS      = 50.0
	rateTolerance = 0.2
)

func checkRate(t *testing.T, who string, r *client.Received, want float64) {
	t.Helper()
	got := r.Stats().Rate()
	if got < want*(1-rateTolerance) || got > want*(1+rateTolerance) {
		t.Errorf("%s: %s rate %.1f packets/s, want %.0f ± %.0f%%", who, r.Kind, got, want, rateTolerance*100)
	}
}

// complete waits until r has at least n packets and no gap.
func complete(t *testing.T, who string, r *client.Received, n uint64) {
	t.Helper()
	testutil.Eventually(t, 15*time.Second, who+" "+r.Kind+" packets complete", func() bool {
		s := r.Stats()
		return s.Unique >= n && s.Missing == 0
	})
}

func TestForwardToTwoSubscribers(t *testing.T) {
	testutil.System(t)
	h := startSFU(t)
	pubC := h.join("tech", "s1", client.JoinOptions{})
	sub1 := h.join("expert", "s1", client.JoinOptions{})
	sub2 := h.join("lead", "s1", client.JoinOptions{})
	h.publish(pubC, client.TrackSpec{Kind: "video"}, client.TrackSpec{Kind: "audio"})

	t.Cleanup(func() {
		t.Logf("packets in %v out %v, tracks %v", h.metric("siteline_sfu_rtp_packets_total"), h.metric("siteline_sfu_rtp_bytes_total"), h.metric("siteline_sfu_tracks"))
	})
	for _, s := range []struct {
		name string
		c    *client.Client
	}{{"sub1", sub1}, {"sub2", sub2}} {
		v := trackOf(t, s.c, pubC.ID(), "video")
		a := trackOf(t, s.c, pubC.ID(), "audio")
		complete(t, s.name, v, 120)
		complete(t, s.name, a, 100)
		checkRate(t, s.name, v, videoPPS)
		checkRate(t, s.name, a, audioPPS)
		st := v.Stats()
		t.Logf("%s video: %d packets, jitter %v, latency avg %v max %v", s.name, st.Unique, st.Jitter, st.LatencyAvg, st.LatencyMax)
	}

	// sub2 leaves and comes back as a new connection.
	_ = sub2.Close()
	testutil.Eventually(t, 5*time.Second, "sub2 gone from the room", func() bool {
		return len(h.sfu.Room("s1").Participants()) == 2
	})
	sub2 = h.join("lead", "s1", client.JoinOptions{})
	v2 := trackOf(t, sub2, pubC.ID(), "video")
	complete(t, "sub2 again", v2, 60)

	// ICE restart on the publisher and on sub1: same room, flow resumes.
	v1 := trackOf(t, sub1, pubC.ID(), "video")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := pubC.RestartICE(ctx); err != nil {
		t.Fatal(err)
	}
	if err := sub1.RestartICE(ctx); err != nil {
		t.Fatal(err)
	}
	before := v1.Stats().Unique
	testutil.Eventually(t, 10*time.Second, "flow after ICE restart", func() bool {
		return v1.Stats().Unique >= before+120
	})
	if n := len(h.sfu.Room("s1").Participants()); n != 3 {
		t.Errorf("after ICE restart the room has %d participants, want 3", n)
	}
	complete(t, "sub1 after restart", v1, before+120)
}

// TestPublishConnectionOnlyForPublishers: a participant's publish
// connection is built by its first publish offer, so watchers hold one
// connection each, not two; a publish candidate that comes before any
// offer is refused as out of order; leaving closes what was built.
func TestPublishConnectionOnlyForPublishers(t *testing.T) {
	testutil.System(t)
	h := startSFU(t)
	const conns = "siteline_sfu_peer_connections"
	tech := h.join("tech", "conns", client.JoinOptions{})
	expert := h.join("expert", "conns", client.JoinOptions{})
	lead := h.join("lead", "conns", client.JoinOptions{})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	early := signal.New(signal.TypeCandidate)
	early.Target = signal.TargetPublish
	early.Candidate = &signal.Candidate{Candidate: "candidate:1 1 udp 2130706431 127.0.0.1 40000 typ host"}
	if err := lead.Send(ctx, early); err != nil {
		t.Fatal(err)
	}
	if e := next(t, lead, "a publish candidate before the offer refused", isType(signal.TypeError)); e.Code != signal.CodeBadMessage {
		t.Errorf("error = %+v, want %s", e, signal.CodeBadMessage)
	}

	h.publish(tech, client.TrackSpec{Kind: "video"})
	trackOf(t, expert, tech.ID(), "video")
	trackOf(t, lead, tech.ID(), "video")
	if pub, sub := h.metricWith(conns, "direction", "publish"), h.metricWith(conns, "direction", "subscribe"); pub != 1 || sub != 3 {
		t.Errorf("one publisher among three: %v publish and %v subscribe connections, want 1 and 3", pub, sub)
	}

	h.publish(expert, client.TrackSpec{Kind: "audio"})
	trackOf(t, tech, expert.ID(), "audio")
	if pub := h.metricWith(conns, "direction", "publish"); pub != 2 {
		t.Errorf("two publishers: %v publish connections, want 2", pub)
	}

	for _, c := range []*client.Client{tech, expert, lead} {
		if err := c.Leave(ctx); err != nil {
			t.Fatal(err)
		}
	}
	testutil.Eventually(t, 10*time.Second, "every connection closed", func() bool {
		return h.metricWith(conns, "direction", "publish") == 0 && h.metricWith(conns, "direction", "subscribe") == 0
	})
}
