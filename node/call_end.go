package node

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"siteline/storage"
	"siteline/web"
)

// A call ends when its last participant has left and nobody came back
// within media.empty_call_grace (a page reload rejoins it): its end is
// written to the session's history as end for all writes it, and the web
// sessions of its guests end with it, so that an invitation does not
// outlive the call it was for.

// emptyCalls holds the grace timers of the calls everyone has left.
type emptyCalls struct {
	mu      sync.Mutex
	timers  map[string]*time.Timer // by call id
	stopped bool
	wg      sync.WaitGroup // ends under way
}

// joined cancels the grace period of a call someone (re)joined.
func (cs *callService) joined(callID string) {
	e := &cs.empty
	e.mu.Lock()
	defer e.mu.Unlock()
	if t := e.timers[callID]; t != nil {
		t.Stop()
		delete(e.timers, callID)
	}
}

// left starts the grace period of a call once its room is empty.
func (cs *callService) left(callID string) {
	s, err := cs.sfu()
	if err != nil || s.Room(callID) != nil {
		return
	}
	e := &cs.empty
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.stopped || e.timers[callID] != nil {
		return
	}
	if e.timers == nil {
		e.timers = make(map[string]*time.Timer)
	}
	var t *time.Timer
	t = time.AfterFunc(cs.n.cfg.Media.EmptyCallGrace, func() {
		e.mu.Lock()
		if e.stopped || e.timers[callID] != t {
			e.mu.Unlock()
			return
		}
		delete(e.timers, callID)
		e.wg.Add(1)
		e.mu.Unlock()
		defer e.wg.Done()
		cs.endEmpty(callID)
	})
	e.timers[callID] = t
}

// graceful reports whether call callID waits out its grace period.
func (cs *callService) graceful(callID string) bool {
	cs.empty.mu.Lock()
	defer cs.empty.mu.Unlock()
	return cs.empty.timers[callID] != nil
}

// stopEnding stops the grace timers and waits for the ends under way: a
// node that shuts down does not end the calls it empties.
func (cs *callService) stopEnding() {
	e := &cs.empty
	e.mu.Lock()
	e.stopped = true
	for id, t := range e.timers {
		t.Stop()
		delete(e.timers, id)
	}
	e.mu.Unlock()
	e.wg.Wait()
}

// endEmpty ends a call whose grace period ran out with nobody in it.
func (cs *callService) endEmpty(callID string) {
	s, err := cs.sfu()
	if err != nil || s.Room(callID) != nil {
		return // someone joined meanwhile
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	now := cs.n.now().UTC()
	ev := storage.SessionEvent{ID: newID(), SessionID: callID, At: now, Kind: storage.EventEnded,
		Payload: payload(map[string]string{"reason": "everyone left"})}
	if err := cs.n.store.EndSession(ctx, callID, now, ev); err != nil {
		if !errors.Is(err, storage.ErrConflict) { // ended for all meanwhile
			cs.n.log.Error("end a call everyone left", "call", callID, "err", err)
		}
		return
	}
	cs.n.log.Info("call ended: everyone left", "call", callID, "grace", cs.n.cfg.Media.EmptyCallGrace)
	// A join that raced with the end entered a room of an ended call.
	s.End(callID, "the call has ended: everyone had left")
	cs.n.ring.ended(callID)
	cs.endGuests(ctx, callID)
}

// endGuests ends the web sessions of a call's guests, once it has ended.
func (cs *callService) endGuests(ctx context.Context, callID string) {
	guests, err := cs.n.store.SessionGuests(ctx, callID)
	if err != nil {
		cs.n.log.Error("end the guests' sessions of an ended call", "call", callID, "err", err)
		return
	}
	for _, g := range guests {
		if err := cs.n.store.DeleteUserWebSessions(ctx, g.ID); err != nil {
			cs.n.log.Error("end a guest's sessions", "call", callID, "guest", g.ID, "err", err)
		}
	}
}

// checkActiveCalls refuses a new call to a user who has started
// media.max_active_calls calls that have not ended.
func (cs *callService) checkActiveCalls(ctx context.Context, a web.Actor) error {
	if a.Local {
		return nil
	}
	open, err := cs.n.store.OwnedSessions(ctx, a.OrgID, actorID(a), storage.SessionConference)
	if err != nil {
		return fmt.Errorf("count open calls: %w", err)
	}
	if max := cs.n.cfg.Media.MaxActiveCalls; len(open) >= max {
		return fmt.Errorf("you have %d calls that have not ended, the most one user may have (media.max_active_calls); end or leave one first: %w",
			len(open), storage.ErrConflict)
	}
	return nil
}
