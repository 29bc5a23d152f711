package calls

import (
	"context"
	"errors"
	"fmt"
	"time"

	"siteline/media/sfu"
	"siteline/media/signal"
	"siteline/policy"
	"siteline/storage"
	"siteline/web"
)

// Supervision of a call (SPEC.md section 4): reveal and coach come from a
// supervisor sitting in; take-over and transfer come over HTTP or
// signaling. Each is checked against the supervisor's scope (policy.InScope
// on the member supervised, or on the session's owner), written as a
// session event, audited, and only then carried out in the room. The
// indicator the member sees is the SFU's (media/sfu/supervise.go).

// Queues puts a session into a team's queue: the team queue service
// implements it. Nil means the node has no team queues, and a transfer to
// a team is refused.
type Queues interface {
	Enqueue(ctx context.Context, orgID, teamID, sessionID, by string) error
}

// TransferInput moves a session (web.TransferInput).
type TransferInput = web.TransferInput

var _ web.CallSupervisor = (*Service)(nil)

// SetQueues connects the team queues a transfer to a team goes through.
func (cs *Service) SetQueues(q Queues) { cs.queues.Store(&q) }

func (cs *Service) teamQueues() Queues {
	if q := cs.queues.Load(); q != nil {
		return *q
	}
	return nil
}

// inScope checks that a, holding permission, reaches targetID.
func (cs *Service) inScope(ctx context.Context, a web.Actor, targetID, permission string) error {
	if a.Local || isGuest(a) {
		return &storage.ForbiddenError{Permission: permission}
	}
	if err := cs.enforcer.Check(a.OrgID, a.UserID, permission); err != nil {
		return err
	}
	reach, err := cs.supervision.Supervisees(ctx, a.OrgID, a.UserID)
	if err != nil {
		return err
	}
	return policy.InScope(cs.enforcer, reach, a.OrgID, a.UserID, targetID, permission)
}

// mayTransfer decides whether a may transfer a session owned by owner:
// with the permission, the owner themself (a lead who took a session
// over hands it on), else a supervisor of the owner.
func (cs *Service) mayTransfer(ctx context.Context, a web.Actor, owner string) error {
	if !a.Local && !isGuest(a) && owner == a.UserID {
		return cs.enforcer.Check(a.OrgID, a.UserID, policy.CallTransfer)
	}
	return cs.inScope(ctx, a, owner, policy.CallTransfer)
}

// supervisionEvent writes a session event of the supervisor's and its
// audit event.
func (cs *Service) supervisionEvent(ctx context.Context, a web.Actor, callID, kind, action string, detail map[string]any) error {
	now := cs.now().UTC()
	ev := storage.SessionEvent{ID: newID(), SessionID: callID, At: now, Kind: kind, ActorID: actorID(a), Payload: payload(detail)}
	if err := cs.store.AppendSessionEvent(ctx, ev); err != nil {
		return err
	}
	return cs.audit.Audit(ctx, actorID(a), action, callID, detail)
}

// reveal makes the hidden participant p of a visible, recorded first.
func (cs *Service) reveal(ctx context.Context, a web.Actor, callID string, p *sfu.Participant) error {
	if !p.Hidden() {
		return fmt.Errorf("participant %s is not hidden: %w", p.ID(), storage.ErrConflict)
	}
	info := p.Info()
	now := cs.now().UTC()
	detail := map[string]any{"participant": p.ID(), "supervised": info.Monitor}
	ev := storage.SessionEvent{ID: newID(), SessionID: callID, At: now, Kind: storage.EventRevealed, ActorID: actorID(a), Payload: payload(detail)}
	if err := cs.store.RevealParticipant(ctx, p.ID(), ev); err != nil {
		return fmt.Errorf("reveal in call %s: %w", callID, err)
	}
	if err := cs.audit.Audit(ctx, actorID(a), "call.reveal", callID, detail); err != nil {
		return err
	}
	return p.Reveal()
}

// coach turns a hidden participant's coaching on or off.
func (cs *Service) coach(ctx context.Context, a web.Actor, callID string, p *sfu.Participant, on bool) error {
	info := p.Info()
	if !info.Hidden {
		return fmt.Errorf("only a hidden supervisor coaches; a visible one is heard by everyone: %w", storage.ErrConflict)
	}
	if err := cs.inScope(ctx, a, info.Monitor, policy.CallCoach); err != nil {
		return fmt.Errorf("coach in call %s: %w", callID, err)
	}
	if err := cs.supervisionEvent(ctx, a, callID, storage.EventCoach, "call.coach", map[string]any{
		"participant": p.ID(), "supervised": info.Monitor, "on": on}); err != nil {
		return err
	}
	return p.Coach(on)
}

// TakeOver makes a the owning expert of call id: a must hold
// xa_icall_take-over and reach the current owner. A supervisor sitting
// in is revealed; the former owner's participants leave when memberLeaves.
func (cs *Service) TakeOver(ctx context.Context, a web.Actor, id string, memberLeaves bool) (storage.Session, error) {
	s, err := cs.OpenCall(ctx, a, id)
	if err != nil {
		return s, err
	}
	from := s.Owner()
	if from == actorID(a) {
		return s, fmt.Errorf("you already own call %s: %w", id, storage.ErrConflict)
	}
	if err := cs.inScope(ctx, a, from, policy.CallTakeOver); err != nil {
		return s, fmt.Errorf("take over call %s: %w", id, err)
	}
	detail := map[string]any{"owner": actorID(a), "from": from, "member_leaves": memberLeaves}
	if err := cs.changeOwner(ctx, a, s, storage.EventTakenOver, "call.take_over", actorID(a), detail); err != nil {
		return s, err
	}
	if room := cs.room(id); room != nil {
		for _, p := range room.UserParticipants(actorID(a)) {
			if p.Hidden() {
				if err := cs.reveal(ctx, a, id, p); err != nil {
					return s, err
				}
			}
		}
	}
	cs.afterOwnerChange(s.ID, actorID(a), displayName(a), from, memberLeaves, displayName(a)+" took the session over")
	s.OwnerID = actorID(a)
	return s, nil
}

