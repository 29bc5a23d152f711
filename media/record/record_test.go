package record

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/at-wat/ebml-go"
	"github.com/at-wat/ebml-go/webm"
	"github.com/pion/rtp"
	"github.com/pion/rtp/codecs"
	"github.com/pion/webrtc/v4"
)

var (
	vp8Codec  = webrtc.RTPCodecParameters{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8, ClockRate: 90000}, PayloadType: 96}
	opusCodec = webrtc.RTPCodecParameters{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2}, PayloadType: 111}
)

// clip is real media encoded by Chromium's WebCodecs (testdata/frames.json):
// VP8 64x48 at 30 fps with keyframes at frames 0 and 15, and 20 ms Opus
// frames.
type clip struct {
	video []clipFrame
	audio [][]byte
}

type clipFrame struct {
	key  bool
	data []byte
}

func loadClip(tb testing.TB) clip {
	tb.Helper()
	b, err := os.ReadFile("testdata/frames.json")
	if err != nil {
		tb.Fatal(err)
	}
	var j struct {
		Video []struct {
			Key  bool
			Data string
		}
		Audio []string
	}
	if err := json.Unmarshal(b, &j); err != nil {
		tb.Fatal(err)
	}
	var c clip
	for _, v := range j.Video {
		d, err := base64.StdEncoding.DecodeString(v.Data)
		if err != nil {
			tb.Fatal(err)
		}
		c.video = append(c.video, clipFrame{v.Key, d})
	}
	for _, a := range j.Audio {
		d, err := base64.StdEncoding.DecodeString(a)
		if err != nil {
			tb.Fatal(err)
		}
		c.audio = append(c.audio, d)
	}
	return c
}

// sent is a packet with the media time at which it is sent.
type sent struct {
	at    time.Duration
	video bool
	pkt   *rtp.Packet
}

// packetize turns the clip, looped for dur and started at video frame
// skip, into RTP packets in send order. Sequence numbers and timestamps
// start just before they wrap.
func packetize(c clip, dur time.Duration, skip int) []sent {
	var out []sent
	// Video: 30 fps, small MTU so that frames span several packets.
	var pay codecs.VP8Payloader
	seq, ts := uint16(65500), uint32(0xffffffff-20*3000)
	for i := 0; time.Duration(i)*time.Second/30 < dur; i++ {
		f := c.video[(i+skip)%len(c.video)]
		payloads := pay.Payload(60, f.data)
		for k, p := range payloads {
			out = append(out, sent{
				at:    time.Duration(i) * time.Second / 30,
				video: true,
				pkt: &rtp.Packet{
					Header: rtp.Header{Version: 2, PayloadType: 96, SequenceNumber: seq, Timestamp: ts,
						Marker: k == len(payloads)-1, SSRC: 1},
					Payload: p,
				},
			})
			seq++
		}
		ts += 3000
	}
	// Audio: 20 ms frames, one a packet.
	seq, ts = 65000, 0xffffffff-30*960
	for i := 0; time.Duration(i)*20*time.Millisecond < dur; i++ {
		out = append(out, sent{
			at: time.Duration(i) * 20 * time.Millisecond,
			pkt: &rtp.Packet{
				Header:  rtp.Header{Version: 2, PayloadType: 111, SequenceNumber: seq, Timestamp: ts, Marker: i == 0, SSRC: 2},
				Payload: c.audio[i%len(c.audio)],
			},
		})
		seq++
		ts += 960
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].at < out[j].at })
	return out
}

// fakeClock is a clock the test moves as it feeds media.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

// parsed is a WebM file read back with ebml-go.
type parsed struct {
	Header  webm.EBMLHeader `ebml:"EBML"`
	Segment webm.Segment    `ebml:"Segment"`
}

type block struct {
	ms  int64
	key bool
}

func parse(t *testing.T, path string) (parsed, map[uint64][]block) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var p parsed
	if err := ebml.Unmarshal(f, &p); err != nil {
		t.Fatalf("unmarshal %s: %v", path, err)
	}
	blocks := map[uint64][]block{}
	for _, c := range p.Segment.Cluster {
		for _, b := range c.SimpleBlock {
			blocks[b.TrackNumber] = append(blocks[b.TrackNumber], block{int64(c.Timecode) + int64(b.Timecode), b.Keyframe})
		}
	}
	return p, blocks
}

func trackByCodec(p parsed, codecID string) (webm.TrackEntry, bool) {
	for _, e := range p.Segment.Tracks.TrackEntry {
		if e.CodecID == codecID {
			return e, true
		}
	}
	return webm.TrackEntry{}, false
}

