package sfu

import (
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"

	"siteline/media/record"
	"siteline/media/signal"
	"siteline/storage"
)

// Recording settings.
const (
	// recordQueue is the number of packets a publisher's recording may
	// hold before the reader drops (the recording sees loss, asks for a
	// keyframe and goes on); a slow disk never slows forwarding.
	recordQueue = 1024
	// recordKeyframes makes recordings seekable: a keyframe at least this
	// often.
	recordKeyframes = 10 * time.Second
	// publishGrace is how long a recording waits, after the first track
	// of a participant who starts publishing mid-recording, for the
	// participant's other tracks (the camera's first packet comes a moment
	// after the microphone's), so that one file holds them all.
	publishGrace = time.Second
)

// ErrRecordingOff is returned when a node has no recording directory.
var ErrRecordingOff = errors.New("recording is not enabled on this node")

// Recorded describes a recording that stopped: who started it, when, and
// the files written, one or more per publisher.
type Recorded struct {
	Room      string
	By        ParticipantInfo
	StartedAt time.Time
	StoppedAt time.Time
	Files     []record.File
}

// roomRecording is a room's recording while it runs: one record.Recording
// per publisher, fed by a goroutine so that the readers never wait for
// the disk.
type roomRecording struct {
	room      *Room
	by        ParticipantInfo
	startedAt time.Time

	mu   sync.Mutex
	pubs map[*Participant]*publisherRecording
	// waiting marks publishers whose first track arrived while recording:
	// their tracks are added together after publishGrace.
	waiting map[*Participant]bool
	files   []record.File
	closed  bool
}

// publisherRecording writes one publisher's tracks.
type publisherRecording struct {
	of    *roomRecording
	rec   *record.Recording
	queue chan recordPacket
	stop  chan struct{} // closed by finish: write drains and returns
	done  chan struct{} // closed by write
}

type recordPacket struct {
	w   *record.TrackWriter
	pkt *rtp.Packet // nil closes w
}

func (r *Room) recordingOn() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.rec != nil
}

// startRecording starts recording every track of the room, and every track
// published until stopRecording.
func (r *Room) startRecording(by ParticipantInfo) error {
	if r.sfu.cfg.RecordDir == "" {
		return fmt.Errorf("%w: %w", ErrRecordingOff, storage.ErrConflict)
	}
	r.mu.Lock()
	if r.ended {
		r.mu.Unlock()
		return errRoomEnded
	}
	if r.rec != nil {
		r.mu.Unlock()
		return fmt.Errorf("the call is already being recorded: %w", storage.ErrConflict)
	}
	rec := &roomRecording{room: r, by: by, startedAt: time.Now(),
		pubs: make(map[*Participant]*publisherRecording), waiting: make(map[*Participant]bool)}
	r.rec = rec
	tracks := make([]*upTrack, 0, len(r.tracks))
	for _, t := range r.tracks {
		if t.whisper == "" { // coaching is not the call's to keep
			tracks = append(tracks, t)
		}
	}
	r.mu.Unlock()
	byOwner := make(map[*Participant][]*upTrack)
	for _, t := range tracks {
		byOwner[t.owner] = append(byOwner[t.owner], t)
	}
	for _, ts := range byOwner {
		rec.add(ts...)
	}
	return nil
}

// stopRecording stops the room's recording, if one runs, and hands its
// files to the SFU's OnRecorded once they are finished. It reports
// whether a recording ran.
func (r *Room) stopRecording() bool {
	r.mu.Lock()
	rec := r.rec
	r.rec = nil
	r.mu.Unlock()
	if rec == nil {
		return false
	}
	stopped := time.Now()
	r.sfu.goroutine(func() { rec.finish(stopped) })
	return true
}

