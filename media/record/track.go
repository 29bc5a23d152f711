package record

import (
	"encoding/binary"
	"fmt"
	"strings"
	"sync"

	"github.com/pion/rtp"
	"github.com/pion/rtp/codecs"
	"github.com/pion/webrtc/v4"
	"github.com/pion/webrtc/v4/pkg/media"
	"github.com/pion/webrtc/v4/pkg/media/samplebuilder"
)

const (
	// maxQueue bounds the frames a track queues for interleaving, whatever
	// their timestamps say.
	maxQueue = 256
	// Sample builder windows, in packets: a few video frames, a few
	// hundred ms of audio.
	videoMaxLate = 128
	audioMaxLate = 16
	// keyframeRequestGap is the least time between two keyframe requests
	// for a track, in ms of the recording clock.
	keyframeRequestGap = 1000
)

// packetPool recycles the copies of packets held by the sample builders.
var packetPool = sync.Pool{New: func() any { return new(rtp.Packet) }}

type frame struct {
	ts   int64 // ms since the recording start
	key  bool
	data []byte
}

// TrackWriter takes the RTP packets of one track of a Recording.
type TrackWriter struct {
	r         *Recording
	id        string
	video     bool
	codecID   string
	clockRate uint32
	channels  uint16
	sb        *samplebuilder.SampleBuilder

	// Guarded by r.mu.
	closed  bool
	started bool  // a sample has anchored the timeline
	base    int64 // ms since recording start of the first sample
	lastRTP uint32
	ext     int64 // RTP ticks since firstRTP, unwrapped
	lastTS  int64 // ms of the last queued frame
	queue   []frame
	ready   bool // has queued a frame, so belongs in the next file

	// Video only.
	needKey     bool
	lastKey     int64 // ms of the last keyframe
	lastRequest int64 // recording clock, ms, of the last keyframe request
	requested   bool
	width       int
	height      int
}

func newTrack(r *Recording, id string, codec webrtc.RTPCodecParameters) (*TrackWriter, error) {
	t := &TrackWriter{r: r, id: id, clockRate: codec.ClockRate}
	release := samplebuilder.WithPacketReleaseHandler(func(p *rtp.Packet) { packetPool.Put(p) })
	switch strings.ToLower(codec.MimeType) {
	case strings.ToLower(webrtc.MimeTypeVP8):
		t.video, t.codecID, t.needKey = true, "V_VP8", true
		if t.clockRate == 0 {
			t.clockRate = 90000
		}
		t.sb = samplebuilder.New(videoMaxLate, &codecs.VP8Packet{}, t.clockRate, release)
	case strings.ToLower(webrtc.MimeTypeOpus):
		t.codecID, t.channels = "A_OPUS", codec.Channels
		if t.clockRate == 0 {
			t.clockRate = 48000
		}
		if t.channels == 0 {
			t.channels = 2
		}
		t.sb = samplebuilder.New(audioMaxLate, &codecs.OpusPacket{}, t.clockRate, release)
	default:
		return nil, fmt.Errorf("%s: %w", codec.MimeType, ErrUnsupportedCodec)
	}
	return t, nil
}

// ID returns the id the track was added with.
func (t *TrackWriter) ID() string { return t.id }

// WriteRTP adds a packet of the track. Packets may arrive out of order or
// not at all. WriteRTP copies what it keeps, so the caller may reuse p.
// It returns the Recording's first write error, if any.
func (t *TrackWriter) WriteRTP(p *rtp.Packet) error {
	r := t.r
	r.mu.Lock()
	if r.closed || t.closed {
		r.mu.Unlock()
		return ErrClosed
	}
	q := packetPool.Get().(*rtp.Packet)
	q.Header = rtp.Header{
		Version:        p.Version,
		Marker:         p.Marker,
		PayloadType:    p.PayloadType,
		SequenceNumber: p.SequenceNumber,
		Timestamp:      p.Timestamp,
		SSRC:           p.SSRC,
	}
	q.Payload = append(q.Payload[:0], p.Payload...)
	q.PaddingSize = 0
	t.sb.Push(q)
	t.pop()
	r.drain(false)
	err, request := r.err, t.takeRequest()
	r.mu.Unlock()
	if request {
		r.requestKeyframe(t.id)
	}
	return err
}

// Close ends the track: its buffered frames are written and the
// Recording no longer waits for it. The Recording's Close closes every
// track.
func (t *TrackWriter) Close() error {
	r := t.r
	r.mu.Lock()
	defer r.mu.Unlock()
	if t.closed {
		return nil
	}
	t.flush()
	r.drain(false)
	return r.err
}

// flush pops every sample the builder holds and marks the track closed.
func (t *TrackWriter) flush() {
	t.sb.Flush()
	t.pop()
	t.closed = true
}

func (t *TrackWriter) pop() {
	for s := t.sb.Pop(); s != nil; s = t.sb.Pop() {
		t.sample(s)
	}
}

// sample queues a sample rebuilt from RTP.
func (t *TrackWriter) sample(s *media.Sample) {
	ts := t.timestamp(s.PacketTimestamp)
	key := !t.video
	if t.video {
		var w, h int
		key, w, h = vp8Keyframe(s.Data)
		switch {
		case key:
			t.needKey, t.lastKey = false, ts
			if t.width == 0 {
				t.width, t.height = w, h
			}
		case s.PrevDroppedPackets > 0:
			// The frame refers to one that was lost.
			t.needKey = true
		}
		if t.needKey || (t.r.keyframeInterval > 0 && ts-t.lastKey >= t.r.keyframeInterval) {
			t.wantKeyframe()
		}
		if t.needKey {
			return
		}
	}
	if len(s.Data) == 0 {
		return
	}
	ts = max(ts, t.lastTS)
	t.lastTS = ts
	t.ready = true
	t.queue = append(t.queue, frame{ts: ts, key: key, data: s.Data})
}

// timestamp maps an RTP timestamp to ms since the recording start,
// unwrapping the 32-bit RTP clock.
func (t *TrackWriter) timestamp(rtpTS uint32) int64 {
	if !t.started {
		t.started = true
		t.base = t.r.sinceStart()
		t.lastRTP = rtpTS
		return t.base
	}
	t.ext += int64(int32(rtpTS - t.lastRTP))
	t.lastRTP = rtpTS
	return t.base + t.ext*1000/int64(t.clockRate)
}

func (t *TrackWriter) wantKeyframe() {
	if t.r.requestKeyframe == nil {
		return
	}
	now := t.r.sinceStart()
	if t.requested || (t.lastRequest != 0 && now-t.lastRequest < keyframeRequestGap) {
		return
	}
	t.requested, t.lastRequest = true, max(now, 1)
}

// takeRequest reports and clears a pending keyframe request.
func (t *TrackWriter) takeRequest() bool {
	req := t.requested
	t.requested = false
	return req
}

// vp8Keyframe reports whether a VP8 frame is a keyframe and, if so, its
// size (RFC 6386, section 9.1).
func vp8Keyframe(b []byte) (key bool, width, height int) {
	if len(b) < 10 || b[0]&0x01 != 0 || b[3] != 0x9d || b[4] != 0x01 || b[5] != 0x2a {
		return false, 0, 0
	}
	width = int(binary.LittleEndian.Uint16(b[6:]) & 0x3fff)
	height = int(binary.LittleEndian.Uint16(b[8:]) & 0x3fff)
	return true, width, height
}