func TestRecordAudioVideo(t *testing.T) {
	const media = 6 * time.Second
	c := loadClip(t)
	dir := t.TempDir()
	clock := &fakeClock{t: time.Unix(1700000000, 0)}
	start := clock.now()
	var reqMu sync.Mutex
	requests := 0
	rec, err := New(dir, "call-1", WithClock(clock.now), WithKeyframeRequest(func(id string) {
		reqMu.Lock()
		defer reqMu.Unlock()
		if id != "cam" {
			t.Errorf("keyframe request for %q", id)
		}
		requests++
	}))
	if err != nil {
		t.Fatal(err)
	}
	audio, err := rec.AddTrack("mic", opusCodec)
	if err != nil {
		t.Fatal(err)
	}
	video, err := rec.AddTrack("cam", vp8Codec)
	if err != nil {
		t.Fatal(err)
	}

	// Start at video frame 5, so that the first 10 frames come before
	// the first keyframe (frame 15 of the clip) and must be dropped.
	pkts := packetize(c, media, 5)
	// Reorder: swap a few pairs of neighbouring packets of each track.
	// Lose: drop one packet of the video frame sent at 2.5 s, an inter
	// frame, so video must wait for the next keyframe.
	var lost *rtp.Packet
	for i := range pkts {
		if pkts[i].video && lost == nil && pkts[i].at >= 2500*time.Millisecond && !pkts[i].pkt.Marker {
			lost = pkts[i].pkt
		}
	}
	for _, i := range []int{40, 300, 301, 600} {
		j := i + 2 // the next packets are of either track; swap within a track
		for j < len(pkts) && pkts[j].video != pkts[i].video {
			j++
		}
		pkts[i], pkts[j] = pkts[j], pkts[i]
	}
	for _, s := range pkts {
		if s.pkt == lost {
			continue
		}
		clock.set(start.Add(s.at + 3*time.Millisecond))
		w := audio
		if s.video {
			w = video
		}
		if err := w.WriteRTP(s.pkt); err != nil {
			t.Fatalf("write at %v: %v", s.at, err)
		}
	}
	files, err := rec.Close()
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != 1 {
		t.Fatalf("got %d files, want 1: %+v", len(files), files)
	}
	file := files[0]
	if file.Path != filepath.Join(dir, "call-1.webm") {
		t.Errorf("path %s", file.Path)
	}
	if got := strings.Join(file.Tracks, ","); got != "mic,cam" {
		t.Errorf("tracks %s", got)
	}
	checkFile(t, dir, file)

	p, blocks := parse(t, file.Path)
	if p.Header.DocType != "webm" {
		t.Errorf("DocType %q", p.Header.DocType)
	}
	if n := len(p.Segment.Tracks.TrackEntry); n != 2 {
		t.Fatalf("%d tracks", n)
	}
	a, ok := trackByCodec(p, "A_OPUS")
	if !ok || a.TrackType != 2 || a.Audio == nil || a.Audio.SamplingFrequency != 48000 || len(a.CodecPrivate) != 19 {
		t.Errorf("audio track %+v", a)
	}
	v, ok := trackByCodec(p, "V_VP8")
	if !ok || v.TrackType != 1 || v.Video == nil || v.Video.PixelWidth != 64 || v.Video.PixelHeight != 48 {
		t.Errorf("video track %+v", v)
	}
	for n, bs := range blocks {
		for i := 1; i < len(bs); i++ {
			if bs[i].ms < bs[i-1].ms {
				t.Fatalf("track %d: block %d at %d ms after %d ms", n, i, bs[i].ms, bs[i-1].ms)
			}
		}
	}
	vb := blocks[v.TrackNumber]
	if len(vb) == 0 || !vb[0].key {
		t.Fatalf("video does not start with a keyframe: %v", vb[:min(len(vb), 3)])
	}
	// The first keyframe is clip frame 15, sent at 10 frames = 333 ms.
	if vb[0].ms < 300 || vb[0].ms > 400 {
		t.Errorf("first video block at %d ms, want about 333", vb[0].ms)
	}
	// 180 frames sent; 10 before the first keyframe and the frames from
	// the loss at 2.5 s to the next keyframe are dropped.
	if n := len(vb); n < 130 || n > 170 {
		t.Errorf("%d video blocks", n)
	}
	if n := len(blocks[a.TrackNumber]); n < 295 || n > 300 {
		t.Errorf("%d audio blocks, want about 300", n)
	}
	dur := time.Duration(p.Segment.Info.Duration*float64(p.Segment.Info.TimecodeScale)) * time.Nanosecond
	if dur < media*8/10 || dur > media*12/10 {
		t.Errorf("Duration %v, fed %v", dur, media)
	}
	if d := file.Duration - dur; d < -time.Millisecond || d > time.Millisecond {
		t.Errorf("File.Duration %v, Info.Duration %v", file.Duration, dur)
	}
	if p.Segment.Cues == nil || len(p.Segment.Cues.CuePoint) == 0 {
		t.Fatalf("no Cues")
	}
	reqMu.Lock()
	defer reqMu.Unlock()
	if requests < 2 { // at start and after the loss
		t.Errorf("%d keyframe requests", requests)
	}
	t.Logf("%d packets fed, 1 lost; %d video and %d audio blocks; %d clusters, %d cues; Duration %v; %d bytes; %d keyframe requests",
		len(pkts)-1, len(vb), len(blocks[a.TrackNumber]), len(p.Segment.Cluster), len(p.Segment.Cues.CuePoint), dur, file.Size, requests)
}

