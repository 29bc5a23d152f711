package sfu

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"

	"siteline/media/signal"
)

// keyframeInterval is the least time between two keyframe requests sent
// to a publisher for one layer.
const keyframeInterval = 300 * time.Millisecond

// upTrack is a track a participant publishes: one layer, or several for
// simulcast. Each layer has a reader goroutine that hands packets to the
// subscribers.
type upTrack struct {
	id       string // unique in the room: owner id and the publisher's track id
	remoteID string
	owner    *Participant
	kind     webrtc.RTPCodecType
	codec    webrtc.RTPCodecCapability
	stream   string

	mu      sync.Mutex
	layers  []*layer
	live    int       // layers whose reader runs
	writers []*writer // under mu; each holds some of subs

	subs    atomic.Pointer[[]*downTrack]   // copy on write
	writing atomic.Pointer[[]*writer]      // copy of writers for the readers
	rec     atomic.Pointer[trackRecording] // set while the room is recorded

	// whisper is the user id a hidden supervisor's coaching audio goes to
	// (its owner's info.Monitor), "" for a track everyone receives; under
	// the room's mu. private mirrors whisper != "" for the readers, which
	// forward a private track only while its owner is coaching.
	whisper string
	private atomic.Bool
}

// layer is one simulcast encoding (or the only one).
type layer struct {
	index  int
	rid    string
	remote *webrtc.TrackRemote

	rate    atomic.Int64 // bits/s, measured by the reader
	lastPLI atomic.Int64 // unix nanoseconds of the last keyframe request

	cache *packetCache // video only: what subscribers may NACK
}

func newUpTrack(owner *Participant, remote *webrtc.TrackRemote) *upTrack {
	t := &upTrack{
		id:       owner.id + "-" + remote.ID(),
		remoteID: remote.ID(),
		owner:    owner,
		kind:     remote.Kind(),
		codec:    remote.Codec().RTPCodecCapability,
		stream:   remote.StreamID(),
	}
	t.codec.RTCPFeedback = nil
	t.subs.Store(&[]*downTrack{})
	t.writing.Store(&[]*writer{})
	return t
}

func (t *upTrack) addLayer(remote *webrtc.TrackRemote) *layer {
	t.mu.Lock()
	defer t.mu.Unlock()
	l := &layer{index: len(t.layers), rid: remote.RID(), remote: remote}
	if t.kind == webrtc.RTPCodecTypeVideo {
		l.cache = &packetCache{}
	}
	t.layers = append(t.layers, l)
	t.live++
	return l
}

func (t *upTrack) describe() signal.Track {
	d := signal.Track{ID: t.id, Participant: t.owner.id, Kind: t.kind.String(), StreamID: t.stream}
	t.mu.Lock()
	for _, l := range t.layers {
		if l.rid != "" {
			d.Layers = append(d.Layers, l.rid)
		}
	}
	t.mu.Unlock()
	return d
}

// layerRates returns the measured rate of each layer, by index.
func (t *upTrack) layerRates() []float64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	rates := make([]float64, len(t.layers))
	for i, l := range t.layers {
		rates[i] = float64(l.rate.Load())
	}
	return rates
}

func (t *upTrack) simulcast() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.layers) > 1
}

// addSubscriber adds d to the track and to the first writer with room,
// or to a new one.
func (t *upTrack) addSubscriber(d *downTrack) {
	t.mu.Lock()
	old := *t.subs.Load()
	next := make([]*downTrack, 0, len(old)+1)
	next = append(next, old...)
	next = append(next, d)
	t.subs.Store(&next)
	size := writerSize(len(next))
	var w *writer
	for _, c := range t.writers {
		if c.size() < size {
			w = c
			break
		}
	}
	if w == nil {
		w = newWriter(t)
		t.writers = append(t.writers, w)
		t.publishWriters()
	}
	w.add(d)
	d.writer.Store(w)
	t.mu.Unlock()
	t.requestKeyframe(d.target.Load()) // a new subscriber needs a keyframe
}

