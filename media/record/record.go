// Package record writes the RTP tracks of a call to WebM files.
//
// A Recording holds one participant's tracks: at most one Opus audio track
// and one VP8 video track. Each track's packets go through a sample builder
// (reordering, loss), VP8 frames are written from the first keyframe on, and
// the frames of both tracks are interleaved in timestamp order into one WebM
// file. Timestamps are milliseconds since the recording was created: each
// track's RTP clock is anchored at the arrival time of its first frame.
//
// A file is written to a hidden temporary name in the directory and renamed
// into place only when Close has finalised it (Cues, Duration, fsync), so a
// crash never leaves a partial file under a final name; leftovers match
// ".*.webm.tmp" and may be removed at start-up.
//
// The WebM header names its tracks, so tracks are fixed once a file has
// started. A track that starts after that (a camera switched on later)
// finalises the current file and starts a new one holding all tracks; Close
// returns every file with its offset from the recording start.
//
// Memory is bounded: each sample builder holds a bounded window of packets
// and the interleaving queues hold at most 256 frames and WithMaxDelay
// of media (3 s before the first file starts, to wait for every track's
// first frame).
package record

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/pion/webrtc/v4"
)

// Errors returned by the package.
var (
	// ErrUnsupportedCodec is returned by AddTrack for codecs other than VP8
	// and Opus. H.264 is refused: WebM allows only VP8, VP9, AV1, Vorbis and
	// Opus, so an H.264 track would make the file a Matroska file that
	// browsers are not required to play.
	ErrUnsupportedCodec = errors.New("record: unsupported codec")
	// ErrTrackExists is returned by AddTrack for a second track of a kind,
	// or a track id already in use.
	ErrTrackExists = errors.New("record: track exists")
	// ErrClosed is returned when writing to a closed Recording or track.
	ErrClosed = errors.New("record: closed")
	// ErrNoMedia is returned by Close when no frame was written, so no
	// file exists.
	ErrNoMedia = errors.New("record: no media")
)

// File describes a finished WebM file.
type File struct {
	Path     string        // final path, in the recording's directory
	Size     int64         // bytes
	SHA256   string        // hex digest of the whole file
	Start    time.Duration // offset of the first frame from the recording start
	Duration time.Duration // from the first to the last frame, as in the file's Info
	Tracks   []string      // ids of the tracks in the file
}

// Option configures a Recording.
type Option func(*Recording)

// WithClock sets the clock used to anchor each track's timestamps. Tests
// use it to feed media faster than real time.
func WithClock(now func() time.Time) Option {
	return func(r *Recording) { r.now = now }
}

// WithMaxDelay bounds, in media time, how long frames of one track wait
// for the other track before being written, and so the memory held per
// track. The default is 500 ms.
func WithMaxDelay(d time.Duration) Option {
	return func(r *Recording) { r.maxDelay = d.Milliseconds() }
}

// WithKeyframeRequest sets a function called, without locks held, when a
// video track needs a keyframe: at its start, after a lost frame, and every
// KeyframeInterval. The SFU sends a PLI to the publisher. Calls are at
// most one a second per track.
func WithKeyframeRequest(f func(trackID string)) Option {
	return func(r *Recording) { r.requestKeyframe = f }
}

// WithKeyframeInterval asks for a keyframe when a video track has had none
// for d, so that the file can be seeked (players start decoding at a
// keyframe). Zero, the default, asks only at start and after loss.
func WithKeyframeInterval(d time.Duration) Option {
	return func(r *Recording) { r.keyframeInterval = d.Milliseconds() }
}

// Recording writes one participant's tracks to WebM files in a directory.
// Its methods are safe for concurrent use.
type Recording struct {
	dir, name        string
	now              func() time.Time
	maxDelay         int64 // ms
	keyframeInterval int64 // ms
	requestKeyframe  func(string)
	start            time.Time

	mu     sync.Mutex
	tracks []*TrackWriter
	part   *part
	parts  int
	files  []File
	last   int64 // timestamp of the last frame written, ms
	err    error
	closed bool
}

// New returns a Recording whose files are written to dir and named
// name.webm (name-2.webm, ... for later parts). Its clock starts now.
func New(dir, name string, opts ...Option) (*Recording, error) {
	if name == "" || name != filepath.Base(name) || strings.HasPrefix(name, ".") {
		return nil, fmt.Errorf("record: invalid name %q", name)
	}
	fi, err := os.Stat(dir)
	if err != nil {
		return nil, fmt.Errorf("record %s: %w", name, err)
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("record %s: %s is not a directory", name, dir)
	}
	r := &Recording{
		dir:      dir,
		name:     name,
		now:      time.Now,
		maxDelay: 500,
	}
	for _, o := range opts {
		o(r)
	}
	if _, err := os.Stat(r.finalPath(1)); err == nil {
		return nil, fmt.Errorf("record %s: %w", name, os.ErrExist)
	}
	r.start = r.now()
	return r, nil
}

