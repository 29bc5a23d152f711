package node

import (
	"context"
	"fmt"
	"time"

	"siteline/media/sfu"
	"siteline/media/signal"
	"siteline/storage"
)

// callRecorder is the SFU's Recorder: chat messages and the end of a call
// are session events, on disk before anyone in the call is told.
type callRecorder struct{ n *Node }

var _ sfu.Recorder = callRecorder{}

// Chat appends a chat event with the sender, the text and the time the
// participants are shown.
func (r callRecorder) Chat(room string, from sfu.ParticipantInfo, m signal.Message) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	at := time.UnixMilli(m.Time).UTC()
	ev := storage.SessionEvent{ID: newID(), SessionID: room, At: at, Kind: storage.EventChat, ActorID: from.UserID,
		Payload: payload(map[string]string{"participant": from.ID, "name": from.Name, "text": m.Text})}
	if err := r.n.store.AppendSessionEvent(ctx, ev); err != nil {
		return fmt.Errorf("record chat: %w", err)
	}
	return nil
}

// End marks the session ended, with who ended it.
func (r callRecorder) End(room string, by sfu.ParticipantInfo) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	now := r.n.now().UTC()
	ev := storage.SessionEvent{ID: newID(), SessionID: room, At: now, Kind: storage.EventEnded, ActorID: by.UserID,
		Payload: payload(map[string]string{"participant": by.ID, "name": by.Name})}
	if err := r.n.store.EndSession(ctx, room, now, ev); err != nil {
		return fmt.Errorf("record end: %w", err)
	}
	r.n.ring.ended(room)
	r.n.closeCallRelays(room) // turn_grant.go
	r.n.calls.endGuests(ctx, room)
	return nil
}
