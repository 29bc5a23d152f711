package queue

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"time"

	"siteline/policy"
	"siteline/storage"
	"siteline/web"
)

// systemActor is the audit actor of what the dispatcher does by itself.
const systemActor = "system"

// Run dispatches until ctx ends: at each offer's expiry, when woken (a
// request queued, a page opened, a switch changed) and, while a request
// waits, every Rescan for members who became available. With every queue
// empty it sleeps until woken: each way a request enters a queue wakes it.
func (s *Service) Run(ctx context.Context) {
	for {
		next, waiting := s.step(ctx)
		var rescan <-chan time.Time // nil while every queue is empty: woken only
		if waiting {
			wait := s.cfg.Rescan
			if !next.IsZero() {
				if d := next.Sub(s.d.Now()); d < wait {
					wait = max(d, 0)
				}
			}
			rescan = time.After(wait)
		}
		select {
		case <-ctx.Done():
			return
		case <-s.wake:
		case <-rescan:
		}
	}
}

// Step makes one pass over every queue of this node: it drops the
// requests whose call ended, moves the offers that timed out on, and
// offers each request without an offer to the next eligible member. It
// returns the earliest expiry of the offers out (zero when none).
func (s *Service) Step(ctx context.Context) time.Time {
	next, _ := s.step(ctx)
	return next
}

// step is Step, and tells whether a request still waits in a queue (or
// the queues could not be read, which calls for another look too).
func (s *Service) step(ctx context.Context) (next time.Time, waiting bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	entries, err := s.d.Store.QueueEntries(ctx, "")
	if err != nil {
		s.d.Log.Error("queue: read the queues", "err", err)
		return time.Time{}, true
	}
	now := s.d.Now().UTC()
	p := newPass()
	live := entries[:0]
	for _, e := range entries {
		sess, err := s.d.Store.Session(ctx, e.SessionID)
		if err != nil || sess.Status == storage.SessionEnded {
			s.drop(ctx, e, "")
			continue
		}
		if e.OfferedTo != "" && e.OfferExpires != nil && !now.Before(*e.OfferExpires) {
			var ok bool
			if e, ok = s.skip(ctx, e, e.OfferedTo, "timeout"); !ok {
				continue
			}
		}
		if e.OfferedTo != "" {
			p.holding[e.OfferedTo] = true
		}
		live = append(live, e)
	}
	for _, e := range live {
		if e.OfferedTo == "" {
			e = s.offerNext(ctx, e, p)
		}
		if e.OfferExpires != nil && (next.IsZero() || e.OfferExpires.Before(next)) {
			next = *e.OfferExpires
		}
	}
	return next, len(live) > 0
}

// pass is what one Step knows of the members: who holds an offer (a
// member holds one at a time), and who was available when the pass first
// asked. A member who opens a page during a pass waits for the next one,
// so the oldest request is offered first rather than whichever the pass
// had reached.
type pass struct {
	holding   map[string]bool
	available map[string]bool
}

func newPass() *pass {
	return &pass{holding: map[string]bool{}, available: map[string]bool{}}
}

func (s *Service) availableIn(p *pass, orgID, userID string) bool {
	av, ok := p.available[userID]
	if !ok {
		av = s.d.Presence.Available(orgID, userID)
		p.available[userID] = av
	}
	return av
}

