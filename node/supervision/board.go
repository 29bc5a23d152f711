package supervision

import (
	"context"
	"fmt"
	"slices"
	"time"

	"siteline/policy"
	"siteline/storage"
	"siteline/web"
)

// TeamScopeError refuses the dashboard of a team the supervisor neither
// leads nor manages. It unwraps to the *storage.ForbiddenError of the
// permission, so the answer is a 403 naming it.
type TeamScopeError struct{ SupervisorID, TeamID string }

func (e *TeamScopeError) Error() string {
	return fmt.Sprintf("user %s neither leads nor manages team %s; %s reaches only the teams one leads or manages (every team for an administrator of teams)",
		e.SupervisorID, e.TeamID, policy.TeamDashboard)
}

// Unwrap returns the permission refusal.
func (e *TeamScopeError) Unwrap() error {
	return &storage.ForbiddenError{Permission: policy.TeamDashboard}
}

// Teams lists the teams the actor may watch, with their members' status
// counts.
func (h *Hub) Teams(ctx context.Context, a web.Actor) ([]web.SupervisedTeam, error) {
	if err := h.allowed(a); err != nil {
		return nil, err
	}
	teams, err := h.teams(ctx, a.OrgID)
	if err != nil {
		return nil, fmt.Errorf("list supervised teams: %w", err)
	}
	h.Refresh(ctx, a.OrgID)
	view := h.viewOf(a.OrgID, a.UserID, teams)
	h.mu.Lock()
	defer h.mu.Unlock()
	o := h.org(a.OrgID)
	out := []web.SupervisedTeam{}
	for _, t := range teams {
		if view[t.ID] == nil {
			continue
		}
		st := web.SupervisedTeam{Team: t.Team, Role: roleIn(t, a.UserID), Members: len(view[t.ID]), Counts: map[string]int{}}
		for id := range view[t.ID] {
			st.Counts[o.status(id)]++
		}
		out = append(out, st)
	}
	return out, nil
}

func (h *Hub) allowed(a web.Actor) error {
	if a.Local {
		return fmt.Errorf("the team dashboard is a supervisor's: the node's local operator leads no team: %w", storage.ErrInvalid)
	}
	return h.d.Authz.Check(a.OrgID, a.UserID, policy.TeamDashboard)
}

// Board is one team's dashboard as the actor may see it.
func (h *Hub) Board(ctx context.Context, a web.Actor, teamID string) (web.TeamBoard, error) {
	var b web.TeamBoard
	if err := h.allowed(a); err != nil {
		return b, err
	}
	teams, err := h.teams(ctx, a.OrgID)
	if err != nil {
		return b, fmt.Errorf("team dashboard %s: %w", teamID, err)
	}
	var team *storage.TeamWithMembers
	for i := range teams {
		if teams[i].ID == teamID {
			team = &teams[i]
		}
	}
	if team == nil {
		return b, fmt.Errorf("team %s: %w", teamID, storage.ErrNotFound)
	}
	view := h.viewOf(a.OrgID, a.UserID, teams)[teamID]
	if view == nil {
		return b, &TeamScopeError{SupervisorID: a.UserID, TeamID: teamID}
	}
	if err := h.auditView(ctx, a, teamID); err != nil {
		return b, err
	}
	h.Refresh(ctx, a.OrgID)
	now := h.d.Now()
	ids := make([]string, 0, len(view))
	roles := map[string]storage.TeamRole{}
	for _, m := range team.Members {
		if view[m.UserID] && roles[m.UserID] == "" {
			ids = append(ids, m.UserID)
			roles[m.UserID] = m.Role
		}
	}
	users, err := h.d.Org.Users(ctx, a.OrgID)
	if err != nil {
		return b, fmt.Errorf("team dashboard %s: %w", teamID, err)
	}
	byID := map[string]storage.User{}
	for _, u := range users {
		byID[u.ID] = u
	}
	stats, err := h.d.Stats.CallStats(ctx, a.OrgID, ids, startOfDay(now))
	if err != nil {
		return b, fmt.Errorf("team dashboard %s: %w", teamID, err)
	}
	ongoing, err := h.d.Stats.OngoingSessions(ctx, a.OrgID, ids)
	if err != nil {
		return b, fmt.Errorf("team dashboard %s: %w", teamID, err)
	}
	b = web.TeamBoard{Team: team.Team, Members: make([]web.BoardMember, 0, len(ids)), Queue: []web.QueueItem{},
		Counts: map[string]int{}, IdleAfter: int(h.d.IdleAfter / time.Second), Now: now}
	if h.d.Queue != nil {
		q, err := h.d.Queue.Queued(ctx, a.OrgID, teamID)
		if err != nil {
			return b, fmt.Errorf("team dashboard %s: queue: %w", teamID, err)
		}
		b.Queue = nonNil(q)
	}
	h.mu.Lock()
	o := h.org(a.OrgID)
	states := make(map[string]State, len(ids))
	for _, id := range ids {
		st, ok := o.states[id]
		if !ok {
			st = State{Status: web.StatusOffline}
		}
		states[id] = st
	}
	for id, st := range states {
		st.Site = o.siteName(st.Site)
		states[id] = st
	}
	seriesCounts := o.teamCounts(*team)
	b.Series = o.series[teamID].web(now, seriesCounts)
	h.mu.Unlock()

	for _, id := range ids {
		st := states[id]
		m := st.member(id)
		u := byID[id]
		m.Name, m.Email, m.Role = u.Name, u.Email, roles[id]
		if m.Name == "" {
			m.Name = u.Email
		}
		s := stats[id]
		m.CallsToday, m.AvgHandling = s.Calls, s.AvgHandling.Seconds()
		b.Members = append(b.Members, m)
		b.Counts[st.Status]++
	}
	b.Sessions = sessions(ongoing, view, states)
	return b, nil
}

