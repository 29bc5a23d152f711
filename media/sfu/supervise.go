package sfu

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	"siteline/media/signal"
	"siteline/storage"
)

// Supervision in a room (SPEC.md section 4). A hidden participant sits
// in: it receives every track and the chat and is announced to nobody.
// Whether it may, and whom it supervises, the caller decides before Join;
// the SFU keeps the rest:
//
//   - the indicator: every visible participant who is not a guest is sent
//     monitoring-on with the mode (sit-in, or coach for the member being
//     coached) and the supervisors' names whenever either changes, and
//     monitoring-off when no supervisor is hidden any more. It comes from
//     here, never from a supervisor's client, so nobody is watched
//     without it;
//   - coaching: a hidden participant with signal.PermCoach may publish
//     audio, which is forwarded to the supervised member's participants
//     only, and only while it is coaching; guests and the others are
//     never subscribed to it, and the recording leaves it out;
//   - Reveal turns a hidden participant into a visible one; Dismiss takes
//     a participant out of the call (take-over, transfer).

// seesLocked reports whether o may receive track t: any track but a
// supervisor's coaching audio, which only the supervised member's visible
// participants receive.
func (r *Room) seesLocked(o *Participant, t *upTrack) bool {
	if t.whisper == "" {
		return true
	}
	return !o.hidden.Load() && !o.info.Guest && o.info.UserID == t.whisper
}

// tellLocked sends m, about track t, to every participant but except that
// receives t.
func (r *Room) tellLocked(m signal.Message, t *upTrack, except *Participant) {
	for _, o := range r.participants {
		if o != except && r.seesLocked(o, t) {
			o.send(m)
		}
	}
}

// indicatorLocked returns the monitoring-on message o is due now, and
// false when o is due none: o is hidden, a guest, or nobody sits in.
func (r *Room) indicatorLocked(o *Participant) (signal.Message, bool) {
	if o.hidden.Load() || o.info.Guest || o.direct {
		return signal.Message{}, false
	}
	var names []string
	mode := signal.ModeSitIn
	for _, h := range r.participants {
		if !h.hidden.Load() {
			continue
		}
		names = append(names, h.info.Name)
		if h.coaching.Load() && h.info.Monitor == o.info.UserID {
			mode = signal.ModeCoach
		}
	}
	if len(names) == 0 {
		return signal.Message{}, false
	}
	sort.Strings(names)
	m := signal.New(signal.TypeMonitoringOn)
	m.Mode = mode
	m.Name = strings.Join(names, ", ")
	if len(m.Name) > signal.MaxIDLength {
		m.Name = strconv.Itoa(len(names)) + " supervisors"
	}
	return m, true
}

// indicateLocked brings every participant's indicator up to date, telling
// only those whose state changed.
func (r *Room) indicateLocked() {
	for _, o := range r.participants {
		r.indicateOneLocked(o)
	}
}

func (r *Room) indicateOneLocked(o *Participant) {
	m, on := r.indicatorLocked(o)
	state := ""
	if on {
		state = m.Mode + "\x00" + m.Name
	}
	if state == o.indicated {
		return
	}
	o.indicated = state
	if !on {
		o.send(signal.New(signal.TypeMonitoringOff))
		return
	}
	o.send(m)
}

// checkHiddenPublish refuses what a hidden participant may not publish:
// anything but audio, and audio without signal.PermCoach or a member to
// coach.
func (p *Participant) checkHiddenPublish(kinds map[string]bool) error {
	if len(kinds) == 0 || !p.hidden.Load() {
		return nil
	}
	if kinds["video"] || kinds["screen"] {
		return fmt.Errorf("a hidden participant publishes only coaching audio: %w", storage.ErrConflict)
	}
	if p.info.Monitor == "" {
		return fmt.Errorf("a hidden participant without a supervised member has nobody to coach: %w", storage.ErrConflict)
	}
	return p.sfu.cfg.Authorizer.Check(p.info.UserID, signal.PermCoach)
}

// Hidden reports whether the participant sits in unseen.
func (p *Participant) Hidden() bool { return p.hidden.Load() }

// Coach starts (on) or stops forwarding a hidden participant's audio to
// the member it supervises, and turns that member's indicator to coach or
// back to sit-in. It needs signal.PermCoach.
func (p *Participant) Coach(on bool) error {
	if err := p.sfu.cfg.Authorizer.Check(p.info.UserID, signal.PermCoach); err != nil {
		return err
	}
	r := p.room
	r.mu.Lock()
	defer r.mu.Unlock()
	switch {
	case r.participants[p.id] != p:
		return fmt.Errorf("coach: %w", ErrLeft)
	case !p.hidden.Load():
		return fmt.Errorf("only a hidden supervisor coaches; a visible one is heard by everyone: %w", storage.ErrConflict)
	case p.info.Monitor == "":
		return fmt.Errorf("a supervisor without a supervised member has nobody to coach: %w", storage.ErrConflict)
	}
	p.coaching.Store(on)
	r.indicateLocked()
	return nil
}

// Reveal makes a hidden participant visible: the others are told it
// joined, its coaching audio becomes a track everyone receives, and the
// indicator is updated (off when no supervisor is hidden any more). From
// then on it chats and publishes as its permissions allow.
func (p *Participant) Reveal() error {
	r := p.room
	r.mu.Lock()
	if r.participants[p.id] != p {
		r.mu.Unlock()
		return fmt.Errorf("reveal: %w", ErrLeft)
	}
	if !p.hidden.Load() {
		r.mu.Unlock()
		return fmt.Errorf("participant %s is not hidden: %w", p.id, storage.ErrConflict)
	}
	type sub struct {
		o *Participant
		t *upTrack
	}
	var subs []sub
	var mine []*upTrack
	for _, t := range r.tracks {
		if t.owner != p || t.whisper == "" {
			continue
		}
		mine = append(mine, t)
		for _, o := range r.participants {
			if o != p && !r.seesLocked(o, t) {
				subs = append(subs, sub{o, t})
			}
		}
	}
	p.hidden.Store(false)
	p.coaching.Store(false)
	ev := signal.New(signal.TypeParticipantJoined)
	peer := p.peer()
	ev.Peer = &peer
	for _, o := range r.participants {
		if o != p {
			o.send(ev)
		}
	}
	for _, t := range mine {
		t.whisper = ""
		t.private.Store(false)
	}
	for _, s := range subs {
		pub := signal.New(signal.TypeTrackPublished)
		d := s.t.describe()
		pub.Track = &d
		s.o.send(pub)
	}
	r.indicateLocked()
	rec := r.rec
	r.mu.Unlock()

	if rec != nil {
		for _, t := range mine {
			rec.addPublished(t)
		}
	}
	renegotiate := map[*Participant]bool{}
	for _, s := range subs {
		s.o.subscribe(s.t)
		renegotiate[s.o] = true
	}
	for o := range renegotiate {
		o.negotiate(false)
	}
	return nil
}

// Dismiss takes the participant out of the call: it is sent end with the
// reason, then leaves as if it had left itself (the others see it go).
func (p *Participant) Dismiss(reason string) {
	ev := signal.New(signal.TypeEnd)
	ev.Error = reason
	p.send(ev)
	p.Leave()
}

// UserParticipants returns the participants of user userID in the room.
func (r *Room) UserParticipants(userID string) []*Participant {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []*Participant
	for _, o := range r.participants {
		if o.info.UserID == userID {
			out = append(out, o)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].id < out[j].id })
	return out
}