// AddTrack adds a track and returns the writer its RTP packets go to.
// codec is the track's negotiated codec; VP8 and Opus are accepted.
func (r *Recording) AddTrack(id string, codec webrtc.RTPCodecParameters) (*TrackWriter, error) {
	t, err := newTrack(r, id, codec)
	if err != nil {
		return nil, fmt.Errorf("record %s: add track %s: %w", r.name, id, err)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return nil, fmt.Errorf("record %s: add track %s: %w", r.name, id, ErrClosed)
	}
	for _, o := range r.tracks {
		if o.id == id || (o.video == t.video && !o.closed) {
			return nil, fmt.Errorf("record %s: add track %s: %w", r.name, id, ErrTrackExists)
		}
	}
	r.tracks = append(r.tracks, t)
	return t, nil
}

// Close flushes every track, finalises the current file and returns all
// the files of the recording, in order. It returns ErrNoMedia if no frame
// was written. Close is idempotent; later calls return the same result.
func (r *Recording) Close() ([]File, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return r.files, r.err
	}
	r.closed = true
	for _, t := range r.tracks {
		t.flush()
	}
	r.drain(true)
	if r.part != nil {
		r.closePart()
	}
	if r.err == nil && len(r.files) == 0 {
		r.err = ErrNoMedia
	}
	return r.files, r.err
}

func (r *Recording) finalPath(n int) string {
	if n == 1 {
		return filepath.Join(r.dir, r.name+".webm")
	}
	return filepath.Join(r.dir, fmt.Sprintf("%s-%d.webm", r.name, n))
}

// sinceStart is the recording clock in ms.
func (r *Recording) sinceStart() int64 {
	return r.now().Sub(r.start).Milliseconds()
}

// setErr keeps the first error.
func (r *Recording) setErr(err error) {
	if r.err == nil {
		r.err = err
	}
}

// startDelay is how long, in ms of media, the first file waits for
// every track to have a frame.
const startDelay = 3000

// drain writes queued frames in timestamp order. Without flush, a frame is
// written when every open track has a frame queued, or when it is older
// than the newest queued frame by maxDelay.
func (r *Recording) drain(flush bool) {
	for r.err == nil {
		var head *TrackWriter
		var newest int64
		waiting, full := false, false
		for _, t := range r.tracks {
			full = full || len(t.queue) >= maxQueue
			if len(t.queue) == 0 {
				if !t.closed && !flush {
					waiting = true
				}
				continue
			}
			if head == nil || t.queue[0].ts < head.queue[0].ts {
				head = t
			}
			newest = max(newest, t.queue[len(t.queue)-1].ts)
		}
		if head == nil {
			return
		}
		limit := r.maxDelay
		if r.parts == 0 {
			// Before the first file, wait longer for every track's first
			// frame (a keyframe may take a PLI round trip), so that the
			// file holds them all rather than rolling over at once.
			limit = max(limit, startDelay)
		}
		if waiting && !full && newest-head.queue[0].ts < limit {
			return
		}
		f := head.queue[0]
		head.queue[0] = frame{}
		head.queue = head.queue[1:]
		r.writeFrame(head, f)
	}
}

// writeFrame writes one frame, opening or rolling the file over if needed.
func (r *Recording) writeFrame(t *TrackWriter, f frame) {
	f.ts = max(f.ts, r.last) // one timeline across tracks
	if r.part != nil && !r.part.has(t) {
		r.closePart()
	}
	if r.err != nil {
		return
	}
	if r.part == nil {
		r.parts++
		p, err := r.openPart(r.parts)
		if err != nil {
			r.setErr(err)
			return
		}
		r.part = p
	}
	if err := r.part.write(t, f); err != nil {
		r.setErr(fmt.Errorf("record %s: %w", r.name, err))
		return
	}
	r.last = f.ts
}

func (r *Recording) openPart(n int) (*part, error) {
	var tracks []*TrackWriter
	// Audio first, as the WebM muxer guidelines ask.
	for _, video := range []bool{false, true} {
		for _, t := range r.tracks {
			if t.video == video && t.ready {
				tracks = append(tracks, t)
			}
		}
	}
	p, err := createPart(r.dir, r.name, r.finalPath(n), tracks, r.start)
	if err != nil {
		return nil, fmt.Errorf("record %s: %w", r.name, err)
	}
	return p, nil
}

func (r *Recording) closePart() {
	p := r.part
	r.part = nil
	f, err := p.close()
	if err != nil {
		r.setErr(fmt.Errorf("record %s: %w", r.name, err))
		return
	}
	r.files = append(r.files, f)
}