// checkFile checks a File against the file on disk and that no temporary
// file is left.
func checkFile(t *testing.T, dir string, f File) {
	t.Helper()
	b, err := os.ReadFile(f.Path)
	if err != nil {
		t.Fatal(err)
	}
	if int64(len(b)) != f.Size {
		t.Errorf("size %d, file has %d", f.Size, len(b))
	}
	sum := sha256.Sum256(b)
	if hex.EncodeToString(sum[:]) != f.SHA256 {
		t.Errorf("SHA-256 mismatch")
	}
	tmps, _ := filepath.Glob(filepath.Join(dir, ".*.tmp"))
	if len(tmps) != 0 {
		t.Errorf("temporary files left: %v", tmps)
	}
}

// A video track that starts after the audio has been written closes the
// first file and starts a second one with both tracks.
func TestRecordLateTrack(t *testing.T) {
	c := loadClip(t)
	dir := t.TempDir()
	clock := &fakeClock{t: time.Unix(1700000000, 0)}
	start := clock.now()
	rec, err := New(dir, "late", WithClock(clock.now))
	if err != nil {
		t.Fatal(err)
	}
	audio, err := rec.AddTrack("mic", opusCodec)
	if err != nil {
		t.Fatal(err)
	}
	pkts := packetize(c, 4*time.Second, 0)
	var video *TrackWriter
	for _, s := range pkts {
		clock.set(start.Add(s.at))
		if s.video && s.at < 2*time.Second {
			continue // camera off
		}
		w := audio
		if s.video {
			if video == nil {
				if video, err = rec.AddTrack("cam", vp8Codec); err != nil {
					t.Fatal(err)
				}
			}
			w = video
		}
		if err := w.WriteRTP(s.pkt); err != nil {
			t.Fatal(err)
		}
	}
	files, err := rec.Close()
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != 2 {
		t.Fatalf("got %d files, want 2: %+v", len(files), files)
	}
	if got := strings.Join(files[0].Tracks, ","); got != "mic" {
		t.Errorf("first file tracks %s", got)
	}
	if got := strings.Join(files[1].Tracks, ","); got != "mic,cam" {
		t.Errorf("second file tracks %s", got)
	}
	if filepath.Base(files[1].Path) != "late-2.webm" {
		t.Errorf("second path %s", files[1].Path)
	}
	if s := files[1].Start; s < 1900*time.Millisecond || s > 2100*time.Millisecond {
		t.Errorf("second file starts at %v, want about 2s", s)
	}
	if d := files[0].Duration + files[1].Duration; d < 3500*time.Millisecond || d > 4100*time.Millisecond {
		t.Errorf("durations add up to %v", d)
	}
	for _, f := range files {
		checkFile(t, dir, f)
		p, blocks := parse(t, f.Path)
		if len(p.Segment.Tracks.TrackEntry) != len(f.Tracks) {
			t.Errorf("%s: %d tracks in file", f.Path, len(p.Segment.Tracks.TrackEntry))
		}
		if len(blocks) != len(f.Tracks) {
			t.Errorf("%s: blocks on %d tracks", f.Path, len(blocks))
		}
	}
}

