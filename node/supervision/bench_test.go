package supervision

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"siteline/policy"
	"siteline/storage"
	"siteline/web"
)

// BenchmarkStatusChangeToDashboard measures how long a member's status
// change takes to reach the open dashboard of the supervisor watching
// them: from presence telling the hub (Changed, as the node's presence
// does on every join, leave and announcement) to the update handed to the
// supervisor's events socket; 500 members in 50 teams, 20 supervisors
// watching (each leads two or three teams). It reports p50 and p99.
func BenchmarkStatusChangeToDashboard(b *testing.B) {
	const members, teams, supervisors = 500, 50, 20
	o := &org{}
	az := authz{}
	for i := range teams {
		t := storage.TeamWithMembers{Team: storage.Team{ID: fmt.Sprintf("t%02d", i), OrgID: "o1"}}
		t.Members = append(t.Members, storage.TeamMembership{TeamID: t.ID, UserID: fmt.Sprintf("s%02d", i%supervisors), Role: storage.TeamLead})
		for j := range members / teams {
			t.Members = append(t.Members, storage.TeamMembership{TeamID: t.ID, UserID: fmt.Sprintf("u%03d", i*members/teams+j), Role: storage.TeamMember})
		}
		o.teams = append(o.teams, t)
	}
	p := newPresence(time.Now)
	for i := range members {
		p.set(fmt.Sprintf("u%03d", i), Seen{Page: true, Active: time.Now()})
	}
	h := New(Deps{Presence: p, Org: o, Stats: &stats{}, Authz: az, IdleAfter: time.Hour, TeamsTTL: time.Hour})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	h.Follow(ctx, "o1")
	go h.Run(ctx)

	type arrival struct {
		member string
		at     time.Time
	}
	arrived := make(chan arrival, 1024)
	for i := range supervisors {
		id := fmt.Sprintf("s%02d", i)
		az[id] = []string{policy.TeamDashboard}
		h.Watch(web.Actor{UserID: id, OrgID: "o1"}, func(e web.Event) error {
			if e.Supervision != nil && e.Supervision.Member != nil {
				arrived <- arrival{e.Supervision.Member.ID, time.Now()}
			}
			return nil
		})
	}
	// Drain what the watchers' first look sent.
	for drained := false; !drained; {
		select {
		case <-arrived:
		case <-time.After(100 * time.Millisecond):
			drained = true
		}
	}

	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := range b.N {
		u := fmt.Sprintf("u%03d", i%members)
		s := p.Snapshot("o1")[u]
		s.InCall = !s.InCall
		s.CallID, s.Since = "", time.Time{}
		if s.InCall {
			s.CallID, s.Since = fmt.Sprintf("c%d", i), time.Now()
		}
		p.set(u, s)
		start := time.Now()
		h.Changed("o1")
		for a := range arrived {
			if a.member == u {
				lat = append(lat, a.at.Sub(start))
				break
			}
		}
	}
	b.StopTimer()
	slices.Sort(lat)
	pct := func(q float64) float64 { return float64(lat[int(q*float64(len(lat)-1))].Microseconds()) }
	b.ReportMetric(pct(0.50), "p50-µs")
	b.ReportMetric(pct(0.99), "p99-µs")
}
