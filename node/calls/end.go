package calls

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
// within media.empty_call_grace (a page reload rejoins it), and when nobody
// joined it within media.unjoined_call_ttl of its creation: its end is
// written to the session's history as end for all writes it, and the web
// sessions of its guests end with it, so that an invitation does not
// outlive the call it was for. A node that starts gives the calls it was
// running the same grace, for their participants to reconnect.

// emptyCalls holds the grace timers of the calls everyone has left.
type emptyCalls struct {
	mu      sync.Mutex
	timers  map[string]*time.Timer // by call id
	stopped bool
	wg      sync.WaitGroup // ends under way
}

// joined cancels the grace period of a call someone (re)joined.
func (cs *Service) joined(callID string) {
	e := &cs.empty
	e.mu.Lock()
	defer e.mu.Unlock()
	if t := e.timers[callID]; t != nil {
		t.Stop()
		delete(e.timers, callID)
	}
}

// left starts the grace period of a call once its room is empty.
func (cs *Service) left(callID string) {
	cs.endIfEmptyAfter(callID, cs.cfg.EmptyCallGrace, "everyone left")
}

// created gives a new call until media.unjoined_call_ttl for someone to
// join it.
func (cs *Service) created(callID string) {
	cs.endIfEmptyAfter(callID, cs.cfg.UnjoinedCallTTL, "nobody joined")
}

// Resume gives the calls this node was running when it stopped the grace
// period of a call everyone left: their participants reconnect within it,
// or the call ends. It runs once the SFU has started.
func (cs *Service) Resume(ctx context.Context) error {
	if cs.cfg.OrgID == "" {
		return nil // a joining node has no calls yet
	}
	active, err := cs.store.ListSessions(ctx, storage.SessionFilter{OrgID: cs.cfg.OrgID, SiteID: cs.cfg.SiteID, Status: storage.SessionActive})
	if err != nil {
		return fmt.Errorf("resume calls: %w", err)
	}
	for _, s := range active {
		cs.endIfEmptyAfter(s.ID, cs.cfg.EmptyCallGrace, "everyone left")
	}
	return nil
}

// endIfEmptyAfter ends call callID after d unless someone is in it by
// then; a call that already waits keeps its timer.
func (cs *Service) endIfEmptyAfter(callID string, d time.Duration, reason string) {
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
	t = time.AfterFunc(d, func() {
		e.mu.Lock()
		if e.stopped || e.timers[callID] != t {
			e.mu.Unlock()
			return
		}
		delete(e.timers, callID)
		e.wg.Add(1)
		e.mu.Unlock()
		defer e.wg.Done()
		cs.endEmpty(callID, d, reason)
	})
	e.timers[callID] = t
}

// Graceful reports whether call callID waits out its grace period.
func (cs *Service) Graceful(callID string) bool {
	cs.empty.mu.Lock()
	defer cs.empty.mu.Unlock()
	return cs.empty.timers[callID] != nil
}

// StopEnding stops the grace timers and waits for the ends under way: a
// node that shuts down does not end the calls it empties. It runs before
// the SFU shuts down.
func (cs *Service) StopEnding() {
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

// endEmpty ends a call that has been empty for d, for reason.
func (cs *Service) endEmpty(callID string, d time.Duration, reason string) {
	s, err := cs.sfu()
	if err != nil || s.Room(callID) != nil {
		return // someone joined meanwhile
	}
	ctx, cancel := cs.bounded(10 * time.Second)
	defer cancel()
	now := cs.now().UTC()
	ev := storage.SessionEvent{ID: newID(), SessionID: callID, At: now, Kind: storage.EventEnded,
		Payload: payload(map[string]string{"reason": reason})}
	if err := cs.store.EndSession(ctx, callID, now, ev); err != nil {
		if !errors.Is(err, storage.ErrConflict) { // ended for all meanwhile
			cs.log.Error("end an empty call", "call", callID, "reason", reason, "err", err)
		}
		return
	}
	cs.log.Info("empty call ended", "call", callID, "reason", reason, "after", d)
	// A join that raced with the end entered a room of an ended call.
	s.End(callID, "the call has ended: "+reason)
	cs.ring.Ended(ctx, callID)
	cs.endGuests(ctx, callID)
	cs.monitors.Delete(callID)
}

// endGuests ends the web sessions of a call's guests, once it has ended.
func (cs *Service) endGuests(ctx context.Context, callID string) {
	guests, err := cs.store.SessionGuests(ctx, callID)
	if err != nil {
		cs.log.Error("end the guests' sessions of an ended call", "call", callID, "err", err)
		return
	}
	for _, g := range guests {
		if err := cs.store.DeleteUserWebSessions(ctx, g.ID); err != nil {
			cs.log.Error("end a guest's sessions", "call", callID, "guest", g.ID, "err", err)
		}
	}
}

// checkActiveCalls refuses a new call to a user who has started
// media.max_active_calls calls that have not ended.
func (cs *Service) checkActiveCalls(ctx context.Context, a web.Actor) error {
	if a.Local {
		return nil
	}
	open, err := cs.store.CountOwnedSessions(ctx, a.OrgID, actorID(a), storage.SessionConference)
	if err != nil {
		return fmt.Errorf("count open calls: %w", err)
	}
	if max := cs.cfg.MaxActiveCalls; open >= max {
		return fmt.Errorf("you have %d calls that have not ended, the most one user may have (media.max_active_calls); end or leave one first: %w",
			open, storage.ErrConflict)
	}
	return nil
}
