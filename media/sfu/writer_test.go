package sfu

import (
	"testing"
	"time"
)

// TestWritersGroupSubscribers: a track's subscribers share about √n
// writer goroutines, each in exactly one; the writers end with their last
// subscriber.
func TestWritersGroupSubscribers(t *testing.T) {
	s, err := New(Config{UDPPort: 1, Authorizer: allowAll{}})
	if err != nil {
		t.Fatal(err)
	}
	up := &upTrack{owner: &Participant{sfu: s}}
	up.subs.Store(&[]*downTrack{})
	up.writing.Store(&[]*writer{})
	var subs []*downTrack
	for range 50 {
		d := &downTrack{sub: &Participant{sfu: s}, up: up}
		d.current.Store(-1)
		up.addSubscriber(d)
		subs = append(subs, d)
	}
	writers := *up.writing.Load()
	if len(writers) < 7 || len(writers) > 13 {
		t.Errorf("50 subscribers share %d writers, want about √50", len(writers))
	}
	seen := map[*downTrack]int{}
	for _, w := range writers {
		if w.size() > writerSize(50) {
			t.Errorf("a writer has %d subscribers, more than %d", w.size(), writerSize(50))
		}
		for _, d := range *w.members.Load() {
			seen[d]++
			if d.writer.Load() != w {
				t.Error("a subscriber's writer is not the one that holds it")
			}
		}
	}
	for i, d := range subs {
		if seen[d] != 1 {
			t.Errorf("subscriber %d is in %d writers", i, seen[d])
		}
	}
	if got := writerSize(3); got != writerMin {
		t.Errorf("writerSize(3) = %d, want %d", got, writerMin)
	}

	for _, d := range subs {
		d.stop()
		d.stop() // twice is harmless
	}
	if n := len(*up.writing.Load()); n != 0 || len(up.writers) != 0 {
		t.Errorf("%d writers left after every subscriber left", n)
	}
	ended := make(chan struct{})
	go func() { s.wg.Wait(); close(ended) }()
	select {
	case <-ended:
	case <-time.After(10 * time.Second):
		t.Fatal("writer goroutines still run after every subscriber left")
	}
}

// TestWriterPushesWantedLayersOnly: a packet is queued only when a member
// wants its layer (the one it gets or the one it switches to).
func TestWriterPushesWantedLayersOnly(t *testing.T) {
	s, err := New(Config{UDPPort: 1, Authorizer: allowAll{}})
	if err != nil {
		t.Fatal(err)
	}
	up := &upTrack{owner: &Participant{sfu: s}}
	w := &writer{t: up, queue: make(chan queued, 4)} // no goroutine: the test reads the queue
	members := []*downTrack{{}, {}}
	members[0].current.Store(0)
	members[0].target.Store(0)
	members[1].current.Store(0)
	members[1].target.Store(2)
	w.members.Store(&members)
	for _, tc := range []struct {
		layer  int
		queued bool
	}{{0, true}, {1, false}, {2, true}} {
		w.push(&layer{index: tc.layer}, nil)
		if got := len(w.queue) == 1; got != tc.queued {
			t.Errorf("layer %d queued = %v, want %v", tc.layer, got, tc.queued)
		}
		for len(w.queue) > 0 {
			<-w.queue
		}
	}
}
