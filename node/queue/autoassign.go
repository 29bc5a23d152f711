package queue

import (
	"context"
	"errors"
	"fmt"

	"siteline/policy"
	"siteline/storage"
	"siteline/web"
)

// AutoAssignOff reports whether a user switched auto-assign off (the
// dashboard's "auto-assign off" status).
func (s *Service) AutoAssignOff(ctx context.Context, orgID, userID string) (bool, error) {
	off, err := s.offSet(ctx, orgID)
	return off[userID], err
}

func (s *Service) offSet(ctx context.Context, orgID string) (map[string]bool, error) {
	list, err := s.d.Store.AutoAssignOff(ctx, orgID)
	if err != nil {
		return nil, err
	}
	off := make(map[string]bool, len(list))
	for _, a := range list {
		off[a.UserID] = a.Off
	}
	return off, nil
}

// AutoAssign returns the auto-assign switch of userID ("" for the actor):
// the actor's own with xa_sup_auto-assign, a member's with
// xa_sup_manage-queues in the actor's scope.
func (s *Service) AutoAssign(ctx context.Context, a web.Actor, userID string) (web.AutoAssignState, error) {
	target, err := s.mayTouch(ctx, a, userID)
	if err != nil {
		return web.AutoAssignState{}, err
	}
	off, err := s.AutoAssignOff(ctx, a.OrgID, target)
	if err != nil {
		return web.AutoAssignState{}, err
	}
	return web.AutoAssignState{UserID: target, On: !off, Eligible: s.d.Enforcer.Check(a.OrgID, target, policy.AutoAssign) == nil}, nil
}

// SetAutoAssign switches the auto-assign of userID ("" for the actor) on
// or off through the replicated log, and audits it.
func (s *Service) SetAutoAssign(ctx context.Context, a web.Actor, userID string, on bool) (web.AutoAssignState, error) {
	target, err := s.mayTouch(ctx, a, userID)
	if err != nil {
		return web.AutoAssignState{}, err
	}
	aa := storage.AutoAssign{OrgID: a.OrgID, UserID: target, Off: !on, By: a.UserID, At: s.d.Now().UTC()}
	cmd := storage.Command{Changes: []storage.Change{{Op: storage.OpSetAutoAssign, AutoAssign: &aa}}, At: aa.At, ActorID: a.UserID}
	if err := s.d.Proposer.Propose(ctx, cmd); err != nil {
		return web.AutoAssignState{}, fmt.Errorf("switch auto-assign of %s: %w", target, err)
	}
	action := "queue.auto_assign.on"
	if !on {
		action = "queue.auto_assign.off"
	}
	if err := s.d.Audit.Audit(ctx, a.UserID, action, target, map[string]string{"user": target, "by": a.UserID}); err != nil {
		return web.AutoAssignState{}, err
	}
	s.Wake()
	return web.AutoAssignState{UserID: target, On: on, Eligible: s.d.Enforcer.Check(a.OrgID, target, policy.AutoAssign) == nil}, nil
}

// mayTouch decides whose switch the actor reads or sets: their own needs
// xa_sup_auto-assign; another user's, xa_sup_manage-queues over a user
// of the organisation in the actor's scope.
func (s *Service) mayTouch(ctx context.Context, a web.Actor, userID string) (string, error) {
	if a.Local || a.UserID == "" {
		return "", &storage.ValidationError{Field: "actor", Problem: "must be a user of the organisation"}
	}
	if userID == "" || userID == a.UserID {
		if err := s.d.Enforcer.Check(a.OrgID, a.UserID, policy.AutoAssign); err != nil {
			return "", err
		}
		return a.UserID, nil
	}
	if err := s.d.Enforcer.Check(a.OrgID, a.UserID, policy.ManageQueues); err != nil {
		return "", err
	}
	u, err := s.d.Store.User(ctx, userID)
	if errors.Is(err, storage.ErrNotFound) || err == nil && u.OrgID != a.OrgID {
		return "", fmt.Errorf("user %s: %w", userID, storage.ErrNotFound)
	} else if err != nil {
		return "", err
	}
	reach, err := s.d.Supervision.Supervisees(ctx, a.OrgID, a.UserID)
	if err != nil {
		return "", err
	}
	if err := policy.InScope(s.d.Enforcer, reach, a.OrgID, a.UserID, userID, policy.ManageQueues); err != nil {
		return "", err
	}
	return userID, nil
}

