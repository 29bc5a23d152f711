package supervision

import (
	"context"
	"sync"
	"time"

	"siteline/policy"
	"siteline/storage"
	"siteline/web"
)

// clock is a fake clock tests move by hand.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// presence is a fake federation presence.
type presence struct {
	mu     sync.Mutex
	now    func() time.Time
	seen   map[string]Seen
	active []string
}

func newPresence(now func() time.Time) *presence { return &presence{now: now, seen: map[string]Seen{}} }

func (p *presence) Snapshot(string) map[string]Seen {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make(map[string]Seen, len(p.seen))
	for k, v := range p.seen {
		out[k] = v
	}
	return out
}

func (p *presence) Active(_, user string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.active = append(p.active, user)
	if s, ok := p.seen[user]; ok {
		s.Active = p.now()
		p.seen[user] = s
	}
}

func (p *presence) set(user string, s Seen) {
	p.mu.Lock()
	p.seen[user] = s
	p.mu.Unlock()
}

func (p *presence) gone(user string) {
	p.mu.Lock()
	delete(p.seen, user)
	p.mu.Unlock()
}

// org is a fake organisation: teams and users.
type org struct {
	teams []storage.TeamWithMembers
	users []storage.User
}

func (o *org) TeamsWithMembers(context.Context, string) ([]storage.TeamWithMembers, error) {
	return o.teams, nil
}

func (o *org) Users(context.Context, string) ([]storage.User, error) { return o.users, nil }

func (o *org) Sites(context.Context, string) ([]storage.Site, error) {
	return []storage.Site{{ID: "s-a", OrgID: "o1", Name: "Plant A"}}, nil
}

// stats is a fake site history.
type stats struct {
	calls   map[string]storage.CallStats
	ongoing []storage.OngoingSession
}

func (s *stats) CallStats(_ context.Context, _ string, ids []string, _ time.Time) (map[string]storage.CallStats, error) {
	out := map[string]storage.CallStats{}
	for _, id := range ids {
		if c, ok := s.calls[id]; ok {
			out[id] = c
		}
	}
	return out, nil
}

func (s *stats) OngoingSessions(context.Context, string, []string) ([]storage.OngoingSession, error) {
	return s.ongoing, nil
}

// authz grants permissions per user.
type authz map[string][]string

func (a authz) Check(_, user, perm string) error {
	for _, p := range a[user] {
		if p == perm {
			return nil
		}
	}
	return &storage.ForbiddenError{Permission: perm}
}

// autoAssign is a fake of the queues' switch.
type autoAssign struct {
	mu  sync.Mutex
	off map[string]bool
	on  []func(string, string)
}

func (a *autoAssign) AutoAssignOff(_, user string) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.off[user]
}

func (a *autoAssign) OnAutoAssignChange(f func(string, string)) { a.on = append(a.on, f) }

func (a *autoAssign) set(user string, off bool) {
	a.mu.Lock()
	a.off[user] = off
	a.mu.Unlock()
	for _, f := range a.on {
		f("o1", user)
	}
}

// queue is a fake of the team queues.
type queue struct {
	mu    sync.Mutex
	items map[string][]web.QueueItem
	on    []func(string, string)
}

func (q *queue) Queued(_ context.Context, _, team string) ([]web.QueueItem, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.items[team], nil
}

func (q *queue) OnQueueChange(f func(string, string)) { q.on = append(q.on, f) }

func (q *queue) add(team string, r web.QueueItem) {
	q.mu.Lock()
	q.items[team] = append(q.items[team], r)
	q.mu.Unlock()
	for _, f := range q.on {
		f("o1", team)
	}
}

// inbox collects what a watcher receives.
type inbox struct {
	mu     sync.Mutex
	events []web.Event
}

func (i *inbox) send(e web.Event) error {
	i.mu.Lock()
	i.events = append(i.events, e)
	i.mu.Unlock()
	return nil
}

// take returns and forgets what arrived.
func (i *inbox) take() []web.Event {
	i.mu.Lock()
	defer i.mu.Unlock()
	out := i.events
	i.events = nil
	return out
}

// statuses maps the member updates received to user -> last status.
func statuses(evs []web.Event) map[string]string {
	out := map[string]string{}
	for _, e := range evs {
		if e.Type == web.EventSupervision && e.Supervision.Kind == "member" {
			out[e.Supervision.Member.ID] = e.Supervision.Member.Status
		}
	}
	return out
}

// world is a hub over fakes: team t1 (lead l1, manager m1, members u1,
// u2, lead l2), team t2 (lead l2, members u3, and u1 too), administrator
// adm, outsider x.
type world struct {
	clock    *clock
	presence *presence
	org      *org
	stats    *stats
	auto     *autoAssign
	queue    *queue
	hub      *Hub
}

var dashboard = []string{policy.TeamDashboard}

func newWorld(withSeams bool) *world {
	w := &world{clock: newClock()}
	w.presence = newPresence(w.clock.Now)
	w.org = &org{teams: []storage.TeamWithMembers{
		{Team: storage.Team{ID: "t1", OrgID: "o1", Name: "Line 1"}, Members: []storage.TeamMembership{
			{TeamID: "t1", UserID: "l1", Role: storage.TeamLead}, {TeamID: "t1", UserID: "m1", Role: storage.TeamManager},
			{TeamID: "t1", UserID: "u1", Role: storage.TeamMember}, {TeamID: "t1", UserID: "u2", Role: storage.TeamMember},
			{TeamID: "t1", UserID: "l2", Role: storage.TeamLead},
		}},
		{Team: storage.Team{ID: "t2", OrgID: "o1", Name: "Line 2"}, Members: []storage.TeamMembership{
			{TeamID: "t2", UserID: "l2", Role: storage.TeamLead}, {TeamID: "t2", UserID: "u3", Role: storage.TeamMember},
			{TeamID: "t2", UserID: "u1", Role: storage.TeamMember},
		}},
	}}
	for _, id := range []string{"l1", "l2", "m1", "u1", "u2", "u3", "adm", "x"} {
		w.org.users = append(w.org.users, storage.User{ID: id, OrgID: "o1", Name: "User " + id, Email: id + "@plant.example"})
	}
	w.stats = &stats{calls: map[string]storage.CallStats{}}
	d := Deps{Presence: w.presence, Org: w.org, Stats: w.stats, IdleAfter: 5 * time.Minute, Now: w.clock.Now,
		Authz: authz{"l1": dashboard, "l2": dashboard, "m1": dashboard, "u1": nil, "x": dashboard,
			"adm": {policy.TeamDashboard, policy.AdminTeams}}}
	if withSeams {
		w.auto = &autoAssign{off: map[string]bool{}}
		w.queue = &queue{items: map[string][]web.QueueItem{}}
		d.AutoAssign, d.Queue = w.auto, w.queue
	}
	w.hub = New(d)
	w.hub.Follow(context.Background(), "o1")
	return w
}

func (w *world) watch(user string) *inbox {
	in := &inbox{}
	w.hub.Watch(web.Actor{UserID: user, OrgID: "o1"}, in.send)
	return in
}

func (w *world) refresh() { w.hub.Refresh(context.Background(), "o1") }
