package sfu

import (
	"fmt"
	"time"

	"siteline/media/signal"
	"siteline/storage"
)

// pointerInterval is the least time between two pointer positions relayed
// for one participant: 25 a second is smooth, and a client sending more
// cannot flood the others' queues.
const pointerInterval = 40 * time.Millisecond

// handleAnnotate relays a stroke drawn on a snapshot to the others, once
// it is in the session's history.
func (p *Participant) handleAnnotate(m signal.Message) error {
	if err := p.sfu.cfg.Authorizer.Check(p.info.UserID, signal.PermAnnotate); err != nil {
		return err
	}
	if p.hidden.Load() {
		return fmt.Errorf("a hidden participant cannot draw: %w", storage.ErrConflict)
	}
	if err := p.drawLimit.take(time.Now()); err != nil {
		return err
	}
	ev := signal.New(signal.TypeAnnotate)
	ev.ID = m.ID
	ev.Participant = p.id
	ev.Name = p.info.Name
	ev.Media = &signal.Media{ID: m.Media.ID}
	ev.Stroke = m.Stroke
	if r := p.sfu.cfg.Recorder; r != nil {
		if err := r.Annotate(p.room.id, p.info, ev); err != nil {
			return err
		}
	}
	p.room.mu.Lock()
	p.room.broadcastLocked(ev, p)
	p.room.mu.Unlock()
	return nil
}

// handlePointer relays where the participant points on someone's video;
// a pointer without a position hides it. Pointers are not history.
func (p *Participant) handlePointer(m signal.Message) error {
	if err := p.sfu.cfg.Authorizer.Check(p.info.UserID, signal.PermAnnotate); err != nil {
		return err
	}
	if p.hidden.Load() {
		return fmt.Errorf("a hidden participant cannot point: %w", storage.ErrConflict)
	}
	now := time.Now()
	if m.Point != nil && now.Sub(p.lastPointer) < pointerInterval {
		return nil // dropped: the next position replaces it
	}
	if m.Point == nil { // a hide is never dropped silently: it is limited
		if err := p.hideLimit.take(now); err != nil {
			return err
		}
	}
	p.lastPointer = now
	ev := signal.New(signal.TypePointer)
	ev.Participant = p.id
	ev.Name = p.info.Name
	ev.Point = m.Point
	p.room.mu.Lock()
	p.room.broadcastLocked(ev, p)
	p.room.mu.Unlock()
	return nil
}