func TestAddTrackErrors(t *testing.T) {
	rec, err := New(t.TempDir(), "errs")
	if err != nil {
		t.Fatal(err)
	}
	h264 := webrtc.RTPCodecParameters{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeH264, ClockRate: 90000}}
	for _, tc := range []struct {
		id    string
		codec webrtc.RTPCodecParameters
		want  error
	}{
		{"h264", h264, ErrUnsupportedCodec},
		{"cam", vp8Codec, nil},
		{"cam2", vp8Codec, ErrTrackExists},
		{"cam", opusCodec, ErrTrackExists},
		{"mic", opusCodec, nil},
	} {
		if _, err := rec.AddTrack(tc.id, tc.codec); !errors.Is(err, tc.want) {
			t.Errorf("AddTrack(%s, %s) = %v, want %v", tc.id, tc.codec.MimeType, err, tc.want)
		}
	}
	if _, err := rec.Close(); !errors.Is(err, ErrNoMedia) {
		t.Errorf("Close of an empty recording: %v", err)
	}
	if _, err := rec.AddTrack("late", opusCodec); !errors.Is(err, ErrClosed) {
		t.Errorf("AddTrack after Close: %v", err)
	}
}

func TestNewErrors(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "taken.webm"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ dir, name string }{
		{dir, ""},
		{dir, "../x"},
		{dir, ".hidden"},
		{dir, "taken"},
		{filepath.Join(dir, "missing"), "x"},
	} {
		if _, err := New(tc.dir, tc.name); err == nil {
			t.Errorf("New(%s, %q) succeeded", tc.dir, tc.name)
		}
	}
}

func TestVP8Keyframe(t *testing.T) {
	c := loadClip(t)
	for i, f := range c.video {
		key, w, h := vp8Keyframe(f.data)
		if key != f.key {
			t.Errorf("frame %d: key %v, want %v", i, key, f.key)
		}
		if key && (w != 64 || h != 48) {
			t.Errorf("frame %d: %dx%d", i, w, h)
		}
	}
	if key, _, _ := vp8Keyframe([]byte{0x10, 0x02}); key {
		t.Error("short frame taken for a keyframe")
	}
}

func TestTimestampWrap(t *testing.T) {
	clock := &fakeClock{t: time.Unix(0, 0)}
	rec, err := New(t.TempDir(), "wrap", WithClock(clock.now))
	if err != nil {
		t.Fatal(err)
	}
	tw, err := rec.AddTrack("mic", opusCodec)
	if err != nil {
		t.Fatal(err)
	}
	clock.set(time.Unix(0, 0).Add(250 * time.Millisecond))
	for _, tc := range []struct {
		rtp  uint32
		want int64
	}{
		{0xffffffff - 959, 250},
		{0, 270}, // wrapped
		{960, 290},
		{0, 270}, // a late sample
		{0x7fffffff, 250 + (0x80000000+959)*1000/48000},
	} {
		if got := tw.timestamp(tc.rtp); got != tc.want {
			t.Errorf("timestamp(%#x) = %d, want %d", tc.rtp, got, tc.want)
		}
	}
}

// The SFU writes each track from its own goroutine.
func TestRecordConcurrentTracks(t *testing.T) {
	c := loadClip(t)
	dir := t.TempDir()
	rec, err := New(dir, "conc")
	if err != nil {
		t.Fatal(err)
	}
	audio, err := rec.AddTrack("mic", opusCodec)
	if err != nil {
		t.Fatal(err)
	}
	video, err := rec.AddTrack("cam", vp8Codec)
	if err != nil {
		t.Fatal(err)
	}
	pkts := packetize(c, 2*time.Second, 0)
	var wg sync.WaitGroup
	for _, w := range []*TrackWriter{audio, video} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for _, s := range pkts {
				if s.video == (w == video) {
					if err := w.WriteRTP(s.pkt); err != nil {
						t.Error(err)
						return
					}
				}
			}
			if err := w.Close(); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	files, err := rec.Close()
	if err != nil {
		t.Fatal(err)
	}
	checkFile(t, dir, files[0])
	p, blocks := parse(t, files[0].Path)
	if len(p.Segment.Tracks.TrackEntry) != 2 || len(blocks) != 2 {
		t.Fatalf("%d tracks, blocks on %d", len(p.Segment.Tracks.TrackEntry), len(blocks))
	}
	for n, bs := range blocks {
		for i := 1; i < len(bs); i++ {
			if bs[i].ms < bs[i-1].ms {
				t.Fatalf("track %d: block %d at %d ms after %d ms", n, i, bs[i].ms, bs[i-1].ms)
			}
		}
	}
}
