package sfu_test

import (
	"context"
	"testing"
	"time"

	"siteline/internal/testutil"
	"siteline/media/client"
	"siteline/media/signal"
)

// mentions reports whether m names participant pid anywhere a client
// could read it.
func mentions(m signal.Message, pid string) bool {
	if m.Participant == pid || m.Peer != nil && m.Peer.ID == pid || m.Track != nil && m.Track.Participant == pid ||
		m.Point != nil && m.Point.Participant == pid || m.Media != nil && (m.Media.By == pid || m.Media.Of == pid) {
		return true
	}
	for _, p := range m.Participants {
		if p.ID == pid {
			return true
		}
	}
	for _, t := range m.Tracks {
		if t.Participant == pid {
			return true
		}
	}
	return false
}

// A hidden supervisor coaches: its audio reaches the supervised member
// only while coaching is on, never the guest; the member's indicator
// follows (sit-in, coach, off) and the guest is told nothing until the
// supervisor reveals itself, when the guest sees it join and hears it.
func TestCoachWhispersToTheMemberOnly(t *testing.T) {
	h := startSFU(t)
	tech := h.join("tech", "w1", client.JoinOptions{})
	guest := h.join("guest-1", "w1", client.JoinOptions{})
	h.publish(tech, client.TrackSpec{Kind: "video"}, client.TrackSpec{Kind: "audio"})
	h.publish(guest, client.TrackSpec{Kind: "audio"})

	lead := h.join("lead", "w1", client.JoinOptions{Hidden: true, Monitor: "tech"})
	trackOf(t, lead, tech.ID(), "video")
	trackOf(t, lead, guest.ID(), "audio")
	on := next(t, tech, "the member's indicator", isType(signal.TypeMonitoringOn))
	if on.Mode != signal.ModeSitIn || on.Name != "lead" {
		t.Fatalf("indicator = %+v, want sit-in by lead", on)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if _, err := lead.Publish(ctx, client.TrackSpec{Kind: "audio"}); err != nil {
		t.Fatalf("coaching audio: %v", err)
	}
	if err := lead.Send(ctx, signal.Message{Type: signal.TypeCoach, Coaching: true}); err != nil {
		t.Fatal(err)
	}
	coach := next(t, tech, "the member told of coaching", isType(signal.TypeMonitoringOn))
	if coach.Mode != signal.ModeCoach {
		t.Fatalf("indicator while coaching = %+v, want coach", coach)
	}
	whisper := trackOf(t, tech, lead.ID(), "audio")
	testutil.Eventually(t, 10*time.Second, "the member hears the coach", func() bool { return whisper.Stats().Unique >= 50 })

	// Coaching off: the member's indicator goes back to sit-in and the
	// audio stops reaching the member.
	if err := lead.Send(ctx, signal.Message{Type: signal.TypeCoach}); err != nil {
		t.Fatal(err)
	}
	if back := next(t, tech, "coaching off", isType(signal.TypeMonitoringOn)); back.Mode != signal.ModeSitIn {
		t.Fatalf("indicator after coaching = %+v, want sit-in", back)
	}
	settled := whisper.Stats().Unique
	testutil.Eventually(t, 10*time.Second, "whisper stopped", func() bool {
		n := whisper.Stats().Unique
		stopped := n-settled < 5
		settled = n
		return stopped
	})

	for _, r := range guest.Tracks() {
		if r.Participant == lead.ID() {
			t.Fatalf("the guest received the coach's %s", r.Kind)
		}
	}
	for _, m := range guest.Seen() {
		if mentions(m, lead.ID()) || m.Type == signal.TypeMonitoringOn || m.Type == signal.TypeMonitoringOff {
			t.Fatalf("the guest was told of the supervisor: %+v", m)
		}
	}

	// Reveal: the guest sees the supervisor join and hears it; the member's
	// indicator goes off.
	if err := lead.Send(ctx, signal.Message{Type: signal.TypeReveal}); err != nil {
		t.Fatal(err)
	}
	joined := next(t, guest, "the guest sees the supervisor join", isType(signal.TypeParticipantJoined))
	if joined.Peer.ID != lead.ID() {
		t.Fatalf("joined = %+v, want the supervisor", joined.Peer)
	}
	next(t, tech, "the member's indicator off", isType(signal.TypeMonitoringOff))
	trackOf(t, guest, lead.ID(), "audio")
	if err := lead.Chat(ctx, "hello, I am the lead"); err != nil {
		t.Fatal(err)
	}
	next(t, guest, "the revealed supervisor chats", func(m signal.Message) bool {
		return m.Type == signal.TypeChat && m.Participant == lead.ID()
	})
}

// A hidden supervisor publishes no video, and no audio without the coach
// permission.
func TestHiddenPublishingIsCoachingAudioOnly(t *testing.T) {
	h := startSFU(t)
	h.join("tech", "w2", client.JoinOptions{})
	h.auth.refuse("peeker", signal.PermCoach)
	peeker := h.join("peeker", "w2", client.JoinOptions{Hidden: true, Monitor: "tech"})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := peeker.Publish(ctx, client.TrackSpec{Kind: "audio"}); err == nil {
		t.Fatal("a supervisor without the coach permission published audio hidden")
	}
	if err := peeker.Send(ctx, signal.Message{Type: signal.TypeCoach, Coaching: true, ID: "c1"}); err != nil {
		t.Fatal(err)
	}
	refused := next(t, peeker, "coach refused", func(m signal.Message) bool { return m.Type == signal.TypeError && m.ID == "c1" })
	if refused.Permission != signal.PermCoach {
		t.Fatalf("refusal = %+v, want one naming %s", refused, signal.PermCoach)
	}
}
