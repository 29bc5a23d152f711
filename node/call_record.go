package node

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"siteline/media/sfu"
	"siteline/media/signal"
	"siteline/storage"
	"siteline/web"
)

// recordDir is where the SFU writes recordings while they run. Finished
// files move into the media store; what a crash left behind (temporary
// files, never acknowledged) is removed when the media starts.
func (n *Node) recordDir() string {
	dir := filepath.Join(n.cfg.DataDir, "recording")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		n.log.Error("recording directory; recording is off", "dir", dir, "err", err)
		return ""
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if name := e.Name(); strings.HasPrefix(name, ".") && strings.HasSuffix(name, ".webm.tmp") {
			_ = os.Remove(filepath.Join(dir, name))
		}
	}
	return dir
}

// onRecorded stores the files of a recording that stopped.
func (n *Node) onRecorded(rec sfu.Recorded) {
	for _, f := range rec.Files {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		err := n.calls.storeRecording(ctx, rec.Room, rec.By, rec.StartedAt, f)
		cancel()
		if err != nil {
			n.log.Error("store recording; the file stays in the recording directory", "call", rec.Room, "file", f.Path, "err", err)
		}
	}
}

// chatHistoryLimit bounds what a call page loads when it joins.
const chatHistoryLimit = 500

// ChatHistory returns the call's last chat messages, oldest first.
func (cs *callService) ChatHistory(ctx context.Context, a web.Actor, callID string) ([]web.ChatLine, error) {
	if _, err := cs.ViewCall(ctx, a, callID); err != nil {
		return nil, err
	}
	evs, err := cs.n.store.SessionEvents(ctx, callID)
	if err != nil {
		return nil, fmt.Errorf("chat history: %w", err)
	}
	lines := []web.ChatLine{}
	for _, ev := range evs {
		if ev.Kind != storage.EventChat {
			continue
		}
		var p struct{ Participant, Name, Text string }
		if err := json.Unmarshal(ev.Payload, &p); err != nil {
			continue
		}
		lines = append(lines, web.ChatLine{Participant: p.Participant, Name: p.Name, Text: p.Text, Time: ev.At})
	}
	if len(lines) > chatHistoryLimit {
		lines = lines[len(lines)-chatHistoryLimit:]
	}
	return lines, nil
}

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
