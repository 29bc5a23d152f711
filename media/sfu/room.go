package sfu

import (
	"errors"
	"fmt"
	"sort"
	"sync"

	"siteline/media/signal"
	"siteline/storage"
)

var errRoomEnded = errors.New("room ended")

// Room is one call: its participants and the tracks they publish. It is
// created by the first Join and dropped when the last participant leaves
// or someone ends the call for all.
type Room struct {
	sfu *SFU
	id  string

	mu           sync.Mutex
	participants map[string]*Participant
	tracks       map[string]*upTrack // by upTrack.id
	ended        bool
	rec          *roomRecording // while recording

	recMu sync.Mutex // one start or stop of recording at a time
}

func newRoom(s *SFU, id string) *Room {
	return &Room{
		sfu:          s,
		id:           id,
		participants: make(map[string]*Participant),
		tracks:       make(map[string]*upTrack),
	}
}

// ID returns the room's id (the session id).
func (r *Room) ID() string { return r.id }

// Participants returns the ids of the participants, hidden ones included,
// sorted.
func (r *Room) Participants() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	ids := make([]string, 0, len(r.participants))
	for id := range r.participants {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return ids
}

// Participant returns what participant id joined with, Hidden as it is
// now, if it is in the room.
func (r *Room) Participant(id string) (ParticipantInfo, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	p := r.participants[id]
	if p == nil {
		return ParticipantInfo{}, false
	}
	return p.Info(), true
}

func (r *Room) counts() (participants, tracks int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.participants), len(r.tracks)
}

// add puts p into the room, tells p who and what is there, announces p to
// the others (unless hidden), and subscribes p to every track it may
// receive.
func (r *Room) add(p *Participant) error {
	r.mu.Lock()
	if r.ended {
		r.mu.Unlock()
		return errRoomEnded
	}
	if _, dup := r.participants[p.id]; dup {
		r.mu.Unlock()
		return fmt.Errorf("participant %s is already in the room: %w", p.id, storage.ErrConflict)
	}
	if max := r.sfu.cfg.MaxParticipants; max > 0 && len(r.participants) >= max {
		r.mu.Unlock()
		return fmt.Errorf("the call is full: %d participants is the most a call takes: %w", max, ErrLimit)
	}
	p.room = r
	r.participants[p.id] = p

	joined := signal.New(signal.TypeJoined)
	joined.Room = r.id
	joined.Participant = p.id
	joined.Recording = r.rec != nil
	for _, o := range r.participants {
		if o != p && !o.hidden.Load() {
			joined.Participants = append(joined.Participants, o.peer())
		}
	}
	tracks := make([]*upTrack, 0, len(r.tracks))
	for _, t := range r.tracks {
		if r.seesLocked(p, t) {
			tracks = append(tracks, t)
			joined.Tracks = append(joined.Tracks, t.describe())
		}
	}
	p.send(joined)

	if p.hidden.Load() {
		r.indicateLocked() // supervise.go
	} else {
		ev := signal.New(signal.TypeParticipantJoined)
		peer := p.peer()
		ev.Peer = &peer
		for _, o := range r.participants {
			if o != p {
				o.send(ev)
			}
		}
		r.indicateOneLocked(p) // supervise.go
	}
	r.mu.Unlock()

	for _, t := range tracks {
		p.subscribe(t)
	}
	p.negotiate(false)
	return nil
}

// remove takes p out of the room and tells the others; the room is
// dropped when it is empty.
func (r *Room) remove(p *Participant) {
	r.mu.Lock()
	if r.participants[p.id] != p {
		r.mu.Unlock()
		return
	}
	delete(r.participants, p.id)
	var gone []*upTrack
	for id, t := range r.tracks {
		if t.owner == p {
			delete(r.tracks, id)
			gone = append(gone, t)
		}
	}
	for _, t := range gone {
		ev := signal.New(signal.TypeTrackUnpublished)
		d := t.describe()
		ev.Track = &d
		r.tellLocked(ev, t, p)
	}
	if p.hidden.Load() {
		r.indicateLocked()
	} else {
		ev := signal.New(signal.TypeParticipantLeft)
		ev.Participant = p.id
		r.broadcastLocked(ev, p)
	}
	empty := len(r.participants) == 0
	if empty {
		r.ended = true
	}
	r.mu.Unlock()

	for _, t := range gone {
		t.close()
	}
	if empty {
		r.stopRecording()
		r.sfu.dropRoom(r)
	}
}

// broadcastLocked sends m to every participant but except.
func (r *Room) broadcastLocked(m signal.Message, except *Participant) {
	for _, o := range r.participants {
		if o != except {
			o.send(m)
		}
	}
}

// broadcast sends m to every participant, the sender included.
func (r *Room) broadcast(m signal.Message) {
	r.mu.Lock()
	list := make([]*Participant, 0, len(r.participants))
	for _, o := range r.participants {
		list = append(list, o)
	}
	r.mu.Unlock()
	for _, o := range list {
		o.send(m)
	}
}

// publish makes t available to every other participant; false if the room
// or its owner is gone.
func (r *Room) publish(t *upTrack) bool {
	r.mu.Lock()
	if r.ended || r.participants[t.owner.id] != t.owner {
		r.mu.Unlock()
		return false
	}
	if t.owner.hidden.Load() {
		t.whisper = t.owner.info.Monitor // checkHiddenPublish let only coaching audio through
		t.private.Store(true)
	}
	r.tracks[t.id] = t
	rec := r.rec
	if t.whisper != "" {
		rec = nil
	}
	ev := signal.New(signal.TypeTrackPublished)
	d := t.describe()
	ev.Track = &d
	subs := make([]*Participant, 0, len(r.participants))
	for _, o := range r.participants {
		if o != t.owner && r.seesLocked(o, t) {
			subs = append(subs, o)
			o.send(ev)
		}
	}
	r.mu.Unlock()
	if rec != nil {
		rec.addPublished(t)
	}
	for _, o := range subs {
		o.subscribe(t)
		o.negotiate(false)
	}
	return true
}

// unpublish withdraws t from the subscribers.
func (r *Room) unpublish(t *upTrack) {
	r.mu.Lock()
	if r.tracks[t.id] != t {
		r.mu.Unlock()
		return
	}
	delete(r.tracks, t.id)
	ev := signal.New(signal.TypeTrackUnpublished)
	d := t.describe()
	ev.Track = &d
	r.tellLocked(ev, t, t.owner)
	r.mu.Unlock()
	t.close()
}

// end ends the call for everyone: each participant is sent end with the
// reason and disconnected.
func (r *Room) end(reason string) {
	r.mu.Lock()
	r.ended = true
	list := make([]*Participant, 0, len(r.participants))
	for _, o := range r.participants {
		list = append(list, o)
	}
	clear(r.participants)
	tracks := make([]*upTrack, 0, len(r.tracks))
	for _, t := range r.tracks {
		tracks = append(tracks, t)
	}
	clear(r.tracks)
	r.mu.Unlock()

	ev := signal.New(signal.TypeEnd)
	ev.Error = reason
	for _, o := range list {
		o.send(ev)
		o.close()
	}
	for _, t := range tracks {
		t.close()
	}
	r.stopRecording()
	r.sfu.dropRoom(r)
}
