package node

import (
	"context"
	"fmt"
	"time"

	"siteline/media/sfu"
	"siteline/media/signal"
	"siteline/storage"
)

// Annotate appends a stroke drawn on a snapshot.
func (r callRecorder) Annotate(room string, by sfu.ParticipantInfo, m signal.Message) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ev := storage.SessionEvent{ID: newID(), SessionID: room, At: r.n.now().UTC(), Kind: storage.EventAnnotation,
		ActorID: by.UserID, Payload: payload(map[string]any{"participant": by.ID, "media": m.Media.ID, "stroke": m.Stroke})}
	if err := r.n.store.AppendSessionEvent(ctx, ev); err != nil {
		return fmt.Errorf("record annotation: %w", err)
	}
	return nil
}

// Recording appends that recording was started or stopped, and by whom.
func (r callRecorder) Recording(room string, by sfu.ParticipantInfo, on bool) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	kind := storage.EventRecordingStopped
	if on {
		kind = storage.EventRecordingStarted
	}
	ev := storage.SessionEvent{ID: newID(), SessionID: room, At: r.n.now().UTC(), Kind: kind,
		ActorID: by.UserID, Payload: payload(map[string]string{"participant": by.ID, "name": by.Name})}
	if err := r.n.store.AppendSessionEvent(ctx, ev); err != nil {
		return fmt.Errorf("record %s: %w", kind, err)
	}
	return nil
}
