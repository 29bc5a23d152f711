package sfu_test

import (
	"context"
	"errors"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/at-wat/ebml-go"
	"github.com/at-wat/ebml-go/webm"

	"siteline/internal/testutil"
	"siteline/media/client"
	"siteline/media/sfu"
	"siteline/media/signal"
)

// history is a Recorder that keeps what it is asked to write, and can be
// made to fail.
type history struct {
	mu     sync.Mutex
	events []string
	fail   error
}

func (h *history) add(kind string) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.fail != nil {
		return h.fail
	}
	h.events = append(h.events, kind)
	return nil
}

func (h *history) Chat(string, sfu.ParticipantInfo, signal.Message) error { return h.add("chat") }
func (h *history) End(string, sfu.ParticipantInfo) error                  { return h.add("end") }
func (h *history) Annotate(_ string, _ sfu.ParticipantInfo, m signal.Message) error {
	return h.add("annotate " + m.Stroke.ID)
}
func (h *history) Recording(_ string, _ sfu.ParticipantInfo, on bool) error {
	if on {
		return h.add("recording on")
	}
	return h.add("recording off")
}

func (h *history) list() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]string(nil), h.events...)
}

// webmFile is a WebM file read back with ebml-go.
type webmFile struct {
	Header  webm.EBMLHeader `ebml:"EBML"`
	Segment webm.Segment    `ebml:"Segment"`
}

func TestRecordingWritesEveryPublisher(t *testing.T) {
	dir := t.TempDir()
	hist := &history{}
	recorded := make(chan sfu.Recorded, 1)
	h := startSFU(t, func(c *sfu.Config) {
		c.RecordDir = dir
		c.Recorder = hist
		c.OnRecorded = func(r sfu.Recorded) { recorded <- r }
	})
	tech := h.join("tech", "r1", client.JoinOptions{})
	expert := h.join("expert", "r1", client.JoinOptions{})
	pubs := h.publish(tech, client.TrackSpec{Kind: "audio"}, client.TrackSpec{Kind: "video"})
	trackOf(t, expert, tech.ID(), "video")

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	h.auth.refuse("tech", signal.PermRecord)
	if err := tech.Send(ctx, signal.Message{V: 1, Type: signal.TypeRecord, ID: "r0", Recording: true}); err != nil {
		t.Fatal(err)
	}
	refused := next(t, tech, "tech's record refused", isType(signal.TypeError))
	if refused.Permission != signal.PermRecord {
		t.Fatalf("refusal names %q, want %s", refused.Permission, signal.PermRecord)
	}

	if err := expert.Send(ctx, signal.Message{V: 1, Type: signal.TypeRecord, ID: "r1", Recording: true}); err != nil {
		t.Fatal(err)
	}
	on := func(want bool) func(signal.Message) bool {
		return func(m signal.Message) bool { return m.Type == signal.TypeRecording && m.Recording == want }
	}
	next(t, tech, "tech is told recording is on", on(true))
	next(t, expert, "expert is told recording is on", on(true))
	if err := expert.Send(ctx, signal.Message{V: 1, Type: signal.TypeRecord, ID: "r2", Recording: true}); err != nil {
		t.Fatal(err)
	}
	if m := next(t, expert, "a second start refused", isType(signal.TypeError)); m.Code != signal.CodeConflict {
		t.Fatalf("second start: %+v, want a conflict", m)
	}

	// Two seconds of media: 60 video frames at 30 a second.
	video := pubs[1]
	start := sum(video.Sent())
	testutil.Eventually(t, 20*time.Second, "60 more video frames sent", func() bool { return sum(video.Sent()) >= start+120 })

	if err := expert.Send(ctx, signal.Message{V: 1, Type: signal.TypeRecord, ID: "r3", Recording: false}); err != nil {
		t.Fatal(err)
	}
	next(t, tech, "tech is told recording is off", on(false))
	var rec sfu.Recorded
	select {
	case rec = <-recorded:
	case <-ctx.Done():
		t.Fatal("no recording reported")
	}
	if got := hist.list(); len(got) != 2 || got[0] != "recording on" || got[1] != "recording off" {
		t.Fatalf("history = %v, want recording on, recording off", got)
	}
	if len(rec.Files) != 1 {
		t.Fatalf("files = %+v, want one (the tech's)", rec.Files)
	}
	wall := rec.StoppedAt.Sub(rec.StartedAt)
	f := rec.Files[0]
	if d := f.Duration; d < wall*8/10 || d > wall*12/10 {
		t.Errorf("file duration %v, recording ran %v: more than 20%% apart", d, wall)
	}
	r, err := os.Open(f.Path)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var w webmFile
	if err := ebml.Unmarshal(r, &w); err != nil {
		t.Fatalf("parse %s: %v", f.Path, err)
	}
	if w.Header.DocType != "webm" {
		t.Errorf("doc type %q, want webm", w.Header.DocType)
	}
	codecs := map[string]bool{}
	for _, e := range w.Segment.Tracks.TrackEntry {
		codecs[e.CodecID] = true
	}
	if !codecs["V_VP8"] || !codecs["A_OPUS"] || len(codecs) != 2 {
		t.Errorf("tracks %v, want V_VP8 and A_OPUS", codecs)
	}
	ms := time.Duration(w.Segment.Info.Duration*float64(w.Segment.Info.TimecodeScale)) * time.Nanosecond
	if ms < wall*8/10 || ms > wall*12/10 {
		t.Errorf("Duration in the file %v, recording ran %v", ms, wall)
	}
}