// offerNext offers e to the next eligible member of its team, if any.
func (s *Service) offerNext(ctx context.Context, e storage.QueueEntry, p *pass) storage.QueueEntry {
	cands, err := s.candidates(ctx, e, p)
	if err != nil {
		s.d.Log.Error("queue: members of team", "team", e.TeamID, "err", err)
		return e
	}
	if len(cands) == 0 {
		return e
	}
	strategy, err := s.strategyOf(ctx, e.OrgID, e.TeamID)
	if err != nil {
		s.d.Log.Error("queue: strategy of team", "team", e.TeamID, "err", err)
		return e
	}
	rot, err := s.rotation(ctx, e.TeamID)
	if err != nil {
		s.d.Log.Error("queue: rotation of team", "team", e.TeamID, "err", err)
		return e
	}
	member := pick(strategy, cands, rot)
	now := s.d.Now().UTC()
	expires := now.Add(s.cfg.OfferTimeout)
	offered := e
	offered.OfferedTo, offered.OfferExpires = member, &expires
	rot.Last = member
	rot.LastTurns[member] = now
	ev := s.event(e.SessionID, now, storage.EventOffered, systemActor, map[string]any{
		"member": member, "member_name": s.name(ctx, member), "team": e.TeamID, "strategy": strategy, "expires": expires})
	if err := s.d.Store.UpdateQueueEntry(ctx, offered, ev, &rot); err != nil {
		s.d.Log.Error("queue: record offer", "call", e.SessionID, "member", member, "err", err)
		return e
	}
	p.holding[member] = true
	s.audit(ctx, systemActor, "queue.offer", e.SessionID, map[string]string{"member": member, "team": e.TeamID, "call": e.SessionID})
	if ev, err := s.offerEvent(ctx, e.SessionID); err == nil {
		s.d.Pages.Publish(member, ev)
	}
	s.notify(Change{OrgID: e.OrgID, TeamID: e.TeamID})
	return offered
}

// candidates lists the members of e's team who may be offered it now,
// sorted by id: auto-assign on and xa_sup_auto-assign held, available, no
// other offer out, not skipped on it already.
func (s *Service) candidates(ctx context.Context, e storage.QueueEntry, p *pass) ([]string, error) {
	ms, err := s.d.Store.TeamMembers(ctx, e.TeamID)
	if err != nil {
		return nil, err
	}
	off, err := s.offSet(ctx, e.OrgID)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, m := range ms {
		u := m.UserID
		if off[u] || p.holding[u] || slices.Contains(e.Skipped, u) || slices.Contains(out, u) {
			continue
		}
		if s.d.Enforcer.Check(e.OrgID, u, policy.AutoAssign) != nil || !s.availableIn(p, e.OrgID, u) {
			continue
		}
		out = append(out, u)
	}
	slices.Sort(out)
	return out, nil
}

// pick chooses among cands (sorted): round-robin takes the first after
// the last member offered, longest-idle the one whose last turn (offer or
// assignment) is the oldest, a member never offered first.
func pick(strategy string, cands []string, rot storage.QueueRotation) string {
	if strategy == storage.StrategyLongestIdle {
		best := cands[0]
		for _, c := range cands[1:] {
			if rot.LastTurns[c].Before(rot.LastTurns[best]) {
				best = c
			}
		}
		return best
	}
	for _, c := range cands {
		if c > rot.Last {
			return c
		}
	}
	return cands[0]
}

func (s *Service) rotation(ctx context.Context, teamID string) (storage.QueueRotation, error) {
	rots, err := s.d.Store.QueueRotations(ctx)
	if err != nil {
		return storage.QueueRotation{}, err
	}
	for _, r := range rots {
		if r.TeamID == teamID {
			if r.LastTurns == nil {
				r.LastTurns = map[string]time.Time{}
			}
			return r, nil
		}
	}
	return storage.QueueRotation{TeamID: teamID, LastTurns: map[string]time.Time{}}, nil
}

