package supervision

import (
	"context"
	"time"

	"siteline/storage"
	"siteline/web"
)

// series is one team's status counts, a sample each SampleEvery, the last
// Keep of them, oldest first. With Deps.Samples each sample is stored
// too, and a restarted node's series begin with what was stored.
type series struct {
	at     []time.Time
	counts []map[string]int
}

func (s *series) add(at time.Time, counts map[string]int, keep time.Duration) {
	s.at = append(s.at, at)
	s.counts = append(s.counts, counts)
	drop := 0
	for drop < len(s.at) && at.Sub(s.at[drop]) > keep {
		drop++
	}
	s.at, s.counts = s.at[drop:], s.counts[drop:]
}

// web is the series with a last point at now of counts.
func (s *series) web(now time.Time, counts map[string]int) web.StatusSeries {
	out := web.StatusSeries{At: []int64{}, Counts: map[string][]int{}}
	for _, st := range web.Statuses {
		out.Counts[st] = []int{}
	}
	add := func(at time.Time, c map[string]int) {
		out.At = append(out.At, at.Unix())
		for _, st := range web.Statuses {
			out.Counts[st] = append(out.Counts[st], c[st])
		}
	}
	if s != nil {
		for i := range s.at {
			add(s.at[i], s.counts[i])
		}
	}
	add(now, counts)
	return out
}

// Sample adds a point, now, to the series of every team the hub follows:
// its members' (role member) status counts. With Deps.Samples the points
// are stored, and those older than Keep removed; a failure to store is
// logged, the series in memory go on.
func (h *Hub) Sample() {
	now := h.d.Now()
	var taken []storage.StatusSample
	h.mu.Lock()
	for orgID, o := range h.orgs {
		live := map[string]bool{}
		for _, t := range o.teams {
			live[t.ID] = true
			s := o.series[t.ID]
			if s == nil {
				s = &series{}
				o.series[t.ID] = s
			}
			counts := o.teamCounts(t)
			s.add(now, counts, h.d.Keep)
			taken = append(taken, storage.StatusSample{OrgID: orgID, TeamID: t.ID, At: now, Counts: counts})
		}
		for id := range o.series {
			if !live[id] {
				delete(o.series, id)
			}
		}
	}
	h.mu.Unlock()
	if h.d.Samples == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := h.d.Samples.SaveStatusSamples(ctx, taken, now.Add(-h.d.Keep)); err != nil {
		h.d.Log.Warn("supervision: store the status samples", "err", err)
	}
}

// loadSeries starts an organisation's series with the samples stored
// within Keep (Deps.Samples), for the teams whose series are still empty.
func (h *Hub) loadSeries(ctx context.Context, orgID string) {
	if h.d.Samples == nil {
		return
	}
	now := h.d.Now()
	samples, err := h.d.Samples.StatusSamples(ctx, orgID, now.Add(-h.d.Keep))
	if err != nil {
		h.d.Log.Warn("supervision: read the status samples", "org", orgID, "err", err)
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	o := h.org(orgID)
	fresh := map[string]*series{}
	for _, x := range samples {
		if o.series[x.TeamID] != nil && fresh[x.TeamID] == nil {
			continue // sampled since the hub began: keep it
		}
		s := fresh[x.TeamID]
		if s == nil {
			s = &series{}
			fresh[x.TeamID] = s
		}
		s.add(x.At, x.Counts, h.d.Keep)
	}
	for id, s := range fresh {
		o.series[id] = s
	}
}

// teamCounts counts the statuses of a team's members (role member); h.mu
// held.
func (o *orgState) teamCounts(t storage.TeamWithMembers) map[string]int {
	c := map[string]int{}
	for _, m := range t.Members {
		if m.Role == storage.TeamMember {
			c[o.status(m.UserID)]++
		}
	}
	return c
}

// status is a user's status, offline when unknown.
func (o *orgState) status(userID string) string {
	if st, ok := o.states[userID]; ok {
		return st.Status
	}
	return web.StatusOffline
}