func sum(v []uint64) uint64 {
	var n uint64
	for _, x := range v {
		n += x
	}
	return n
}

func TestRecordingEndsWithTheCall(t *testing.T) {
	recorded := make(chan sfu.Recorded, 1)
	h := startSFU(t, func(c *sfu.Config) {
		c.RecordDir = t.TempDir()
		c.OnRecorded = func(r sfu.Recorded) { recorded <- r }
	})
	tech := h.join("tech", "r2", client.JoinOptions{})
	pubs := h.publish(tech, client.TrackSpec{Kind: "video"})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := tech.Send(ctx, signal.Message{V: 1, Type: signal.TypeRecord, Recording: true}); err != nil {
		t.Fatal(err)
	}
	next(t, tech, "recording on", isType(signal.TypeRecording))
	start := sum(pubs[0].Sent())
	testutil.Eventually(t, 20*time.Second, "frames sent", func() bool { return sum(pubs[0].Sent()) >= start+60 })
	if err := tech.Leave(ctx); err != nil {
		t.Fatal(err)
	}
	select {
	case rec := <-recorded:
		if len(rec.Files) != 1 || rec.Files[0].Size == 0 {
			t.Fatalf("files = %+v, want one", rec.Files)
		}
	case <-ctx.Done():
		t.Fatal("the last participant left and the recording was not finished")
	}
}

func TestRecordingOffWithoutDirectory(t *testing.T) {
	h := startSFU(t)
	tech := h.join("tech", "r3", client.JoinOptions{})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := tech.Send(ctx, signal.Message{V: 1, Type: signal.TypeRecord, ID: "x", Recording: true}); err != nil {
		t.Fatal(err)
	}
	m := next(t, tech, "refused", isType(signal.TypeError))
	if m.Code != signal.CodeConflict {
		t.Fatalf("got %+v, want a conflict saying recording is off", m)
	}
}

func TestAnnotateAndPoint(t *testing.T) {
	hist := &history{}
	h := startSFU(t, func(c *sfu.Config) { c.Recorder = hist })
	tech := h.join("tech", "a1", client.JoinOptions{})
	expert := h.join("expert", "a1", client.JoinOptions{})
	lead := h.join("lead", "a1", client.JoinOptions{Hidden: true})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	stroke := &signal.Stroke{ID: "s1", Tool: "arrow", Color: "#ff3b30", Width: 0.01, Points: [][2]float64{{0.1, 0.2}, {0.5, 0.5}}}
	if err := expert.Send(ctx, signal.Message{V: 1, Type: signal.TypeAnnotate, Media: &signal.Media{ID: "m1"}, Stroke: stroke}); err != nil {
		t.Fatal(err)
	}
	got := next(t, tech, "tech sees the stroke", isType(signal.TypeAnnotate))
	if got.Participant != expert.ID() || got.Stroke == nil || got.Stroke.ID != "s1" || got.Media.ID != "m1" {
		t.Fatalf("tech got %+v", got)
	}
	next(t, lead, "the supervisor sees the stroke", isType(signal.TypeAnnotate))
	if h := hist.list(); len(h) != 1 || h[0] != "annotate s1" {
		t.Fatalf("history = %v, want the stroke", h)
	}

	// A stroke that cannot be stored is not shown to anyone.
	hist.mu.Lock()
	hist.fail = errors.New("disk full")
	hist.mu.Unlock()
	stroke2 := *stroke
	stroke2.ID = "s2"
	if err := expert.Send(ctx, signal.Message{V: 1, Type: signal.TypeAnnotate, Media: &signal.Media{ID: "m1"}, Stroke: &stroke2}); err != nil {
		t.Fatal(err)
	}
	next(t, expert, "unstored stroke refused", isType(signal.TypeError))

	// Bad strokes are refused by the protocol.
	bad := *stroke
	bad.Points = [][2]float64{{0.1, 0.2}, {1.5, 0.5}}
	if err := expert.Send(ctx, signal.Message{V: 1, Type: signal.TypeAnnotate, Media: &signal.Media{ID: "m1"}, Stroke: &bad}); err != nil {
		t.Fatal(err)
	}
	if m := next(t, expert, "stroke off the image refused", isType(signal.TypeError)); m.Code != signal.CodeBadMessage {
		t.Fatalf("got %+v, want bad-message", m)
	}

	// The pointer goes to the others, not stored; no position hides it.
	if err := expert.Send(ctx, signal.Message{V: 1, Type: signal.TypePointer, Point: &signal.Point{Participant: tech.ID(), X: 0.25, Y: 0.75}}); err != nil {
		t.Fatal(err)
	}
	p := next(t, tech, "tech sees the pointer", isType(signal.TypePointer))
	if p.Point == nil || p.Point.X != 0.25 || p.Point.Y != 0.75 || p.Participant != expert.ID() {
		t.Fatalf("pointer = %+v", p)
	}
	for _, m := range tech.Seen() {
		if m.Type == signal.TypeAnnotate && m.Stroke.ID == "s2" {
			t.Fatal("a stroke the history refused was shown")
		}
	}
	if err := expert.Send(ctx, signal.Message{V: 1, Type: signal.TypePointer}); err != nil {
		t.Fatal(err)
	}
	next(t, tech, "tech sees the pointer hidden", func(m signal.Message) bool { return m.Type == signal.TypePointer && m.Point == nil })

	h.auth.refuse("tech", signal.PermAnnotate)
	if err := tech.Send(ctx, signal.Message{V: 1, Type: signal.TypePointer, Point: &signal.Point{Participant: expert.ID(), X: 0.5, Y: 0.5}}); err != nil {
		t.Fatal(err)
	}
	if m := next(t, tech, "pointer refused", isType(signal.TypeError)); m.Permission != signal.PermAnnotate {
		t.Fatalf("got %+v, want refusal naming %s", m, signal.PermAnnotate)
	}
}