// add records tracks of one publisher: into its recording if it has one
// (which starts a new file, the header naming the tracks), else into a
// new one. Every track is added before any packet flows, so the first
// file names all of them.
func (rr *roomRecording) add(tracks ...*upTrack) {
	if len(tracks) == 0 {
		return
	}
	owner := tracks[0].owner
	rr.mu.Lock()
	defer rr.mu.Unlock()
	if rr.closed {
		return
	}
	s := rr.room.sfu
	pr := rr.pubs[owner]
	if pr == nil {
		name := fmt.Sprintf("%s-%s-%d", rr.room.id, owner.id, rr.startedAt.UnixMilli())
		rec, err := record.New(s.cfg.RecordDir, name,
			record.WithKeyframeRequest(func(string) { owner.requestKeyframes() }),
			record.WithKeyframeInterval(recordKeyframes))
		if err != nil {
			s.log.Warn("recording", "room", rr.room.id, "participant", owner.id, "err", err)
			return
		}
		pr = &publisherRecording{of: rr, rec: rec, queue: make(chan recordPacket, recordQueue),
			stop: make(chan struct{}), done: make(chan struct{})}
		rr.pubs[owner] = pr
		s.goroutine(pr.write)
	}
	added := make(map[*upTrack]*record.TrackWriter, len(tracks))
	for _, t := range tracks {
		if rr.takes(t) {
			continue // added by a concurrent call
		}
		codec, ok := t.recordCodec()
		if !ok {
			continue
		}
		w, err := pr.rec.AddTrack(t.id, codec)
		if err != nil {
			s.log.Warn("recording", "room", rr.room.id, "track", t.id, "err", err)
			continue
		}
		added[t] = w
	}
	for t, w := range added {
		t.rec.Store(&trackRecording{pub: pr, w: w})
		t.requestKeyframe(0)
	}
}

// addPublished records a track published while the recording runs. A
// publisher already recorded gets it at once. A new one's tracks are added
// together once all the kinds its offer sends have arrived (the camera's
// first packet comes a moment after the microphone's), or after
// publishGrace, so that one file holds them all.
func (rr *roomRecording) addPublished(t *upTrack) {
	owner := t.owner
	rr.mu.Lock()
	if rr.closed {
		rr.mu.Unlock()
		return
	}
	if rr.pubs[owner] != nil {
		rr.mu.Unlock()
		rr.add(t)
		return
	}
	if len(rr.untaken(owner)) < int(owner.sending.Load()) {
		if !rr.waiting[owner] {
			rr.waiting[owner] = true
			time.AfterFunc(publishGrace, func() { rr.addWaiting(owner) })
		}
		rr.mu.Unlock()
		return
	}
	rr.mu.Unlock()
	rr.addWaiting(owner)
}

// addWaiting adds every track of owner not recorded yet.
func (rr *roomRecording) addWaiting(owner *Participant) {
	rr.mu.Lock()
	delete(rr.waiting, owner)
	rr.mu.Unlock()
	rr.add(rr.untaken(owner)...)
}

// takes reports whether t's packets go to this recording (and not to
// none, or to a previous recording still finishing).
func (rr *roomRecording) takes(t *upTrack) bool {
	tr := t.rec.Load()
	return tr != nil && tr.pub.of == rr
}

// untaken lists the tracks p publishes that this recording does not take
// yet.
func (rr *roomRecording) untaken(p *Participant) []*upTrack {
	p.mu.Lock()
	defer p.mu.Unlock()
	ts := make([]*upTrack, 0, len(p.published))
	for _, t := range p.published {
		if !rr.takes(t) {
			ts = append(ts, t)
		}
	}
	return ts
}

// finish stops feeding the recordings, closes them and reports the files.
func (rr *roomRecording) finish(stopped time.Time) {
	rr.mu.Lock()
	rr.closed = true
	pubs := rr.pubs
	rr.pubs = nil
	rr.mu.Unlock()
	s := rr.room.sfu
	for p, pr := range pubs {
		p.mu.Lock()
		for _, t := range p.published {
			if tr := t.rec.Load(); tr != nil && tr.pub == pr {
				t.rec.CompareAndSwap(tr, nil) // a new recording may have taken it
			}
		}
		p.mu.Unlock()
		close(pr.stop)
		<-pr.done
		files, err := pr.rec.Close()
		if err != nil && !errors.Is(err, record.ErrNoMedia) {
			s.log.Error("recording", "room", rr.room.id, "participant", p.id, "err", err)
		}
		rr.files = append(rr.files, files...)
	}
	if s.cfg.OnRecorded != nil {
		s.cfg.OnRecorded(Recorded{Room: rr.room.id, By: rr.by, StartedAt: rr.startedAt, StoppedAt: stopped, Files: rr.files})
	}
}

