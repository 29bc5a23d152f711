package supervision

import (
	"time"

	"siteline/storage"
	"siteline/web"
)

// series is one team's status counts, a sample each SampleEvery, the last
// Keep of them, oldest first. It lives in memory: a restarted node starts
// a new one.
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
// its members' (role member) status counts.
func (h *Hub) Sample() {
	now := h.d.Now()
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, o := range h.orgs {
		live := map[string]bool{}
		for _, t := range o.teams {
			live[t.ID] = true
			s := o.series[t.ID]
			if s == nil {
				s = &series{}
				o.series[t.ID] = s
			}
			s.add(now, o.teamCounts(t), h.d.Keep)
		}
		for id := range o.series {
			if !live[id] {
				delete(o.series, id)
			}
		}
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
