package queue

import (
	"context"
	"errors"
	"fmt"
	"time"

	"siteline/policy"
	"siteline/storage"
	"siteline/web"
)

// QueuedRequest is a request in a team's queue as the team sees it.
type QueuedRequest = web.QueuedRequest

// TeamQueue lists a team's queue, oldest first (the dashboard's queue).
func (s *Service) TeamQueue(ctx context.Context, orgID, teamID string) ([]QueuedRequest, error) {
	if _, err := s.teamOf(ctx, orgID, teamID); err != nil {
		return nil, err
	}
	entries, err := s.d.Store.QueueEntries(ctx, teamID)
	if err != nil {
		return nil, err
	}
	out := make([]QueuedRequest, 0, len(entries))
	for _, e := range entries {
		ev, err := s.offerEvent(ctx, e.SessionID)
		if err != nil {
			continue
		}
		out = append(out, QueuedRequest{Entry: e, CallerName: ev.CallerName, Subject: ev.Subject})
	}
	return out, nil
}

// ListTeamQueue is TeamQueue for an actor: the team's members, leads and
// managers, and holders of xa_sup_manage-queues.
func (s *Service) ListTeamQueue(ctx context.Context, a web.Actor, teamID string) ([]QueuedRequest, error) {
	if _, err := s.teamOf(ctx, a.OrgID, teamID); err != nil {
		return nil, err
	}
	if s.d.Enforcer.Check(a.OrgID, a.UserID, policy.ManageQueues) != nil {
		ms, err := s.d.Store.TeamMembers(ctx, teamID)
		if err != nil {
			return nil, err
		}
		in := false
		for _, m := range ms {
			in = in || m.UserID == a.UserID
		}
		if !in {
			return nil, fmt.Errorf("the queue of team %s is for its people: %w", teamID, &storage.ForbiddenError{Permission: policy.ManageQueues})
		}
	}
	return s.TeamQueue(ctx, a.OrgID, teamID)
}

// Teams lists the teams of the actor's organisation (the service-request
// dialog's team picker).
func (s *Service) Teams(ctx context.Context, a web.Actor) ([]storage.Team, error) {
	return s.d.Store.Teams(ctx, a.OrgID)
}

// Enqueue puts an existing session into a team's queue (a transfer to a
// team): it is on disk when Enqueue returns, and offered from then on.
func (s *Service) Enqueue(ctx context.Context, orgID, teamID, sessionID, by string) error {
	if _, err := s.teamOf(ctx, orgID, teamID); err != nil {
		return err
	}
	sess, err := s.d.Store.Session(ctx, sessionID)
	if errors.Is(err, storage.ErrNotFound) || err == nil && sess.OrgID != orgID {
		return fmt.Errorf("session %s: %w", sessionID, storage.ErrNotFound)
	} else if err != nil {
		return err
	}
	if sess.Status == storage.SessionEnded {
		return fmt.Errorf("session %s has ended: %w", sessionID, storage.ErrConflict)
	}
	now := s.d.Now().UTC()
	e := storage.QueueEntry{SessionID: sessionID, OrgID: orgID, TeamID: teamID, EnqueuedAt: now, EnqueuedBy: by}
	s.mu.Lock()
	err = s.d.Store.Enqueue(ctx, e, s.QueuedEvent(sessionID, teamID, by, now))
	s.mu.Unlock()
	if err != nil {
		return err
	}
	s.audit(ctx, by, "queue.enqueue", sessionID, map[string]string{"team": teamID, "call": sessionID})
	s.Queued(orgID, teamID)
	return nil
}

// QueuedEvent is the session event of a request entering a team's queue
// (the invitation's redemption writes it with the call).
func (s *Service) QueuedEvent(sessionID, teamID, by string, at time.Time) storage.SessionEvent {
	return s.event(sessionID, at.UTC(), storage.EventQueued, by, map[string]any{"team": teamID})
}

// Queued tells the dispatcher a request entered a team's queue.
func (s *Service) Queued(orgID, teamID string) {
	s.notify(Change{OrgID: orgID, TeamID: teamID})
	s.Wake()
}

// Joined is the call service's hook: a user joined a call where the
// others see them. A queued call is then theirs.
func (s *Service) Joined(ctx context.Context, callID, userID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if e, ok := s.entry(ctx, callID); ok {
		s.drop(ctx, e, userID)
		s.Wake()
	}
}

// Ended is the ring's hook: a call ended, so it leaves its queue.
func (s *Service) Ended(ctx context.Context, callID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if e, ok := s.entry(ctx, callID); ok {
		s.drop(ctx, e, "")
	}
}

// Decline is the ring's hook: handled is true when callID is a queued
// call offered to the actor, which then moves on to the next member.
func (s *Service) Decline(ctx context.Context, a web.Actor, callID string) (handled bool, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.entry(ctx, callID)
	if !ok || e.OrgID != a.OrgID {
		return false, nil
	}
	if e.OfferedTo == a.UserID {
		s.skip(ctx, e, a.UserID, "declined")
		s.Wake()
	}
	return true, nil
}

// Offers returns the incoming-call events of the offers out to a user,
// sent to a page that opens.
func (s *Service) Offers(ctx context.Context, userID string) []web.Event {
	entries, err := s.d.Store.QueueEntries(ctx, "")
	if err != nil {
		return nil
	}
	var out []web.Event
	for _, e := range entries {
		if e.OfferedTo == userID {
			if ev, err := s.offerEvent(ctx, e.SessionID); err == nil {
				out = append(out, ev)
			}
		}
	}
	return out
}

// PageOpened is the ring's hook: a user opened a page and may be offered.
func (s *Service) PageOpened(orgID, userID string) { s.Wake() }

func (s *Service) entry(ctx context.Context, callID string) (storage.QueueEntry, bool) {
	entries, err := s.d.Store.QueueEntries(ctx, "")
	if err != nil {
		return storage.QueueEntry{}, false
	}
	for _, e := range entries {
		if e.SessionID == callID {
			return e, true
		}
	}
	return storage.QueueEntry{}, false
}