// write feeds the recording from the queue until stop, then writes what
// is left in the queue.
func (pr *publisherRecording) write() {
	defer close(pr.done)
	for {
		select {
		case rp := <-pr.queue:
			rp.apply()
		case <-pr.stop:
			for {
				select {
				case rp := <-pr.queue:
					rp.apply()
				default:
					return
				}
			}
		}
	}
}

func (rp recordPacket) apply() {
	if rp.pkt == nil {
		_ = rp.w.Close()
		return
	}
	_ = rp.w.WriteRTP(rp.pkt)
}

// trackRecording is where an upTrack's packets go while recorded.
type trackRecording struct {
	pub *publisherRecording
	w   *record.TrackWriter
}

// push queues a copy of pkt, dropping it if the queue is full or the
// recording stopped.
func (tr *trackRecording) push(pkt *rtp.Packet) {
	tr.send(recordPacket{w: tr.w, pkt: pkt.Clone()})
}

// end tells the recording the track ended.
func (tr *trackRecording) end() { tr.send(recordPacket{w: tr.w}) }

func (tr *trackRecording) send(rp recordPacket) {
	select {
	case <-tr.pub.stop:
	case tr.pub.queue <- rp:
	default:
	}
}

// recordCodec returns the codec of t's first layer as the recorder wants
// it; false for codecs WebM cannot hold.
func (t *upTrack) recordCodec() (webrtc.RTPCodecParameters, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.layers) == 0 {
		return webrtc.RTPCodecParameters{}, false
	}
	c := t.layers[0].remote.Codec()
	switch c.MimeType {
	case webrtc.MimeTypeVP8, webrtc.MimeTypeOpus:
		return c, true
	}
	return webrtc.RTPCodecParameters{}, false
}

// requestKeyframes asks for a keyframe on every video track p publishes.
func (p *Participant) requestKeyframes() {
	p.mu.Lock()
	ts := make([]*upTrack, 0, len(p.published))
	for _, t := range p.published {
		ts = append(ts, t)
	}
	p.mu.Unlock()
	for _, t := range ts {
		t.requestKeyframe(0)
	}
}

// handleRecord starts or stops the room's recording; everyone is told.
func (p *Participant) handleRecord(m signal.Message) error {
	p.room.recMu.Lock()
	defer p.room.recMu.Unlock()
	if err := p.sfu.cfg.Authorizer.Check(p.info.UserID, signal.PermRecord); err != nil {
		return err
	}
	if p.hidden.Load() {
		return fmt.Errorf("a hidden participant cannot record: %w", storage.ErrConflict)
	}
	if m.Recording && p.sfu.cfg.RecordDir == "" {
		return fmt.Errorf("%w: %w", ErrRecordingOff, storage.ErrConflict)
	}
	if m.Recording == p.room.recordingOn() {
		state := "not being recorded"
		if m.Recording {
			state = "already being recorded"
		}
		return fmt.Errorf("the call is %s: %w", state, storage.ErrConflict)
	}
	if r := p.sfu.cfg.Recorder; r != nil {
		if err := r.Recording(p.room.id, p.info, m.Recording); err != nil {
			return err
		}
	}
	if m.Recording {
		if err := p.room.startRecording(p.info); err != nil {
			return err
		}
	} else {
		p.room.stopRecording()
	}
	ev := signal.New(signal.TypeRecording)
	ev.ID = m.ID
	ev.Participant = p.id
	ev.Name = p.info.Name
	ev.Recording = m.Recording
	p.room.broadcast(ev)
	return nil
}
