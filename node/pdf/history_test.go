package pdf_test

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"siteline/media/signal"
	"siteline/node/pdf"
	"siteline/storage"
)

func payload(t *testing.T, v any) json.RawMessage {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestFromHistoryWordsTheStoredSession feeds FromHistory records as the
// call service writes them, strokes as the call page sends them.
func TestFromHistoryWordsTheStoredSession(t *testing.T) {
	left := t0.Add(30 * time.Minute)
	ended := t0.Add(31 * time.Minute)
	sess := storage.Session{ID: "s1", OrgID: "o1", SiteID: "site1", Kind: storage.SessionServiceRequest, Name: "Leak",
		Status: storage.SessionEnded, CreatedBy: "u1", StartedAt: t0, EndedAt: &ended}
	parts := []storage.SessionParticipant{
		{ID: "p1", SessionID: "s1", UserID: "u1", DisplayName: "Jürgen", UserKind: storage.UserRegular, DeviceKind: "desktop", JoinedAt: t0, LeftAt: &left},
		{ID: "p2", SessionID: "s1", UserID: "guest-9", DisplayName: "Zoë", UserKind: storage.UserGuestApp, DeviceKind: "mobile", JoinedAt: t0.Add(time.Minute)},
		{ID: "p3", SessionID: "s1", UserID: "u3", DisplayName: "Mira", UserKind: storage.UserRegular, Hidden: true, JoinedAt: t0.Add(2 * time.Minute)},
	}
	pen := signal.Stroke{ID: "x1", Tool: "pen", Color: "#ef4444", Width: 0.006, Points: [][2]float64{{0.1, 0.2}, {0.3, 0.4}}}
	text := signal.Stroke{ID: "x2", Tool: "text", Color: "#facc15", Width: 0.005, Points: [][2]float64{{0.5, 0.5}}, Text: "hier"}
	clear := signal.Stroke{ID: "x3", Clear: true}
	ev := func(seq int64, kind string, p any) storage.SessionEvent {
		return storage.SessionEvent{ID: kind, SessionID: "s1", Seq: seq, At: t0.Add(time.Duration(seq) * time.Minute), Kind: kind, Payload: payload(t, p)}
	}
	events := []storage.SessionEvent{
		ev(1, storage.EventJoined, map[string]any{"participant": "p1", "name": "Jürgen", "device": "desktop"}),
		ev(2, storage.EventChat, map[string]string{"participant": "p2", "name": "Zoë", "text": "Привет"}),
		ev(3, storage.EventSnapshot, map[string]any{"media": "m1", "participant": "p1", "name": "Jürgen", "of": "p2"}),
		ev(4, storage.EventAnnotation, map[string]any{"participant": "p1", "media": "m1", "stroke": pen}),
		ev(5, storage.EventAnnotation, map[string]any{"participant": "p2", "media": "m1", "stroke": clear}),
		ev(6, storage.EventAnnotation, map[string]any{"participant": "p2", "media": "m1", "stroke": text}),
		ev(7, storage.EventFile, map[string]any{"media": "m2", "participant": "p2", "file_name": "manual.pdf"}),
		ev(8, storage.EventEnded, map[string]string{"reason": "everyone left"}),
	}
	media := []storage.Media{
		{ID: "m1", SessionID: "s1", Kind: storage.MediaSnapshot, Name: "snapshot-1.jpg", Participant: "p1", Of: "p2", CreatedAt: t0.Add(3 * time.Minute)},
		{ID: "m2", SessionID: "s1", Kind: storage.MediaFile, Name: "manual.pdf", Participant: "p2"},
		{ID: "m3", SessionID: "s1", Kind: storage.MediaSnapshot, Name: "annotated.png", Participant: "p1",
			Annotations: json.RawMessage(`{"source":"m1","strokes":[]}`), CreatedAt: t0.Add(9 * time.Minute)},
	}
	img := encode(t, "jpeg", frame(64, 36, 255))
	s := pdf.FromHistory(pdf.History{
		Organisation: "Nordwerk", Site: "Plant Łódź", Owner: "Jürgen", Session: sess,
		Participants: parts, Events: events, Media: media,
		Images: map[string][]byte{"m1": img}, Roles: map[string]string{"u1": "Expert"},
	})

	if s.Organisation != "Nordwerk" || s.Session.Site != "Plant Łódź" || s.Session.Kind != "Service request" ||
		s.Session.Status != "Ended" || !s.Session.End.Equal(ended) || s.Session.Owner != "Jürgen" {
		t.Errorf("session words: %+v", s.Session)
	}
	wantParts := []pdf.Participant{
		{Name: "Jürgen", Role: "Expert", Kind: "Registered user", Device: "desktop", Joined: t0, Left: left},
		{Name: "Zoë", Kind: "Guest (app)", Device: "mobile", Joined: t0.Add(time.Minute)},
		{Name: "Mira", Kind: "Registered user (hidden)", Joined: t0.Add(2 * time.Minute)},
	}
	if !reflect.DeepEqual(s.Participants, wantParts) {
		t.Errorf("participants:\n got %+v\nwant %+v", s.Participants, wantParts)
	}
	if want := []pdf.ChatLine{{At: t0.Add(2 * time.Minute), Who: "Zoë", Text: "Привет"}}; !reflect.DeepEqual(s.Chat, want) {
		t.Errorf("chat: %+v", s.Chat)
	}
	var timeline []string
	for _, e := range s.Events {
		timeline = append(timeline, e.Who+": "+e.Text)
	}
	wantTimeline := []string{"Jürgen: joined the call (desktop)", "Jürgen: took a snapshot of Zoë's video",
		"Zoë: shared manual.pdf", ": the call ended: everyone left"}
	if !reflect.DeepEqual(timeline, wantTimeline) {
		t.Errorf("timeline:\n got %q\nwant %q", timeline, wantTimeline)
	}

	if len(s.Snapshots) != 2 {
		t.Fatalf("%d snapshots, want the 2 of kind snapshot", len(s.Snapshots))
	}
	live := s.Snapshots[0]
	wantStrokes := []pdf.Stroke{
		{Tool: "pen", Color: "#ef4444", Width: 0.006, Points: pen.Points},
		{Clear: true},
		{Tool: "text", Color: "#facc15", Width: 0.005, Points: text.Points, Text: "hier"},
	}
	if live.Title != "snapshot-1.jpg" || live.By != "Jürgen" || live.Of != "Zoë" || len(live.Image) != len(img) || live.Note != "" {
		t.Errorf("snapshot: %+v", live)
	}
	if len(live.Strokes) != 3 || !reflect.DeepEqual(live.Strokes[0], wantStrokes[0]) || !live.Strokes[1].Clear ||
		!reflect.DeepEqual(live.Strokes[2], wantStrokes[2]) {
		t.Errorf("strokes:\n got %+v\nwant %+v", live.Strokes, wantStrokes)
	}
	saved := s.Snapshots[1]
	if saved.Note != "saved with its drawing; its image is not on this node" || len(saved.Strokes) != 0 {
		t.Errorf("saved annotated copy: %+v", saved)
	}
	// The summary renders: the one image that is there.
	if pdf := render(t, s); images(pdf) != 1 {
		t.Errorf("%d images in the PDF of the history, want 1", images(pdf))
	}
}
