package sfu_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"siteline/internal/testutil"
	"siteline/media/client"
	"siteline/media/signal"
)

func TestHiddenSupervisor(t *testing.T) {
	h := startSFU(t)
	tech := h.join("tech", "s2", client.JoinOptions{})
	expert := h.join("expert", "s2", client.JoinOptions{})
	h.publish(tech, client.TrackSpec{Kind: "video"})
	trackOf(t, expert, tech.ID(), "video")

	lead := h.join("lead", "s2", client.JoinOptions{Hidden: true, Monitor: "tech"})
	trackOf(t, lead, tech.ID(), "video")
	next(t, tech, "tech sees monitoring-on", isType(signal.TypeMonitoringOn))
	next(t, expert, "expert sees monitoring-on", isType(signal.TypeMonitoringOn))

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := tech.Chat(ctx, "the pump is leaking"); err != nil {
		t.Fatal(err)
	}
	isChat := func(text string) func(signal.Message) bool {
		return func(m signal.Message) bool { return m.Type == signal.TypeChat && m.Text == text }
	}
	next(t, lead, "supervisor gets the chat", isChat("the pump is leaking"))
	next(t, expert, "expert gets the chat", isChat("the pump is leaking"))

	// The supervisor may not chat or publish video: that would reveal it.
	if err := lead.Chat(ctx, "hello"); err != nil {
		t.Fatal(err)
	}
	next(t, lead, "supervisor's chat refused", isType(signal.TypeError))
	if _, err := lead.Publish(ctx, client.TrackSpec{Kind: "video"}); err == nil {
		t.Error("a hidden participant could publish video")
	}

	leadID := lead.ID()
	_ = lead.Close()
	next(t, tech, "tech sees monitoring-off", isType(signal.TypeMonitoringOff))
	next(t, expert, "expert sees monitoring-off", isType(signal.TypeMonitoringOff))

	// Nobody was told about the supervisor, though everyone visible was
	// told of the monitoring.
	for name, c := range map[string]*client.Client{"tech": tech, "expert": expert} {
		for _, m := range c.Seen() {
			if m.Participant == leadID || m.Peer != nil && m.Peer.ID == leadID {
				t.Errorf("%s was told about the supervisor: %+v", name, m)
			}
			for _, p := range m.Participants {
				if p.ID == leadID {
					t.Errorf("%s saw the supervisor in %s", name, m.Type)
				}
			}
		}
	}
}

func TestChatNeedsPermission(t *testing.T) {
	h := startSFU(t)
	h.auth.refuse("guest", signal.PermChat)
	host := h.join("host", "s3", client.JoinOptions{})
	guest := h.join("guest", "s3", client.JoinOptions{})

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := guest.Chat(ctx, "secret"); err != nil {
		t.Fatal(err)
	}
	e := next(t, guest, "guest's chat refused", isType(signal.TypeError))
	if e.Code != signal.CodeForbidden || e.Permission != signal.PermChat {
		t.Fatalf("error = %+v, want forbidden naming %s", e, signal.PermChat)
	}
	// A later chat from the host arrives; the guest's never did.
	if err := host.Chat(ctx, "marker"); err != nil {
		t.Fatal(err)
	}
	next(t, host, "host's own chat", func(m signal.Message) bool { return m.Type == signal.TypeChat && m.Text == "marker" })
	for _, c := range []*client.Client{host, guest} {
		for _, m := range c.Seen() {
			if m.Type == signal.TypeChat && m.Text == "secret" {
				t.Errorf("the refused chat was delivered: %+v", m)
			}
		}
	}
}

// TestChatGoesOverSignaling: the subscribe connection carries media only
// (no application section, so no SCTP association per participant), and
// chat, a message of the largest length included, reaches the others over
// the signaling socket.
func TestChatGoesOverSignaling(t *testing.T) {
	h := startSFU(t)
	tech := h.join("tech", "s5", client.JoinOptions{})
	expert := h.join("expert", "s5", client.JoinOptions{})
	h.publish(tech, client.TrackSpec{Kind: "audio"})
	trackOf(t, expert, tech.ID(), "audio")
	if got := expert.Conn(signal.TargetSubscribe).Sections; !slices.Equal(got, []string{"audio"}) {
		t.Errorf("the subscribe offer's sections = %v, want [audio]", got)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	long := strings.Repeat("the pump is leaking ", signal.MaxChatLength/20)
	for _, text := range []string{"first", long, "after the long one"} {
		if err := tech.Chat(ctx, text); err != nil {
			t.Fatal(err)
		}
		next(t, expert, "expert gets the chat", func(m signal.Message) bool { return m.Type == signal.TypeChat && m.Text == text })
	}
}

func TestPermissionsRefused(t *testing.T) {
	h := startSFU(t)
	h.auth.refuse("outsider", signal.PermJoin)
	h.auth.refuse("viewer", signal.PermPublishCamera)
	h.auth.refuse("viewer", signal.PermEndForAll)
	h.auth.refuse("peeker", signal.PermSitIn)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	forbidden := func(err error, perm string) {
		t.Helper()
		var e *client.Error
		if !errors.As(err, &e) || e.Code != signal.CodeForbidden || e.Permission != perm {
			t.Errorf("err = %v, want forbidden naming %s", err, perm)
		}
	}
	for user, perm := range map[string]string{"outsider": signal.PermJoin, "peeker": signal.PermSitIn} {
		c, err := h.connect(user)
		if err != nil {
			t.Fatal(err)
		}
		forbidden(c.Join(ctx, "s4", client.JoinOptions{Hidden: user == "peeker"}), perm)
	}
	if h.sfu.Room("s4") != nil {
		t.Error("a refused join created the room")
	}

	host := h.join("host", "s4", client.JoinOptions{})
	viewer := h.join("viewer", "s4", client.JoinOptions{})
	_, err := viewer.Publish(ctx, client.TrackSpec{Kind: "video"})
	forbidden(err, signal.PermPublishCamera)
	if err := viewer.Send(ctx, signal.New(signal.TypeEnd)); err != nil {
		t.Fatal(err)
	}
	next(t, viewer, "end refused naming its permission", func(m signal.Message) bool {
		return m.Type == signal.TypeError && m.Code == signal.CodeForbidden && m.Permission == signal.PermEndForAll
	})
	if n := len(h.sfu.Room("s4").Participants()); n != 2 {
		t.Errorf("room has %d participants after a refused end, want 2", n)
	}

	// The host may end the call for all.
	if err := host.Send(ctx, signal.New(signal.TypeEnd)); err != nil {
		t.Fatal(err)
	}
	next(t, viewer, "viewer told the call ended", isType(signal.TypeEnd))
	testutil.Eventually(t, 5*time.Second, "room dropped", func() bool { return h.sfu.Room("s4") == nil })
	if got := h.metric("siteline_sfu_rooms"); got != 0 {
		t.Errorf("rooms gauge = %v after end", got)
	}
}
