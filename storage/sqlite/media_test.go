package sqlite

import (
	"context"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"siteline/storage"
)

func TestMediaRowsAndEvents(t *testing.T) {
	s, _ := openTestStore(t)
	ctx := context.Background()
	if err := s.CreateSession(ctx, storage.Session{ID: "c1", OrgID: "o1", SiteID: "s1", StartedAt: t0}); err != nil {
		t.Fatal(err)
	}
	key := strings.Repeat("ab", 32)
	file := storage.Media{ID: "m1", SessionID: "c1", OrgID: "o1", Kind: storage.MediaFile, Name: "manual.pdf",
		BlobKey: key, ContentType: "application/pdf", Size: 1234, SHA256: key, CreatedBy: "u1", Participant: "p1",
		CreatedAt: t0.Add(time.Second)}
	ev := func(id, kind string) storage.SessionEvent {
		return storage.SessionEvent{ID: id, SessionID: "c1", At: t0.Add(time.Second), Kind: kind, ActorID: "u1",
			Payload: json.RawMessage(`{"media":"x"}`)}
	}
	if err := s.AddMedia(ctx, file, ev("e1", storage.EventFile)); err != nil {
		t.Fatal(err)
	}
	// The same bytes shared again are a second row over the same blob.
	snap := file
	snap.ID, snap.Kind, snap.Name, snap.ContentType, snap.Of = "m2", storage.MediaSnapshot, "snap.png", "image/png", "p2"
	snap.Annotations = json.RawMessage(`{"strokes":[]}`)
	snap.CreatedAt = t0.Add(2 * time.Second)
	if err := s.AddMedia(ctx, snap, ev("e2", storage.EventSnapshot)); err != nil {
		t.Fatalf("second media over the same blob: %v", err)
	}

	// Refused writes change nothing: no row, no event, no outbox record.
	_, pendingBefore, _, _ := s.HistoryCounts(ctx, 0)
	bad := []struct {
		name string
		m    storage.Media
		ev   storage.SessionEvent
		want error
	}{
		{"unknown kind", withKind(file, "m3", "video"), ev("e3", storage.EventFile), storage.ErrInvalid},
		{"no blob", storage.Media{ID: "m3", SessionID: "c1", OrgID: "o1", Kind: "file", ContentType: "x/y", CreatedAt: t0}, ev("e3", storage.EventFile), storage.ErrInvalid},
		{"unknown session", func() storage.Media { m := withKind(file, "m3", "file"); m.SessionID = "zz"; return m }(),
			storage.SessionEvent{ID: "e3", SessionID: "zz", At: t0, Kind: storage.EventFile}, storage.ErrNotFound},
		{"event id taken", withKind(file, "m3", "file"), ev("e1", storage.EventFile), storage.ErrConflict},
		{"media id taken", withKind(file, "m1", "file"), ev("e3", storage.EventFile), storage.ErrConflict},
	}
	for _, tc := range bad {
		if err := s.AddMedia(ctx, tc.m, tc.ev); !errors.Is(err, tc.want) {
			t.Errorf("%s: AddMedia = %v, want %v", tc.name, err, tc.want)
		}
	}
	if _, err := s.Media(ctx, "m3"); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("refused media stored: %v", err)
	}
	if _, pending, _, _ := s.HistoryCounts(ctx, 0); pending != pendingBefore {
		t.Errorf("outbox grew from %d to %d on refused writes", pendingBefore, pending)
	}

	got, err := s.Media(ctx, "m2")
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, snap) {
		t.Errorf("Media(m2) =\n %+v, want\n %+v", got, snap)
	}
	list, err := s.SessionMedia(ctx, "c1")
	if err != nil || len(list) != 2 || list[0].ID != "m1" || list[1].ID != "m2" {
		t.Fatalf("SessionMedia = %+v, %v", list, err)
	}
	if list, err := s.SessionMedia(ctx, "nope"); err != nil || list == nil || len(list) != 0 {
		t.Errorf("SessionMedia(nope) = %#v, %v; want an empty list", list, err)
	}

	// Each media event is in the session's history and in the outbox.
	evs, _ := s.SessionEvents(ctx, "c1")
	if len(evs) != 2 || evs[0].Kind != storage.EventFile || evs[1].Kind != storage.EventSnapshot {
		t.Errorf("events = %+v", evs)
	}
	rows, err := s.PendingHistory(ctx, 100)
	if err != nil {
		t.Fatal(err)
	}
	var forwarded []string
	for _, r := range rows {
		if r.Kind == storage.HistoryEvent {
			forwarded = append(forwarded, r.ID)
		}
	}
	if strings.Join(forwarded, " ") != "e1 e2" {
		t.Errorf("forwarded events = %v, want e1 e2", forwarded)
	}
	if in, err := s.MediaBlobLive(ctx, key); err != nil || !in {
		t.Errorf("MediaBlobLive = %v, %v", in, err)
	}
	if in, err := s.MediaBlobLive(ctx, strings.Repeat("cd", 32)); err != nil || in {
		t.Errorf("MediaBlobLive(unused) = %v, %v", in, err)
	}
}

func withKind(m storage.Media, id, kind string) storage.Media {
	m.ID, m.Kind = id, kind
	return m
}

func TestRecordingRows(t *testing.T) {
	s, _ := openTestStore(t)
	ctx := context.Background()
	if err := s.CreateSession(ctx, storage.Session{ID: "c1", OrgID: "o1", SiteID: "s1", StartedAt: t0}); err != nil {
		t.Fatal(err)
	}
	end := t0.Add(90 * time.Second)
	rec := storage.Recording{ID: "r1", SessionID: "c1", OrgID: "o1", Name: "call.webm", BlobKey: strings.Repeat("01", 32),
		ContentType: "video/webm", Size: 9999, SHA256: strings.Repeat("01", 32), StartedBy: "u1",
		StartedAt: t0.Add(30 * time.Second), EndedAt: &end, DurationMS: 60000, Participant: "p1", Tracks: []string{"a", "v"}}
	ev := storage.SessionEvent{ID: "e1", SessionID: "c1", At: end, Kind: storage.EventRecording, ActorID: "u1"}
	if err := s.AddRecording(ctx, rec, ev); err != nil {
		t.Fatal(err)
	}
	rec.Status = storage.RecordingComplete
	got, err := s.Recording(ctx, "r1")
	if err != nil || !reflect.DeepEqual(got, rec) {
		t.Errorf("Recording = %+v, %v; want %+v", got, err, rec)
	}
	ev.ID = "e2"
	if err := s.AddRecording(ctx, rec, ev); !errors.Is(err, storage.ErrConflict) {
		t.Errorf("second AddRecording r1 = %v, want conflict", err)
	}
	noStart := rec
	noStart.ID, noStart.StartedAt = "r2", time.Time{}
	if err := s.AddRecording(ctx, noStart, ev); !errors.Is(err, storage.ErrInvalid) {
		t.Errorf("AddRecording without start = %v, want invalid", err)
	}
	list, err := s.SessionRecordings(ctx, "c1")
	if err != nil || len(list) != 1 || list[0].ID != "r1" || list[0].DurationMS != 60000 {
		t.Errorf("SessionRecordings = %+v, %v", list, err)
	}
	if evs, _ := s.SessionEvents(ctx, "c1"); len(evs) != 1 || evs[0].Kind != storage.EventRecording {
		t.Errorf("events = %+v", evs)
	}
	if _, err := s.Recording(ctx, "nope"); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("Recording(nope) = %v", err)
	}
}
