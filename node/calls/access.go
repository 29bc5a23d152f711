package calls

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"siteline/policy"
	"siteline/storage"
	"siteline/web"
)

// Who may do what with a call, beyond holding the route's permission.
//
// Joining is open to the organisation's users who hold xa_icall_join:
// others join from the call's link. A call's data (the session, its chat,
// relay credentials) and inviting guests into it are for its people: its
// owner and participants, past or present (someone who has joined is
// one), supervisors whose teams reach one of them, and holders of
// xa_ocall_calllog_see-all-call-logs. Sitting in hidden is for supervisors
// whose teams reach one of the call's people.

// callPeople returns the users of call s, owner first: its owner and every
// visible participant, past or present, guests left out.
func (cs *Service) callPeople(ctx context.Context, s storage.Session) ([]string, error) {
	ps, err := cs.store.SessionParticipants(ctx, s.ID)
	if err != nil {
		return nil, fmt.Errorf("people of call %s: %w", s.ID, err)
	}
	people := []string{s.CreatedBy}
	for _, p := range ps {
		if !p.Hidden && !strings.HasPrefix(p.UserID, web.GuestIDPrefix) && !slices.Contains(people, p.UserID) {
			people = append(people, p.UserID)
		}
	}
	return people, nil
}

// tookPart reports whether userID owns call s or was ever in it, hidden
// or not.
func (cs *Service) tookPart(ctx context.Context, userID string, s storage.Session) (bool, error) {
	if s.CreatedBy == userID {
		return true, nil
	}
	ps, err := cs.store.SessionParticipants(ctx, s.ID)
	if err != nil {
		return false, fmt.Errorf("participants of call %s: %w", s.ID, err)
	}
	return slices.ContainsFunc(ps, func(p storage.SessionParticipant) bool { return p.UserID == userID }), nil
}

// supervised returns the first of people that supervisorID may act on
// with permission, or a refusal naming permission.
func (cs *Service) supervised(ctx context.Context, orgID, supervisorID, permission string, people []string) (string, error) {
	reach, err := cs.supervision.Supervisees(ctx, orgID, supervisorID)
	if err != nil {
		return "", err
	}
	var refusal error
	for _, id := range people {
		err := policy.InScope(cs.enforcer, reach, orgID, supervisorID, id, permission)
		if err == nil {
			return id, nil
		}
		var scope *policy.ScopeError
		if !errors.As(err, &scope) {
			return "", err // the permission itself is missing
		}
		refusal = err
	}
	if refusal == nil {
		refusal = &storage.ForbiddenError{Permission: permission}
	}
	return "", fmt.Errorf("nobody in the call is a member (or, for managers, a lead) of a team you supervise: %w", refusal)
}

// MayRead decides whether a may read call s's data, get relay credentials
// for it or invite guests into it. A refusal names see-all-call-logs.
func (cs *Service) MayRead(ctx context.Context, a web.Actor, s storage.Session) error {
	switch {
	case a.Local:
		return nil
	case isGuest(a):
		if a.CallID == s.ID {
			return nil
		}
		return &storage.ForbiddenError{Permission: policy.OutsideTheCall}
	}
	took, err := cs.tookPart(ctx, a.UserID, s)
	if err != nil || took {
		return err
	}
	if cs.enforcer.Check(a.OrgID, a.UserID, policy.SeeAllCallLogs) == nil {
		return nil
	}
	people, err := cs.callPeople(ctx, s)
	if err != nil {
		return err
	}
	if _, err := cs.supervised(ctx, a.OrgID, a.UserID, policy.CallSitIn, people); err == nil {
		return nil
	}
	return fmt.Errorf("call %s is for its owner, its participants, their supervisors and call-log readers: %w",
		s.ID, &storage.ForbiddenError{Permission: policy.SeeAllCallLogs})
}

// ViewCall returns a call's session to someone who may read its data.
func (cs *Service) ViewCall(ctx context.Context, a web.Actor, id string) (storage.Session, error) {
	s, err := cs.Call(ctx, a, id)
	if err != nil {
		return storage.Session{}, err
	}
	if err := cs.MayRead(ctx, a, s); err != nil {
		return storage.Session{}, err
	}
	return s, nil
}

// checkSitIn decides whether a may sit in on call s hidden, and returns
// the user supervised: monitor when given (a user of the organisation in
// the call whom a's teams reach), else the first of the call's people
// a's teams reach.
func (cs *Service) checkSitIn(ctx context.Context, a web.Actor, s storage.Session, monitor string) (string, error) {
	// A call made to show a member's screen (monitor.go) is watched with
	// xa_icall_monitor-screen, and shows that member alone.
	perm := policy.CallSitIn
	if m := cs.monitored(s.ID); m != "" && (monitor == "" || monitor == m) {
		perm, monitor = policy.CallMonitorScreen, m
	}
	if a.Local || isGuest(a) {
		return "", &storage.ForbiddenError{Permission: perm}
	}
	if err := cs.enforcer.Check(a.OrgID, a.UserID, perm); err != nil {
		return "", err
	}
	people, err := cs.callPeople(ctx, s)
	if err != nil {
		return "", err
	}
	if monitor == "" {
		return cs.supervised(ctx, a.OrgID, a.UserID, policy.CallSitIn, people)
	}
	if u, err := cs.store.User(ctx, monitor); errors.Is(err, storage.ErrNotFound) || err == nil && u.OrgID != a.OrgID {
		return "", fmt.Errorf("monitor %q is not a user of this organisation: %w", monitor, storage.ErrInvalid)
	} else if err != nil {
		return "", fmt.Errorf("monitor %s: %w", monitor, err)
	}
	if !slices.Contains(people, monitor) {
		return "", fmt.Errorf("monitor %s is neither the owner nor a participant of call %s: %w", monitor, s.ID, storage.ErrInvalid)
	}
	reach, err := cs.supervision.Supervisees(ctx, a.OrgID, a.UserID)
	if err != nil {
		return "", err
	}
	if err := policy.InScope(cs.enforcer, reach, a.OrgID, a.UserID, monitor, perm); err != nil {
		return "", err
	}
	return monitor, nil
}

// displayName is the name a call shows for a: the account's name, and a
// guest's given name marked as a guest's. The join message's name is not
// used: nobody may appear as someone else.
func displayName(a web.Actor) string {
	name := strings.TrimSpace(a.Name)
	if isGuest(a) {
		if name == "" {
			name = "Guest"
		}
		return name + " (guest)"
	}
	if name == "" {
		return "Unnamed user"
	}
	return name
}
