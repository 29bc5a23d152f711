package calls

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"siteline/media/record"
	"siteline/media/sfu"
	"siteline/node/internal/check"
	"siteline/storage"
	"siteline/web"
)

// chatHistoryLimit bounds what a call page loads when it joins.
const chatHistoryLimit = 500

// ChatHistory returns the call's last chat messages, oldest first.
func (cs *Service) ChatHistory(ctx context.Context, a web.Actor, callID string) ([]web.ChatLine, error) {
	if _, err := cs.ViewCall(ctx, a, callID); err != nil {
		return nil, err
	}
	evs, err := cs.store.SessionEvents(ctx, callID)
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

// OnRecorded is the SFU's OnRecorded: it stores the files of a recording
// that stopped. A file it cannot store stays in the recording directory.
func (cs *Service) OnRecorded(rec sfu.Recorded) {
	for _, f := range rec.Files {
		ctx, cancel := cs.bounded(time.Minute)
		err := cs.StoreRecording(ctx, rec.Room, rec.By, rec.StartedAt, f)
		cancel()
		if err != nil {
			cs.log.Error("store recording; the file stays in the recording directory", "call", rec.Room, "file", f.Path, "err", err)
		}
	}
}

// StoreRecording keeps one finished recording file of a call: the file
// moves into the blob store, then its row and its recording event are
// written together. by started the recording at startedAt; the file's
// media starts f.Start later. On error the file stays where it is.
func (cs *Service) StoreRecording(ctx context.Context, callID string, by sfu.ParticipantInfo, startedAt time.Time, f record.File) error {
	if cs.blobs == nil {
		return fmt.Errorf("store recording %s: the media store is not open", f.Path)
	}
	s, err := cs.store.Session(ctx, callID)
	if err != nil {
		return fmt.Errorf("store recording %s: %w", f.Path, err)
	}
	publisher := recordingPublisher(callID, f.Path)
	name := cs.recordingName(ctx, s, publisher, startedAt.Add(f.Start))
	b, err := cs.blobs.Adopt(f.Path, f.SHA256)
	if err != nil {
		return fmt.Errorf("store recording of call %s: %w", callID, err)
	}
	start := startedAt.Add(f.Start).UTC()
	end := start.Add(f.Duration)
	rec := storage.Recording{ID: newID(), SessionID: callID, OrgID: s.OrgID, Name: name, BlobKey: b.Key,
		ContentType: "video/webm", Size: b.Size, SHA256: b.Key, Status: storage.RecordingComplete,
		StartedBy: by.UserID, StartedAt: start, EndedAt: &end, DurationMS: f.Duration.Milliseconds(),
		Participant: publisher, Tracks: f.Tracks}
	ev := storage.SessionEvent{ID: newID(), SessionID: callID, At: cs.now().UTC(), Kind: storage.EventRecording,
		ActorID: by.UserID, Payload: payload(map[string]any{"recording": rec.ID, "participant": by.ID, "name": by.Name,
			"publisher": publisher, "file_name": name, "size": rec.Size, "sha256": rec.SHA256,
			"duration_ms": rec.DurationMS, "started_at": start, "tracks": rec.Tracks})}
	if err := cs.store.AddRecording(ctx, rec, ev); err != nil {
		return fmt.Errorf("store recording of call %s: %w", callID, err)
	}
	return nil
}

// recordingPublisher reads whose tracks a file holds from its name, which
// the SFU makes <call>-<participant>-<start ms>[-<part>].webm.
func recordingPublisher(callID, path string) string {
	rest, ok := strings.CutPrefix(filepath.Base(path), callID+"-")
	if !ok {
		return ""
	}
	pid, _, ok := strings.Cut(rest, "-")
	if !ok {
		return ""
	}
	return pid
}

// recordingName is the file name a download gets: the call, whose video
// and when.
func (cs *Service) recordingName(ctx context.Context, s storage.Session, publisher string, at time.Time) string {
	parts := []string{"Recording"}
	if s.Name != "" {
		parts = append(parts, s.Name)
	}
	if publisher != "" {
		if ps, err := cs.store.SessionParticipants(ctx, s.ID); err == nil {
			for _, p := range ps {
				if p.ID == publisher && p.DisplayName != "" {
					parts = append(parts, p.DisplayName)
				}
			}
		}
	}
	parts = append(parts, at.UTC().Format("2006-01-02 15.04.05"))
	return check.FileName(strings.Join(parts, " - ")+".webm", storage.MediaFile, "video/webm", "")
}