// teamOf returns a team of the actor's organisation, or ErrNotFound.
func (s *Service) teamOf(ctx context.Context, orgID, teamID string) (storage.Team, error) {
	t, err := s.d.Store.Team(ctx, teamID)
	if errors.Is(err, storage.ErrNotFound) || err == nil && t.OrgID != orgID {
		return storage.Team{}, fmt.Errorf("team %s: %w", teamID, storage.ErrNotFound)
	}
	return t, err
}

// mayManageTeam decides whether the actor sets a team's queue: the
// permission, and a lead or manager of the team or an administrator of
// teams.
func (s *Service) mayManageTeam(ctx context.Context, a web.Actor, teamID string) error {
	if err := s.d.Enforcer.Check(a.OrgID, a.UserID, policy.ManageQueues); err != nil {
		return err
	}
	if s.d.Enforcer.Check(a.OrgID, a.UserID, policy.AdminTeams) == nil {
		return nil
	}
	ms, err := s.d.Store.TeamMembers(ctx, teamID)
	if err != nil {
		return err
	}
	for _, m := range ms {
		if m.UserID == a.UserID && (m.Role == storage.TeamLead || m.Role == storage.TeamManager) {
			return nil
		}
	}
	return fmt.Errorf("only the leads and managers of team %s set its queue: %w", teamID, &storage.ForbiddenError{Permission: policy.ManageQueues})
}

// SetStrategy sets how a team's queue offers requests, through the
// replicated log, and audits it.
func (s *Service) SetStrategy(ctx context.Context, a web.Actor, teamID, strategy string) (storage.TeamQueue, error) {
	if _, err := s.teamOf(ctx, a.OrgID, teamID); err != nil {
		return storage.TeamQueue{}, err
	}
	if err := s.mayManageTeam(ctx, a, teamID); err != nil {
		return storage.TeamQueue{}, err
	}
	tq := storage.TeamQueue{OrgID: a.OrgID, TeamID: teamID, Strategy: strategy}
	if err := tq.Validate(); err != nil {
		return storage.TeamQueue{}, err
	}
	cmd := storage.Command{Changes: []storage.Change{{Op: storage.OpSetTeamQueue, TeamQueue: &tq}}, At: s.d.Now().UTC(), ActorID: a.UserID}
	if err := s.d.Proposer.Propose(ctx, cmd); err != nil {
		return storage.TeamQueue{}, fmt.Errorf("set queue of team %s: %w", teamID, err)
	}
	if err := s.d.Audit.Audit(ctx, a.UserID, "queue.strategy.set", teamID, map[string]string{"team": teamID, "strategy": strategy}); err != nil {
		return storage.TeamQueue{}, err
	}
	s.Wake()
	return tq, nil
}

// Strategy returns how a team of the actor's organisation offers its
// queue's requests.
func (s *Service) Strategy(ctx context.Context, a web.Actor, teamID string) (storage.TeamQueue, error) {
	if _, err := s.teamOf(ctx, a.OrgID, teamID); err != nil {
		return storage.TeamQueue{}, err
	}
	st, err := s.strategyOf(ctx, a.OrgID, teamID)
	if err != nil {
		return storage.TeamQueue{}, err
	}
	return storage.TeamQueue{OrgID: a.OrgID, TeamID: teamID, Strategy: st}, nil
}

// strategyOf returns a team's strategy: its own or the node's.
func (s *Service) strategyOf(ctx context.Context, orgID, teamID string) (string, error) {
	list, err := s.d.Store.TeamQueues(ctx, orgID)
	if err != nil {
		return "", err
	}
	for _, t := range list {
		if t.TeamID == teamID {
			return t.Strategy, nil
		}
	}
	return s.cfg.Strategy, nil
}
