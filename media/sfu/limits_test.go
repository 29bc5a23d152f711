package sfu_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"siteline/internal/testutil"
	"siteline/media/client"
	"siteline/media/sfu"
	"siteline/media/signal"
)

func TestRoomRefusesJoinsOverMaxParticipants(t *testing.T) {
	h := startSFU(t, func(c *sfu.Config) { c.MaxParticipants = 2 })
	h.join("a", "full", client.JoinOptions{})
	h.join("b", "full", client.JoinOptions{})
	c, err := h.connect("c")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err = c.Join(ctx, "full", client.JoinOptions{})
	var e *client.Error
	if !errors.As(err, &e) || e.Code != signal.CodeLimit {
		t.Fatalf("third join = %v, want a %s error", err, signal.CodeLimit)
	}
	// Another room is not affected.
	h.join("c", "other", client.JoinOptions{})
}

func TestChatAndAnnotationsAreRateLimited(t *testing.T) {
	h := startSFU(t, func(c *sfu.Config) { c.MessageRate, c.MessageBurst = 0.001, 3 })
	talker := h.join("talker", "busy", client.JoinOptions{})
	listener := h.join("listener", "busy", client.JoinOptions{})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for i := 0; i < 4; i++ {
		if err := talker.Chat(ctx, "hello"); err != nil {
			t.Fatal(err)
		}
	}
	e := next(t, talker, "the fourth chat refused", isType(signal.TypeError))
	if e.Code != signal.CodeLimit {
		t.Fatalf("error = %+v, want %s", e, signal.CodeLimit)
	}
	stroke := func(id string) signal.Message {
		m := signal.New(signal.TypeAnnotate)
		m.Media = &signal.Media{ID: "snap"}
		m.Stroke = &signal.Stroke{ID: id, Tool: "circle", Color: "#ff0000", Width: 0.01, Points: [][2]float64{{0.1, 0.1}, {0.2, 0.2}}}
		return m
	}
	for i := 0; i < 4; i++ {
		if err := talker.Send(ctx, stroke(string(rune('a'+i)))); err != nil {
			t.Fatal(err)
		}
	}
	e = next(t, talker, "the fourth annotation refused", isType(signal.TypeError))
	if e.Code != signal.CodeLimit {
		t.Fatalf("error = %+v, want %s", e, signal.CodeLimit)
	}
	// The listener got three of each, and the chats before the strokes.
	testutil.Eventually(t, 10*time.Second, "three strokes at the listener", func() bool {
		n := 0
		for _, m := range listener.Seen() {
			if m.Type == signal.TypeAnnotate {
				n++
			}
		}
		return n == 3
	})
	chats := 0
	for _, m := range listener.Seen() {
		if m.Type == signal.TypeChat {
			chats++
		}
	}
	if chats != 3 {
		t.Errorf("listener got %d chats, want 3", chats)
	}
}

func TestScreenShareNeedsPermission(t *testing.T) {
	h := startSFU(t)
	h.auth.refuse("tech", signal.PermScreenShare)
	tech := h.join("tech", "share", client.JoinOptions{})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := tech.Publish(ctx, client.TrackSpec{Kind: "video", ID: "screen", Screen: true})
	var e *client.Error
	if !errors.As(err, &e) || e.Code != signal.CodeForbidden || e.Permission != signal.PermScreenShare {
		t.Fatalf("publish a screen without the permission = %v, want forbidden naming %s", err, signal.PermScreenShare)
	}

	lead := h.join("lead", "share", client.JoinOptions{})
	h.publish(lead, client.TrackSpec{Kind: "video", ID: "screen", Screen: true})
	watcher := h.join("watcher", "share", client.JoinOptions{})
	trackOf(t, watcher, lead.ID(), "video")
}
