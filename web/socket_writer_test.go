package web

import (
	"errors"
	"testing"
)

// The writer's queue, without a socket: send queues up to the limit,
// counting messages taken and not yet written, and disconnects past it.
func TestSocketWriterQueue(t *testing.T) {
	var reason error
	w := &socketWriter{limit: 3, ready: make(chan struct{}, 1), done: make(chan struct{}),
		onStop: func(err error) { reason = err }, ended: make(chan struct{})}
	for i := range 3 {
		if err := w.send([]byte{byte(i)}); err != nil {
			t.Fatalf("send %d: %v", i, err)
		}
	}
	if len(w.ready) != 1 {
		t.Fatal("no wake-up queued for the writer")
	}
	batch := w.take()
	if len(batch) != 3 || batch[0][0] != 0 || batch[2][0] != 2 {
		t.Fatalf("took %v, want the three messages in order", batch)
	}
	// Taken but not written: they still count against the limit.
	if err := w.send([]byte{3}); !errors.Is(err, errSlowReader) {
		t.Fatalf("send past the limit = %v, want %v", err, errSlowReader)
	}
	if !errors.Is(reason, errSlowReader) {
		t.Fatalf("stopped for %v, want %v", reason, errSlowReader)
	}
	if err := w.send([]byte{4}); !errors.Is(err, errSocketClosed) {
		t.Fatalf("send after stop = %v, want %v", err, errSocketClosed)
	}
}

func TestSocketWriterWritten(t *testing.T) {
	w := &socketWriter{limit: 2, ready: make(chan struct{}, 1), done: make(chan struct{}), ended: make(chan struct{})}
	for round := range 3 {
		for i := range 2 {
			if err := w.send([]byte{byte(i)}); err != nil {
				t.Fatalf("round %d send %d: %v", round, i, err)
			}
		}
		batch := w.take()
		if len(batch) != 2 {
			t.Fatalf("round %d took %d, want 2", round, len(batch))
		}
		w.written(batch, len(batch))
		if w.pending != 0 || len(w.queue) != 0 {
			t.Fatalf("round %d: pending %d, queued %d after writing", round, w.pending, len(w.queue))
		}
	}
}