// removeSubscriber takes d off the track and its writer, ending the
// writer when it was its last.
func (t *upTrack) removeSubscriber(d *downTrack) {
	t.mu.Lock()
	defer t.mu.Unlock()
	old := *t.subs.Load()
	next := make([]*downTrack, 0, len(old))
	for _, o := range old {
		if o != d {
			next = append(next, o)
		}
	}
	t.subs.Store(&next)
	w := d.writer.Load()
	if w == nil || !w.remove(d) || w.size() > 0 {
		return
	}
	for i, c := range t.writers {
		if c == w {
			t.writers = append(t.writers[:i:i], t.writers[i+1:]...)
			break
		}
	}
	t.publishWriters()
	w.stop()
}

// publishWriters gives the readers a copy of the writers; t.mu is held.
func (t *upTrack) publishWriters() {
	ws := append([]*writer(nil), t.writers...)
	t.writing.Store(&ws)
}

// close takes the track away from every subscriber and from the
// recording.
func (t *upTrack) close() {
	if tr := t.rec.Swap(nil); tr != nil {
		tr.end()
	}
	t.mu.Lock()
	subs := *t.subs.Load()
	t.subs.Store(&[]*downTrack{})
	t.mu.Unlock()
	for _, d := range subs {
		d.sub.unsubscribe(t)
	}
}

// requestKeyframe asks the publisher for a keyframe on layer i, at most
// once per keyframeInterval.
func (t *upTrack) requestKeyframe(i int32) {
	if t.kind != webrtc.RTPCodecTypeVideo {
		return
	}
	t.mu.Lock()
	if i < 0 || int(i) >= len(t.layers) {
		i = 0
	}
	if len(t.layers) == 0 {
		t.mu.Unlock()
		return
	}
	l := t.layers[i]
	t.mu.Unlock()
	now := time.Now().UnixNano()
	last := l.lastPLI.Load()
	if now-last < int64(keyframeInterval) || !l.lastPLI.CompareAndSwap(last, now) {
		return
	}
	t.owner.sfu.metrics.keyframes.Inc()
	pli := &rtcp.PictureLossIndication{MediaSSRC: uint32(l.remote.SSRC())}
	_ = t.owner.up.WriteRTCP([]rtcp.Packet{pli})
}

// read forwards layer l's packets until the publisher's track ends.
func (t *upTrack) read(l *layer) {
	defer func() {
		t.mu.Lock()
		t.live--
		last := t.live == 0
		t.mu.Unlock()
		if last {
			t.owner.trackEnded(t)
		}
	}()
	m := t.owner.sfu.metrics
	in := m.bytes.WithLabelValues("in")
	pkts := m.packets.WithLabelValues("in")
	var (
		started    bool
		highest    uint16
		windowAt   = time.Now()
		windowBits int64
	)
	for {
		pkt, _, err := l.remote.ReadRTP()
		if err != nil {
			return
		}
		size := pkt.MarshalSize()
		in.Add(float64(size))
		pkts.Inc()
		switch diff := pkt.SequenceNumber - highest; {
		case !started:
			started, highest = true, pkt.SequenceNumber
		case diff > 0 && diff < 0x8000:
			if diff > 1 {
				m.lost.Add(float64(diff - 1))
			}
			highest = pkt.SequenceNumber
		}
		now := time.Now()
		windowBits += int64(size) * 8
		if since := now.Sub(windowAt); since >= 500*time.Millisecond {
			l.rate.Store(windowBits * int64(time.Second) / int64(since))
			windowAt, windowBits = now, 0
		}
		if l.cache != nil {
			l.cache.put(pkt, now)
		}
		t.forward(l, pkt)
		if l.index == 0 {
			if tr := t.rec.Load(); tr != nil {
				tr.push(pkt)
			}
		}
	}
}

// layer returns layer i, or nil.
func (t *upTrack) layer(i int32) *layer {
	t.mu.Lock()
	defer t.mu.Unlock()
	if i < 0 || int(i) >= len(t.layers) {
		return nil
	}
	return t.layers[i]
}

// forward hands pkt to every writer with a subscriber that wants layer l.
func (t *upTrack) forward(l *layer, pkt *rtp.Packet) {
	if t.private.Load() && !t.owner.coaching.Load() {
		return // a supervisor's microphone between two coachings
	}
	for _, w := range *t.writing.Load() {
		w.push(l, pkt)
	}
}