// Transfer moves call id to another user or a team's queue without a new
// call: the guest's connection and media go on. a must hold
// xa_icall_transfer and reach the current owner.
func (cs *Service) Transfer(ctx context.Context, a web.Actor, id string, in TransferInput) (storage.Session, error) {
	if (in.ToUser == "") == (in.ToTeam == "") {
		return storage.Session{}, validation("to_user", "exactly one of to_user and to_team is required")
	}
	s, err := cs.OpenCall(ctx, a, id)
	if err != nil {
		return s, err
	}
	from := s.Owner()
	if err := cs.mayTransfer(ctx, a, from); err != nil {
		return s, fmt.Errorf("transfer call %s: %w", id, err)
	}
	if in.ToTeam != "" {
		q := cs.teamQueues()
		if q == nil {
			return s, fmt.Errorf("team queues are not available: %w", storage.ErrConflict)
		}
		if err := q.Enqueue(ctx, s.OrgID, in.ToTeam, s.ID, actorID(a)); err != nil {
			return s, fmt.Errorf("transfer call %s to team %s: %w", id, in.ToTeam, err)
		}
		if err := cs.supervisionEvent(ctx, a, id, storage.EventTransfer, "call.transfer", map[string]any{
			"from": from, "to_team": in.ToTeam, "member_leaves": in.MemberLeaves}); err != nil {
			return s, err
		}
		if in.MemberLeaves {
			cs.dismiss(id, from, "the session was transferred to a team's queue")
		}
		return s, nil
	}
	u, err := cs.store.User(ctx, in.ToUser)
	if errors.Is(err, storage.ErrNotFound) || err == nil && u.OrgID != s.OrgID {
		return s, fmt.Errorf("to_user %q is not a user of this organisation: %w", in.ToUser, storage.ErrInvalid)
	} else if err != nil {
		return s, err
	}
	if u.ID == from {
		return s, fmt.Errorf("user %s already owns call %s: %w", u.ID, id, storage.ErrConflict)
	}
	if err := cs.enforcer.Check(s.OrgID, u.ID, policy.CallJoin); err != nil {
		return s, fmt.Errorf("user %s may not join calls: %w", u.ID, storage.ErrInvalid)
	}
	detail := map[string]any{"owner": u.ID, "from": from, "to_user": u.ID, "member_leaves": in.MemberLeaves}
	if err := cs.changeOwner(ctx, a, s, storage.EventTransfer, "call.transfer", u.ID, detail); err != nil {
		return s, err
	}
	s.OwnerID = u.ID
	if cs.ring != nil {
		cs.ring.publish(u.ID, incomingCall(s, displayName(a)))
	}
	cs.afterOwnerChange(s.ID, u.ID, u.Name, from, in.MemberLeaves, "the session was transferred to "+u.Name)
	return s, nil
}

func (cs *Service) changeOwner(ctx context.Context, a web.Actor, s storage.Session, kind, action, owner string, detail map[string]any) error {
	ev := storage.SessionEvent{ID: newID(), SessionID: s.ID, At: cs.now().UTC(), Kind: kind, ActorID: actorID(a), Payload: payload(detail)}
	if err := cs.store.SetSessionOwner(ctx, s.ID, owner, ev); err != nil {
		return err
	}
	return cs.audit.Audit(ctx, actorID(a), action, s.ID, detail)
}

// afterOwnerChange tells the room who owns the session now, and takes the
// former owner out when they leave.
func (cs *Service) afterOwnerChange(callID, owner, name, from string, memberLeaves bool, reason string) {
	if sf, err := cs.sfu(); err == nil {
		m := signal.New(signal.TypeOwner)
		m.User = owner
		m.Name = name
		sf.Broadcast(callID, m)
	}
	if memberLeaves {
		cs.dismiss(callID, from, reason)
	}
}

// dismiss takes userID's visible participants out of the call.
func (cs *Service) dismiss(callID, userID, reason string) {
	room := cs.room(callID)
	if room == nil {
		return
	}
	for _, p := range room.UserParticipants(userID) {
		if !p.Hidden() {
			p.Dismiss(reason)
		}
	}
}

func (cs *Service) room(callID string) *sfu.Room {
	sf, err := cs.sfu()
	if err != nil {
		return nil
	}
	return sf.Room(callID)
}

// handleSupervision carries out a supervision message of connection c;
// false when m is not one.
func (c *callConn) handleSupervision(m signal.Message) (bool, error) {
	ctx, cancel := c.cs.bounded(10 * time.Second)
	defer cancel()
	var err error
	switch m.Type {
	case signal.TypeReveal:
		err = c.cs.reveal(ctx, c.actor, c.callID, c.p)
	case signal.TypeCoach:
		err = c.cs.coach(ctx, c.actor, c.callID, c.p, m.Coaching)
	case signal.TypeTakeOver:
		_, err = c.cs.TakeOver(ctx, c.actor, c.callID, m.MemberLeaves)
	case signal.TypeTransfer:
		_, err = c.cs.Transfer(ctx, c.actor, c.callID, TransferInput{ToUser: m.ToUser, ToTeam: m.ToTeam, MemberLeaves: m.MemberLeaves})
	default:
		return false, nil
	}
	if err != nil {
		c.reply(sfu.ErrorMessage(m.ID, err))
	}
	return true, err
}
