package calls

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"siteline/storage"
	"siteline/web"
)

// RingHub rings experts: it fans events out to the open backoffice pages
// of each user (the web layer's events sockets). It keeps no call state of
// its own: a call rings its expert while its session is ringing and the
// expert has not declined it (a declined event in its history), so a page
// opened late, or after a restart, learns of it from the store.
type RingHub struct {
	store RingStore
	now   func() time.Time
	log   *slog.Logger

	mu   sync.Mutex
	subs map[string]map[*ringSub]struct{} // by user id
	wire Wire                             // Federate

	presence *Presence // UsePresence; nil counts no one
	queue    Queue     // UseQueue; nil queues nothing
	direct   direct    // dial.go
}

// ringSub is one open page. mu orders its events: the calls ringing when
// it subscribed go out before any event published meanwhile.
type ringSub struct {
	mu   sync.Mutex
	send func(web.Event) error
}

var _ web.Events = (*RingHub)(nil)

// NewRingHub builds the ring over the site store; now is the clock
// (time.Now when nil).
func NewRingHub(store RingStore, now func() time.Time, log *slog.Logger) *RingHub {
	if now == nil {
		now = time.Now
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &RingHub{store: store, now: now, log: log, subs: make(map[string]map[*ringSub]struct{})}
}

// Subscribe registers a page of a user.
func (h *RingHub) Subscribe(ctx context.Context, a web.Actor, send func(web.Event) error) (func(), error) {
	if a.Local || a.UserID == "" || strings.HasPrefix(a.UserID, web.GuestIDPrefix) {
		return nil, validation("actor", "must be a user: calls ring users, not guests or the local operator")
	}
	sub := &ringSub{send: send}
	sub.mu.Lock()
	defer sub.mu.Unlock()
	h.mu.Lock()
	if h.subs[a.UserID] == nil {
		h.subs[a.UserID] = make(map[*ringSub]struct{})
	}
	h.subs[a.UserID][sub] = struct{}{}
	h.mu.Unlock()
	away := h.presence.PageOpened(a.OrgID, a.UserID)
	cancel := func() {
		away()
		h.mu.Lock()
		delete(h.subs[a.UserID], sub)
		if len(h.subs[a.UserID]) == 0 {
			delete(h.subs, a.UserID)
		}
		h.mu.Unlock()
	}
	waiting, err := h.WaitingCalls(ctx, a)
	if err != nil {
		cancel()
		return nil, err
	}
	for _, w := range waiting {
		if w.Call.Status == storage.SessionRinging && !w.Declined {
			_ = send(incomingCall(w.Call, w.CallerName))
		}
	}
	for _, m := range h.incomingFor(a.UserID) {
		_ = send(directEvent(m))
	}
	h.queueOffers(ctx, a, send) // queue_hooks.go
	_ = send(web.Event{Type: web.EventReady})
	return cancel, nil
}

// publish sends an event to every open page of a user. A page too slow to
// read is disconnected by the web layer; it learns the state again when it
// reconnects.
func (h *RingHub) publish(userID string, e web.Event) {
	h.mu.Lock()
	subs := make([]*ringSub, 0, len(h.subs[userID]))
	for s := range h.subs[userID] {
		subs = append(subs, s)
	}
	h.mu.Unlock()
	for _, s := range subs {
		s.mu.Lock()
		_ = s.send(e)
		s.mu.Unlock()
	}
}

func incomingCall(s storage.Session, caller string) web.Event {
	started := s.StartedAt
	return web.Event{Type: web.EventIncomingCall, CallID: s.ID, CallerName: caller, Subject: s.Name, StartedAt: &started}
}

// Ring tells the expert of a service request's new call that it rings.
func (h *RingHub) Ring(s storage.Session, caller string) {
	if h == nil {
		return
	}
	h.publish(s.CreatedBy, incomingCall(s, caller))
}

// stopped tells the expert a call no longer rings them.
func (h *RingHub) stopped(s storage.Session, reason string) {
	if h == nil || s.Kind != storage.SessionServiceRequest {
		return
	}
	h.publish(s.CreatedBy, web.Event{Type: web.EventRingStopped, CallID: s.ID, Reason: reason})
}

// Ended stops the ring of a call that ended.
func (h *RingHub) Ended(ctx context.Context, callID string) {
	if h == nil {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	s, err := h.store.Session(ctx, callID)
	if err != nil {
		h.log.Warn("stop the ring of an ended call", "call", callID, "err", err)
		return
	}
	h.stopped(s, web.RingEnded)
	h.callStatus(callID, web.RingEnded)
	if h.queue != nil {
		h.queue.Ended(ctx, callID)
	}
}

// WaitingCalls lists the actor's open service-request calls with their
// callers, and whether the actor declined each.
func (h *RingHub) WaitingCalls(ctx context.Context, a web.Actor) ([]web.WaitingCall, error) {
	calls, err := h.store.OwnedSessions(ctx, a.OrgID, actorID(a), storage.SessionServiceRequest)
	if err != nil {
		return nil, err
	}
	out := make([]web.WaitingCall, 0, len(calls))
	for _, s := range calls {
		w := web.WaitingCall{Call: s, CallerName: "A guest"}
		guests, err := h.store.SessionGuests(ctx, s.ID)
		if err != nil {
			return nil, err
		}
		if len(guests) > 0 && guests[0].Name != "" {
			w.CallerName = guests[0].Name
		}
		if s.Status == storage.SessionRinging {
			if w.Declined, err = h.declined(ctx, s.ID, actorID(a)); err != nil {
				return nil, err
			}
		}
		out = append(out, w)
	}
	return out, nil
}

func (h *RingHub) declined(ctx context.Context, callID, userID string) (bool, error) {
	evs, err := h.store.SessionEvents(ctx, callID)
	if err != nil {
		return false, err
	}
	for _, ev := range evs {
		if ev.Kind == storage.EventDeclined && ev.ActorID == userID {
			return true, nil
		}
	}
	return false, nil
}

// Decline records that the expert declined a call ringing them and stops
// the ring on all their pages. Declining twice is harmless.
func (h *RingHub) Decline(ctx context.Context, a web.Actor, callID string) error {
	if h.declineDirect(a, callID) { // dial.go
		return nil
	}
	if h.queue != nil {
		if handled, err := h.queue.Decline(ctx, a, callID); handled || err != nil {
			return err
		}
	}
	s, err := h.store.Session(ctx, callID)
	switch {
	case errors.Is(err, storage.ErrNotFound),
		err == nil && (s.OrgID != a.OrgID || s.Kind != storage.SessionServiceRequest || s.CreatedBy != actorID(a)):
		// A call of another organisation, or none: the same answer.
		return fmt.Errorf("decline: no call %s rings you: %w", callID, storage.ErrNotFound)
	case err != nil:
		return fmt.Errorf("decline: %w", err)
	}
	if s.Status != storage.SessionRinging {
		return fmt.Errorf("decline call %s: it is %s, not ringing: %w", callID, s.Status, storage.ErrConflict)
	}
	already, err := h.declined(ctx, callID, actorID(a))
	if err != nil {
		return err
	}
	if !already {
		ev := storage.SessionEvent{ID: newID(), SessionID: callID, At: h.now().UTC(), Kind: storage.EventDeclined,
			ActorID: actorID(a), Payload: payload(map[string]string{"name": a.Name})}
		if err := h.store.AppendSessionEvent(ctx, ev); err != nil {
			return fmt.Errorf("decline: %w", err)
		}
	}
	h.stopped(s, web.RingDeclined)
	return nil
}

// answerIfRinging makes a ringing call active when a user joins it where
// the others see them, and stops its ring. A guest's join (the caller's)
// and a hidden sit-in do not answer a call. It runs after the join is
// recorded; a failure is logged, never the join's.
func (cs *Service) answerIfRinging(ctx context.Context, a web.Actor, callID string, hidden bool) {
	if hidden || a.Local || strings.HasPrefix(a.UserID, web.GuestIDPrefix) {
		return
	}
	s, err := cs.store.Session(ctx, callID)
	if err != nil || s.Status != storage.SessionRinging {
		return
	}
	ev := storage.SessionEvent{ID: newID(), SessionID: callID, At: cs.now().UTC(), Kind: storage.EventAnswered,
		ActorID: actorID(a), Payload: payload(map[string]string{"name": a.Name})}
	if err := cs.store.AnswerSession(ctx, ev); err != nil {
		if !errors.Is(err, storage.ErrConflict) { // someone else answered first
			cs.log.Error("answer a ringing call", "call", callID, "err", err)
		}
		return
	}
	cs.ring.stopped(s, web.RingAnswered)
}