// viewAudit is how long one audit entry stands for a supervisor's
// dashboard of a team: the page reads the board again on every call that
// starts or ends, which is the same watch.
const viewAudit = 15 * time.Minute

// auditView records that the actor opened a team's dashboard
// ("supervision.team_viewed"), once per viewAudit.
func (h *Hub) auditView(ctx context.Context, a web.Actor, teamID string) error {
	if h.d.Audit == nil {
		return nil
	}
	key := a.UserID + "\x00" + teamID
	now := h.d.Now()
	h.mu.Lock()
	last, ok := h.viewed[key]
	fresh := ok && now.Sub(last) < viewAudit
	h.mu.Unlock()
	if fresh {
		return nil
	}
	if err := h.d.Audit.Audit(ctx, a.UserID, "supervision.team_viewed", teamID, nil); err != nil {
		return fmt.Errorf("team dashboard %s: %w", teamID, err)
	}
	h.mu.Lock()
	h.viewed[key] = now
	for k, t := range h.viewed {
		if now.Sub(t) >= viewAudit {
			delete(h.viewed, k)
		}
	}
	h.mu.Unlock()
	return nil
}

// sessions is the team's ongoing sessions: those the store holds (at
// headquarters, those whose history arrived), then those its busy members
// are in on other nodes as presence tells, whose history has not.
func sessions(ongoing []storage.OngoingSession, view map[string]bool, states map[string]State) []web.BoardSession {
	out := make([]web.BoardSession, 0, len(ongoing))
	known := map[string]int{}
	for _, s := range ongoing {
		bs := web.BoardSession{ID: s.ID, Name: s.Name, Kind: s.Kind, Status: s.Status, SiteID: s.SiteID, Site: s.SiteName,
			StartedAt: s.StartedAt, Members: []string{}, Participants: make([]web.BoardParticipant, 0, len(s.Participants))}
		seen := map[string]bool{}
		for _, p := range s.Participants {
			if view[p.UserID] && !seen[p.UserID] && !p.Hidden {
				bs.Members = append(bs.Members, p.UserID)
			}
			if seen[p.UserID] {
				continue
			}
			seen[p.UserID] = true
			bs.Participants = append(bs.Participants, web.BoardParticipant{UserID: p.UserID, Name: p.DisplayName, Kind: p.UserKind, Hidden: p.Hidden})
		}
		known[s.ID] = len(out)
		out = append(out, bs)
	}
	busy := make([]string, 0, len(states))
	for id, st := range states {
		if st.Status == web.StatusBusy && st.CallID != "" {
			busy = append(busy, id)
		}
	}
	slices.SortFunc(busy, func(a, b string) int { return states[a].Since.Compare(states[b].Since) })
	for _, id := range busy {
		st := states[id]
		if i, ok := known[st.CallID]; ok {
			if !slices.Contains(out[i].Members, id) {
				out[i].Members = append(out[i].Members, id)
			}
			if out[i].URL == "" {
				out[i].URL = st.URL
			}
			continue
		}
		known[st.CallID] = len(out)
		out = append(out, web.BoardSession{ID: st.CallID, Status: storage.SessionActive, Site: st.Site, StartedAt: st.Since,
			Members: []string{id}, Participants: []web.BoardParticipant{}, Remote: true, URL: st.URL})
	}
	return out
}

// startOfDay is midnight of t's day in the node's time zone.
func startOfDay(t time.Time) time.Time {
	t = t.Local()
	return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.Local)
}