// TestRecordingLateJoinerOneFile: someone who starts publishing camera and
// microphone while the call is recorded gets one file holding both, not a
// file per track.
func TestRecordingLateJoinerOneFile(t *testing.T) {
	recorded := make(chan sfu.Recorded, 1)
	h := startSFU(t, func(c *sfu.Config) {
		c.RecordDir = t.TempDir()
		c.OnRecorded = func(r sfu.Recorded) { recorded <- r }
	})
	tech := h.join("tech", "r4", client.JoinOptions{})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := tech.Send(ctx, signal.Message{V: 1, Type: signal.TypeRecord, Recording: true}); err != nil {
		t.Fatal(err)
	}
	next(t, tech, "recording on", isType(signal.TypeRecording))
	expert := h.join("expert", "r4", client.JoinOptions{})
	pubs := h.publish(expert, client.TrackSpec{Kind: "audio"}, client.TrackSpec{Kind: "video"})
	trackOf(t, tech, expert.ID(), "video")
	start := sum(pubs[1].Sent())
	testutil.Eventually(t, 20*time.Second, "frames sent", func() bool { return sum(pubs[1].Sent()) >= start+120 })
	if err := tech.Send(ctx, signal.Message{V: 1, Type: signal.TypeRecord, Recording: false}); err != nil {
		t.Fatal(err)
	}
	select {
	case rec := <-recorded:
		if len(rec.Files) != 1 || len(rec.Files[0].Tracks) != 2 {
			t.Fatalf("files = %+v, want one file with the expert's two tracks", rec.Files)
		}
	case <-ctx.Done():
		t.Fatal("no recording reported")
	}
}

// TestRecordingRestartAtOnce: a recording started right after one stops
// (while the first is still being finished) records the tracks too.
func TestRecordingRestartAtOnce(t *testing.T) {
	testutil.System(t)
	recorded := make(chan sfu.Recorded, 2)
	h := startSFU(t, func(c *sfu.Config) {
		c.RecordDir = t.TempDir()
		c.OnRecorded = func(r sfu.Recorded) { recorded <- r }
	})
	tech := h.join("tech", "r5", client.JoinOptions{})
	expert := h.join("expert", "r5", client.JoinOptions{})
	pubs := h.publish(tech, client.TrackSpec{Kind: "audio"}, client.TrackSpec{Kind: "video"})
	trackOf(t, expert, tech.ID(), "video")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	record := func(on bool) {
		t.Helper()
		if err := expert.Send(ctx, signal.Message{V: 1, Type: signal.TypeRecord, Recording: on}); err != nil {
			t.Fatal(err)
		}
		next(t, expert, "recording is told", func(m signal.Message) bool { return m.Type == signal.TypeRecording && m.Recording == on })
	}
	frames := func(n uint64) {
		t.Helper()
		start := sum(pubs[1].Sent())
		testutil.Eventually(t, 20*time.Second, "frames sent", func() bool { return sum(pubs[1].Sent()) >= start+n })
	}
	// Each recording runs 2.5 s: long enough for a keyframe whatever the
	// publisher's last one was (the recorder asks again every second).
	record(true)
	frames(150)
	record(false)
	record(true)
	frames(150)
	record(false)
	for i := range 2 {
		select {
		case rec := <-recorded:
			if len(rec.Files) != 1 || len(rec.Files[0].Tracks) != 2 {
				t.Fatalf("recording %d: files %+v, want one with both tracks", i+1, rec.Files)
			}
		case <-ctx.Done():
			t.Fatalf("recording %d not reported", i+1)
		}
	}
}
