package node

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"

	"siteline/media/client"
	"siteline/media/record"
	"siteline/media/sfu"
	"siteline/storage"
	"siteline/web"
)

// writeWebM records six seconds of real Opus frames (media/record's test
// clip) into a WebM file in dir, named as the SFU names them.
func writeWebM(t *testing.T, dir, name string) record.File {
	t.Helper()
	raw, err := os.ReadFile("../media/record/testdata/frames.json")
	if err != nil {
		t.Fatal(err)
	}
	var clip struct{ Audio []string }
	if err := json.Unmarshal(raw, &clip); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	start := time.Unix(1700000000, 0)
	now := start
	rec, err := record.New(dir, name, record.WithClock(func() time.Time { mu.Lock(); defer mu.Unlock(); return now }))
	if err != nil {
		t.Fatal(err)
	}
	w, err := rec.AddTrack("mic", webrtc.RTPCodecParameters{RTPCodecCapability: webrtc.RTPCodecCapability{
		MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2}, PayloadType: 111})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 300; i++ {
		frame, err := base64.StdEncoding.DecodeString(clip.Audio[i%len(clip.Audio)])
		if err != nil {
			t.Fatal(err)
		}
		mu.Lock()
		now = start.Add(time.Duration(i) * 20 * time.Millisecond)
		mu.Unlock()
		if err := w.WriteRTP(&rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 111, SequenceNumber: uint16(i),
			Timestamp: uint32(i * 960), SSRC: 2, Marker: i == 0}, Payload: frame}); err != nil {
			t.Fatal(err)
		}
	}
	files, err := rec.Close()
	if err != nil || len(files) != 1 {
		t.Fatalf("close recording = %+v, %v", files, err)
	}
	return files[0]
}

func TestRecordingStoredAndServedWithRanges(t *testing.T) {
	cn := startCallNode(t)
	call := cn.createCall(t, cn.tech)
	tom := cn.join(t, cn.tech, call.ID, "Tom", client.Config{})
	ctx := context.Background()

	dir := filepath.Join(cn.cfg.DataDir, "recording")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	f := writeWebM(t, dir, call.ID+"-"+tom.ID()+"-1700000000000")
	want, err := os.ReadFile(f.Path)
	if err != nil {
		t.Fatal(err)
	}
	by := sfu.ParticipantInfo{ID: tom.ID(), UserID: "someone", Name: "Tom"}
	started := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	if err := cn.n.calls.StoreRecording(ctx, call.ID, by, started, f); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(f.Path); !os.IsNotExist(err) {
		t.Errorf("recording file still in the recording directory: %v", err)
	}

	var list []struct {
		storage.Recording
		URL string `json:"url"`
	}
	if st := cn.tech.do("GET", "/api/v1/calls/"+call.ID+"/recordings", nil, &list); st != 200 || len(list) != 1 {
		t.Fatalf("recordings = %d %+v", st, list)
	}
	r := list[0]
	if r.ContentType != "video/webm" || r.Size != int64(len(want)) || r.SHA256 != f.SHA256 || r.Participant != tom.ID() ||
		r.Status != storage.RecordingComplete || r.DurationMS != f.Duration.Milliseconds() || r.URL != web.RecordingURL(r.ID) ||
		!strings.Contains(r.Name, "Tom") || !r.StartedAt.Equal(started.Add(f.Start)) {
		t.Fatalf("recording = %+v (file %+v)", r, f)
	}
	evs, _ := cn.n.store.SessionEvents(ctx, call.ID)
	if last := evs[len(evs)-1]; last.Kind != storage.EventRecording || !strings.Contains(string(last.Payload), r.ID) {
		t.Errorf("last event = %+v", last)
	}

	// The whole file, then ranges as a <video> asks for them.
	resp, got := cn.tech.get(r.URL, nil)
	if resp.StatusCode != 200 || !bytes.Equal(got, want) || resp.Header.Get("Accept-Ranges") != "bytes" ||
		resp.Header.Get("Content-Type") != "video/webm" || !strings.HasPrefix(resp.Header.Get("Content-Disposition"), "inline") {
		t.Fatalf("GET recording = %d, %d bytes, %v", resp.StatusCode, len(got), resp.Header)
	}
	size := len(want)
	for _, tc := range []struct {
		rng        string
		start, end int // inclusive
	}{
		{"bytes=100-199", 100, 199},
		{"bytes=1000-", 1000, size - 1},
		{"bytes=-50", size - 50, size - 1},
		{"bytes=10-999999999", 10, size - 1},
	} {
		resp, got := cn.tech.get(r.URL, map[string]string{"Range": tc.rng})
		wantRange := "bytes " + strconv.Itoa(tc.start) + "-" + strconv.Itoa(tc.end) + "/" + strconv.Itoa(size)
		if resp.StatusCode != 206 || !bytes.Equal(got, want[tc.start:tc.end+1]) || resp.Header.Get("Content-Range") != wantRange {
			t.Errorf("Range %s = %d, %d bytes, Content-Range %q; want 206, %d bytes, %q", tc.rng, resp.StatusCode, len(got),
				resp.Header.Get("Content-Range"), tc.end-tc.start+1, wantRange)
		}
	}
	if resp, _ := cn.tech.get(r.URL, map[string]string{"Range": "bytes=" + strconv.Itoa(size) + "-"}); resp.StatusCode != 416 ||
		resp.Header.Get("Content-Range") != "bytes */"+strconv.Itoa(size) {
		t.Errorf("Range past the end = %d %q", resp.StatusCode, resp.Header.Get("Content-Range"))
	}
	// The session page plays it.
	st, page := cn.tech.raw("GET", "/sessions/"+call.ID, "", nil)
	if st != 200 || !bytes.Contains(page, []byte(`<video controls preload="metadata" src="`+r.URL+`"`)) {
		t.Errorf("session page = %d, has the player: %v", st, bytes.Contains(page, []byte("<video")))
	}
}
