package calls

import (
	"fmt"
	"time"

	"siteline/media/sfu"
	"siteline/media/signal"
	"siteline/storage"
)

// recorder is the SFU's Recorder: chat messages, annotations, recording
// and the end of a call are session events, on disk before anyone in the
// call is told. The SFU's hooks take no context: each write gets a bounded
// one from the service's lifetime.
type recorder struct{ cs *Service }

var _ sfu.Recorder = recorder{}

// Recorder returns the SFU's Recorder.
func (cs *Service) Recorder() sfu.Recorder { return recorder{cs} }

// Chat appends a chat event with the sender, the text and the time the
// participants are shown.
func (r recorder) Chat(room string, from sfu.ParticipantInfo, m signal.Message) error {
	ctx, cancel := r.cs.bounded(10 * time.Second)
	defer cancel()
	at := time.UnixMilli(m.Time).UTC()
	ev := storage.SessionEvent{ID: newID(), SessionID: room, At: at, Kind: storage.EventChat, ActorID: from.UserID,
		Payload: payload(map[string]string{"participant": from.ID, "name": from.Name, "text": m.Text})}
	if err := r.cs.store.AppendSessionEvent(ctx, ev); err != nil {
		return fmt.Errorf("record chat: %w", err)
	}
	return nil
}

// End marks the session ended, with who ended it.
func (r recorder) End(room string, by sfu.ParticipantInfo) error {
	ctx, cancel := r.cs.bounded(10 * time.Second)
	defer cancel()
	now := r.cs.now().UTC()
	ev := storage.SessionEvent{ID: newID(), SessionID: room, At: now, Kind: storage.EventEnded, ActorID: by.UserID,
		Payload: payload(map[string]string{"participant": by.ID, "name": by.Name})}
	if err := r.cs.store.EndSession(ctx, room, now, ev); err != nil {
		return fmt.Errorf("record end: %w", err)
	}
	r.cs.ring.Ended(ctx, room)
	r.cs.closeRelays(room) // grant.go
	r.cs.endGuests(ctx, room)
	r.cs.monitors.Delete(room)
	return nil
}

// Annotate appends a stroke drawn on a snapshot.
func (r recorder) Annotate(room string, by sfu.ParticipantInfo, m signal.Message) error {
	ctx, cancel := r.cs.bounded(10 * time.Second)
	defer cancel()
	ev := storage.SessionEvent{ID: newID(), SessionID: room, At: r.cs.now().UTC(), Kind: storage.EventAnnotation,
		ActorID: by.UserID, Payload: payload(map[string]any{"participant": by.ID, "media": m.Media.ID, "stroke": m.Stroke})}
	if err := r.cs.store.AppendSessionEvent(ctx, ev); err != nil {
		return fmt.Errorf("record annotation: %w", err)
	}
	return nil
}

// Recording appends that recording was started or stopped, and by whom.
func (r recorder) Recording(room string, by sfu.ParticipantInfo, on bool) error {
	ctx, cancel := r.cs.bounded(10 * time.Second)
	defer cancel()
	kind := storage.EventRecordingStopped
	if on {
		kind = storage.EventRecordingStarted
	}
	ev := storage.SessionEvent{ID: newID(), SessionID: room, At: r.cs.now().UTC(), Kind: kind,
		ActorID: by.UserID, Payload: payload(map[string]string{"participant": by.ID, "name": by.Name})}
	if err := r.cs.store.AppendSessionEvent(ctx, ev); err != nil {
		return fmt.Errorf("record %s: %w", kind, err)
	}
	return nil
}
