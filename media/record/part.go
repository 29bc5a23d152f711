package record

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/at-wat/ebml-go/mkvcore"
	"github.com/at-wat/ebml-go/webm"
)

const (
	// Clusters start at a video keyframe once they hold clusterMin ms, and
	// always at clusterMax ms (a WebRTC sender sends keyframes only when
	// asked, so most clusters end at clusterMax).
	clusterMin = 1000
	clusterMax = 5000
	// cuesReserved is the space kept at the head of the file for Cues: one
	// cue point takes about 20 bytes, one per cluster, so 64 KiB indexes
	// about four hours; ebml-go thins the cues out beyond that.
	cuesReserved = 64 << 10
	// opusSeekPreRoll is what the WebM spec asks for Opus, in ns.
	opusSeekPreRoll = 80 * 1000 * 1000
)

// part is one WebM file being written under a temporary name.
type part struct {
	final  string
	sink   *sink
	tracks []*TrackWriter
	ws     []webm.BlockWriteCloser
	first  int64
	last   int64
	wrote  bool
}

func createPart(dir, name, final string, tracks []*TrackWriter, date time.Time) (*part, error) {
	f, err := os.CreateTemp(dir, "."+name+"-*.webm.tmp")
	if err != nil {
		return nil, fmt.Errorf("create file: %w", err)
	}
	p := &part{final: final, sink: &sink{f: f}, tracks: tracks}
	entries := make([]webm.TrackEntry, len(tracks))
	main := uint64(1)
	for i, t := range tracks {
		e := webm.TrackEntry{
			Name:        t.id,
			TrackNumber: uint64(i + 1),
			TrackUID:    uint64(i + 1),
			CodecID:     t.codecID,
		}
		if t.video {
			e.TrackType = 1
			e.Video = &webm.Video{PixelWidth: uint64(t.width), PixelHeight: uint64(t.height)}
			main = e.TrackNumber
		} else {
			e.TrackType = 2
			e.CodecPrivate = opusHead(t.channels, t.clockRate)
			e.SeekPreRoll = opusSeekPreRoll
			e.Audio = &webm.Audio{SamplingFrequency: float64(t.clockRate), Channels: uint64(t.channels)}
		}
		entries[i] = e
	}
	ws, err := webm.NewSimpleBlockWriter(p.sink, entries,
		mkvcore.WithSegmentInfo(&webm.Info{
			TimecodeScale: 1000000, // 1 ms
			MuxingApp:     "siteline/media/record (ebml-go)",
			WritingApp:    "siteline",
			DateUTC:       date.UTC(),
		}),
		// Frames come interleaved already: no sorter goroutines.
		mkvcore.WithBlockInterceptor(nil),
		mkvcore.WithSeekHead(true),
		mkvcore.WithCues(cuesReserved),
		mkvcore.WithMinMaxClusterDuration(main, clusterMin, clusterMax),
		mkvcore.WithOnFatalHandler(p.sink.fail),
		mkvcore.WithOnErrorHandler(p.sink.fail),
	)
	if err != nil {
		p.sink.f.Close()
		os.Remove(f.Name())
		return nil, fmt.Errorf("write header: %w", err)
	}
	p.ws = ws
	return p, nil
}

func (p *part) has(t *TrackWriter) bool {
	for _, o := range p.tracks {
		if o == t {
			return true
		}
	}
	return false
}

func (p *part) write(t *TrackWriter, f frame) error {
	if err := p.sink.error(); err != nil {
		return err
	}
	for i, o := range p.tracks {
		if o == t {
			if !p.wrote {
				p.first, p.wrote = f.ts, true
			}
			p.last = f.ts
			_, err := p.ws[i].Write(f.key, f.ts, f.data)
			return err
		}
	}
	return nil
}

// close finalises the file, syncs it, hashes it and renames it into
// place. On error the temporary file is removed.
func (p *part) close() (File, error) {
	// Closing the last track writer waits for ebml-go to write the Cues
	// and the Duration.
	for _, w := range p.ws {
		w.Close()
	}
	f := p.sink.f
	tmp := f.Name()
	fail := func(err error) (File, error) {
		f.Close()
		os.Remove(tmp)
		return File{}, fmt.Errorf("finish %s: %w", filepath.Base(p.final), err)
	}
	if err := p.sink.error(); err != nil {
		return fail(err)
	}
	if err := f.Sync(); err != nil {
		return fail(err)
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return fail(err)
	}
	h := sha256.New()
	size, err := io.Copy(h, f)
	if err != nil {
		return fail(err)
	}
	if err := f.Close(); err != nil {
		return fail(err)
	}
	if _, err := os.Stat(p.final); err == nil {
		return fail(os.ErrExist)
	}
	if err := os.Rename(tmp, p.final); err != nil {
		return fail(err)
	}
	syncDir(filepath.Dir(p.final))
	ids := make([]string, len(p.tracks))
	for i, t := range p.tracks {
		ids[i] = t.id
	}
	return File{
		Path:     p.final,
		Size:     size,
		SHA256:   hex.EncodeToString(h.Sum(nil)),
		Start:    time.Duration(p.first) * time.Millisecond,
		Duration: time.Duration(p.last-p.first) * time.Millisecond,
		Tracks:   ids,
	}, nil
}

// syncDir makes a rename durable; errors are ignored, as some systems
// cannot sync a directory.
func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
}

// sink is the file ebml-go writes to. It never returns an error to
// ebml-go, whose writer goroutine stops on one and would leave later
// frame writes blocked; it keeps the first error for the part to report.
type sink struct {
	f   *os.File
	mu  sync.Mutex
	err error
}

func (s *sink) Write(b []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err == nil {
		if _, err := s.f.Write(b); err != nil {
			s.err = err
		}
	}
	return len(b), nil
}

func (s *sink) WriteAt(b []byte, off int64) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err == nil {
		if _, err := s.f.WriteAt(b, off); err != nil {
			s.err = err
		}
	}
	return len(b), nil
}

// Close is called by ebml-go when it has finished; the part closes the
// file itself.
func (s *sink) Close() error { return nil }

func (s *sink) fail(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err == nil {
		s.err = err
	}
}

func (s *sink) error() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}

// opusHead is the Opus identification header that Matroska's A_OPUS
// takes as CodecPrivate (RFC 7845, section 5.1).
func opusHead(channels uint16, rate uint32) []byte {
	b := make([]byte, 19)
	copy(b, "OpusHead")
	b[8] = 1 // version
	b[9] = byte(channels)
	binary.LittleEndian.PutUint16(b[10:], 0) // pre-skip
	binary.LittleEndian.PutUint32(b[12:], rate)
	binary.LittleEndian.PutUint16(b[16:], 0) // output gain
	b[18] = 0                                // mapping family: mono or stereo
	return b
}
