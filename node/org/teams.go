package org

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"siteline/node/internal/ids"
	"siteline/policy"
	"siteline/storage"
	"siteline/web"
)

func (s *Service) CreateTeam(ctx context.Context, a web.Actor, name string) (storage.Team, error) {
	name = strings.TrimSpace(name)
	if err := checkName("name", name); err != nil {
		return storage.Team{}, err
	}
	teams, err := s.d.Store.Teams(ctx, a.OrgID)
	if err != nil {
		return storage.Team{}, err
	}
	if slices.ContainsFunc(teams, func(t storage.Team) bool { return strings.EqualFold(t.Name, name) }) {
		return storage.Team{}, fmt.Errorf("a team named %q already exists: %w", name, storage.ErrConflict)
	}
	t := storage.Team{ID: ids.New(), OrgID: a.OrgID, Name: name, CreatedAt: s.d.Now().UTC()}
	return t, s.commit(ctx, a, entry{"team.create", t.ID, map[string]string{"name": name}},
		storage.Change{Op: storage.OpPutTeam, Team: &t})
}

func (s *Service) RenameTeam(ctx context.Context, a web.Actor, id, name string) (storage.Team, error) {
	t, err := inOrg(ctx, a, "team", id, s.d.Store.Team)
	if err != nil {
		return t, err
	}
	old := t.Name
	t.Name = strings.TrimSpace(name)
	if err := checkName("name", t.Name); err != nil {
		return t, err
	}
	return t, s.commit(ctx, a, entry{"team.rename", t.ID, map[string]string{"from": old, "to": t.Name}},
		storage.Change{Op: storage.OpPutTeam, Team: &t, Existing: true})
}

func (s *Service) DeleteTeam(ctx context.Context, a web.Actor, id string) error {
	t, err := inOrg(ctx, a, "team", id, s.d.Store.Team)
	if err != nil {
		return err
	}
	changes := []storage.Change{{Op: storage.OpDeleteTeam, ID: t.ID}}
	if lines := s.teamLines(a.OrgID, t.ID); len(lines) > 0 {
		// The team's role assignments and membership links go with it.
		changes = append(changes, storage.Change{Op: storage.OpRemovePolicy, Rules: lines})
		if err := s.checkLockout(ctx, a.OrgID, changes, storage.User{}); err != nil {
			return err
		}
	}
	return s.commit(ctx, a, entry{"team.delete", t.ID, map[string]string{"name": t.Name}}, changes...)
}

func (s *Service) SetTeamMember(ctx context.Context, a web.Actor, teamID, userID string, role storage.TeamRole) error {
	switch role {
	case storage.TeamMember, storage.TeamLead, storage.TeamManager:
	default:
		return validation("role", fmt.Sprintf("%q is not one of member, lead, manager", role))
	}
	if _, err := inOrg(ctx, a, "team", teamID, s.d.Store.Team); err != nil {
		return err
	}
	if _, err := inOrg(ctx, a, "user", userID, s.d.Store.User); err != nil {
		return err
	}
	if err := s.mayJoinTeam(a, teamID); err != nil {
		return err
	}
	m := storage.TeamMembership{TeamID: teamID, UserID: userID, Role: role}
	return s.commit(ctx, a, entry{"team.member.set", teamID, m},
		storage.Change{Op: storage.OpSetTeamMember, Membership: &m}, teamLinkChange(a.OrgID, userID, teamID, true))
}

func (s *Service) RemoveTeamMember(ctx context.Context, a web.Actor, teamID, userID string) error {
	if _, err := inOrg(ctx, a, "team", teamID, s.d.Store.Team); err != nil {
		return err
	}
	if len(s.d.Enforcer.TeamPermissions(a.OrgID, teamID)) > 0 {
		// Leaving the team takes its roles away.
		if u, err := inOrg(ctx, a, "user", userID, s.d.Store.User); err == nil {
			if err := s.mayManage(a, u); err != nil {
				return err
			}
		}
	}
	m := storage.TeamMembership{TeamID: teamID, UserID: userID}
	link := teamLinkChange(a.OrgID, userID, teamID, false)
	if err := s.checkLockout(ctx, a.OrgID, []storage.Change{link}, storage.User{}); err != nil {
		return err
	}
	return s.commit(ctx, a, entry{"team.member.remove", teamID, m},
		storage.Change{Op: storage.OpDelTeamMember, Membership: &m}, link)
}

// teamLinkChange returns the policy change that follows a membership
// change: the user's link to the team added or removed.
func teamLinkChange(orgID, userID, teamID string, add bool) storage.Change {
	op := storage.OpRemovePolicy
	if add {
		op = storage.OpAddPolicy
	}
	return storage.Change{Op: op, Rules: []storage.PolicyRule{policy.TeamLink(orgID, userID, teamID)}}
}

// teamLines returns every policy line naming a team.
func (s *Service) teamLines(orgID, teamID string) []storage.PolicyRule {
	sub := policy.TeamSubject(teamID)
	return slices.DeleteFunc(s.d.Enforcer.Rules(orgID), func(r storage.PolicyRule) bool {
		return r.V[0] != sub && r.V[1] != sub
	})
}