// skip moves an offer on: the member declined it (why "declined") or let
// it time out ("timeout"). It reports false when the entry left the queue
// meanwhile.
func (s *Service) skip(ctx context.Context, e storage.QueueEntry, member, why string) (storage.QueueEntry, bool) {
	now := s.d.Now().UTC()
	next := e
	next.OfferedTo, next.OfferExpires = "", nil
	if !slices.Contains(next.Skipped, member) {
		next.Skipped = append(slices.Clone(e.Skipped), member)
	}
	ev := s.event(e.SessionID, now, storage.EventOfferSkipped, member, map[string]any{"member": member, "member_name": s.name(ctx, member), "team": e.TeamID, "reason": why})
	if err := s.d.Store.UpdateQueueEntry(ctx, next, ev, nil); err != nil {
		if !errors.Is(err, storage.ErrNotFound) {
			s.d.Log.Error("queue: record skip", "call", e.SessionID, "member", member, "err", err)
		}
		return e, false
	}
	actor := member
	if why == "timeout" {
		actor = systemActor
	}
	s.audit(ctx, actor, "queue.skip", e.SessionID, map[string]string{"member": member, "team": e.TeamID, "call": e.SessionID, "reason": why})
	reason := web.RingDeclined
	if why == "timeout" {
		reason = web.RingNoAnswer
	}
	s.d.Pages.Publish(member, web.Event{Type: web.EventRingStopped, CallID: e.SessionID, Reason: reason})
	s.notify(Change{OrgID: e.OrgID, TeamID: e.TeamID})
	return next, true
}

// drop takes an entry out of the queue: assigned to assignee (who joined
// its call), or, with "", because its call ended.
func (s *Service) drop(ctx context.Context, e storage.QueueEntry, assignee string) {
	var ev *storage.SessionEvent
	if assignee != "" {
		x := s.event(e.SessionID, s.d.Now().UTC(), storage.EventAssigned, assignee, map[string]any{"member": assignee, "member_name": s.name(ctx, assignee), "team": e.TeamID})
		ev = &x
	}
	if err := s.d.Store.Dequeue(ctx, e.SessionID, assignee, ev); err != nil {
		if !errors.Is(err, storage.ErrNotFound) {
			s.d.Log.Error("queue: take a request out", "call", e.SessionID, "err", err)
		}
		return
	}
	if assignee != "" {
		s.audit(ctx, assignee, "queue.assign", e.SessionID, map[string]string{"member": assignee, "team": e.TeamID, "call": e.SessionID})
	}
	if e.OfferedTo != "" && e.OfferedTo != assignee {
		reason := web.RingEnded
		if assignee != "" {
			reason = web.RingAnswered
		}
		s.d.Pages.Publish(e.OfferedTo, web.Event{Type: web.EventRingStopped, CallID: e.SessionID, Reason: reason})
	}
	s.notify(Change{OrgID: e.OrgID, TeamID: e.TeamID})
}

// offerEvent is the ring's incoming-call event of a queued call, so the
// ring's panel shows it with Accept and Decline.
func (s *Service) offerEvent(ctx context.Context, callID string) (web.Event, error) {
	sess, err := s.d.Store.Session(ctx, callID)
	if err != nil {
		return web.Event{}, err
	}
	caller := "A guest"
	if gs, err := s.d.Store.SessionGuests(ctx, callID); err == nil && len(gs) > 0 && gs[0].Name != "" {
		caller = gs[0].Name
	}
	started := sess.StartedAt
	return web.Event{Type: web.EventIncomingCall, CallID: sess.ID, CallerName: caller, Subject: sess.Name, StartedAt: &started}, nil
}

func (s *Service) event(sessionID string, at time.Time, kind, actor string, p any) storage.SessionEvent {
	b, _ := json.Marshal(p)
	return storage.SessionEvent{ID: s.d.NewID(), SessionID: sessionID, At: at, Kind: kind, ActorID: actor, Payload: b}
}

// audit writes an event of the dispatcher's; a failure is logged, the
// queue goes on (the session event holds the same fact).
func (s *Service) audit(ctx context.Context, actor, action, target string, detail any) {
	if err := s.d.Audit.Audit(ctx, actor, action, target, detail); err != nil {
		s.d.Log.Error("queue: audit", "action", action, "target", target, "err", err)
	}
}

// name is a user's name for the session summary ("" when unknown).
func (s *Service) name(ctx context.Context, userID string) string {
	u, err := s.d.Store.User(ctx, userID)
	if err != nil {
		return ""
	}
	return u.Name
}
