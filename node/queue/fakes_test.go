package queue

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"siteline/policy"
	"siteline/storage"
	"siteline/web"
)

// fakeStore keeps the queue and the organisation in memory.
type fakeStore struct {
	mu       sync.Mutex
	entries  []storage.QueueEntry
	rots     map[string]storage.QueueRotation
	off      map[string]storage.AutoAssign
	tqs      map[string]storage.TeamQueue
	sessions map[string]storage.Session
	events   []storage.SessionEvent
	teams    map[string]storage.Team
	members  map[string][]storage.TeamMembership
	users    map[string]storage.User
	reads    int // QueueEntries calls
}

func newFakeStore() *fakeStore {
	return &fakeStore{rots: map[string]storage.QueueRotation{}, off: map[string]storage.AutoAssign{},
		tqs: map[string]storage.TeamQueue{}, sessions: map[string]storage.Session{}, teams: map[string]storage.Team{},
		members: map[string][]storage.TeamMembership{}, users: map[string]storage.User{}}
}

func (f *fakeStore) AutoAssignOff(_ context.Context, orgID string) ([]storage.AutoAssign, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []storage.AutoAssign
	for _, a := range f.off {
		if a.OrgID == orgID && a.Off {
			out = append(out, a)
		}
	}
	return out, nil
}

func (f *fakeStore) TeamQueues(_ context.Context, orgID string) ([]storage.TeamQueue, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []storage.TeamQueue
	for _, t := range f.tqs {
		out = append(out, t)
	}
	return out, nil
}

func (f *fakeStore) Enqueue(_ context.Context, e storage.QueueEntry, ev storage.SessionEvent) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.entries = append(f.entries, e)
	f.events = append(f.events, ev)
	return nil
}

func (f *fakeStore) QueueEntries(_ context.Context, teamID string) ([]storage.QueueEntry, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.reads++
	var out []storage.QueueEntry
	for _, e := range f.entries {
		if teamID == "" || e.TeamID == teamID {
			e.Skipped = slices.Clone(e.Skipped)
			out = append(out, e)
		}
	}
	return out, nil
}

func (f *fakeStore) UpdateQueueEntry(_ context.Context, e storage.QueueEntry, ev storage.SessionEvent, rot *storage.QueueRotation) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	i := slices.IndexFunc(f.entries, func(x storage.QueueEntry) bool { return x.SessionID == e.SessionID })
	if i < 0 {
		return storage.ErrNotFound
	}
	f.entries[i] = e
	if rot != nil {
		f.rots[rot.TeamID] = *rot
	}
	f.events = append(f.events, ev)
	return nil
}

func (f *fakeStore) Dequeue(_ context.Context, sessionID, assignee string, ev *storage.SessionEvent) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	i := slices.IndexFunc(f.entries, func(x storage.QueueEntry) bool { return x.SessionID == sessionID })
	if i < 0 {
		return storage.ErrNotFound
	}
	f.entries = slices.Delete(f.entries, i, i+1)
	if ev != nil {
		f.events = append(f.events, *ev)
	}
	return nil
}

func (f *fakeStore) QueueRotations(context.Context) ([]storage.QueueRotation, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []storage.QueueRotation
	for _, r := range f.rots {
		out = append(out, r)
	}
	return out, nil
}

func (f *fakeStore) Session(_ context.Context, id string) (storage.Session, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	s, ok := f.sessions[id]
	if !ok {
		return s, storage.ErrNotFound
	}
	return s, nil
}

func (f *fakeStore) SessionGuests(context.Context, string) ([]storage.Guest, error) { return nil, nil }

func (f *fakeStore) User(_ context.Context, id string) (storage.User, error) {
	u, ok := f.users[id]
	if !ok {
		return u, storage.ErrNotFound
	}
	return u, nil
}

func (f *fakeStore) Team(_ context.Context, id string) (storage.Team, error) {
	t, ok := f.teams[id]
	if !ok {
		return t, storage.ErrNotFound
	}
	return t, nil
}

func (f *fakeStore) Teams(_ context.Context, orgID string) ([]storage.Team, error) {
	var out []storage.Team
	for _, t := range f.teams {
		out = append(out, t)
	}
	return out, nil
}

func (f *fakeStore) TeamMembers(_ context.Context, teamID string) ([]storage.TeamMembership, error) {
	return f.members[teamID], nil
}

func (f *fakeStore) eventsOf(kind string) []storage.SessionEvent {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []storage.SessionEvent
	for _, e := range f.events {
		if e.Kind == kind {
			out = append(out, e)
		}
	}
	return out
}

// fakeProposer applies commands to the fake store and tells the service.
type fakeProposer struct {
	f   *fakeStore
	svc *Service
}

func (p *fakeProposer) Propose(_ context.Context, cmd storage.Command) error {
	for _, ch := range cmd.Changes {
		p.f.mu.Lock()
		switch ch.Op {
		case storage.OpSetAutoAssign:
			p.f.off[ch.AutoAssign.UserID] = *ch.AutoAssign
		case storage.OpSetTeamQueue:
			p.f.tqs[ch.TeamQueue.TeamID] = *ch.TeamQueue
		}
		p.f.mu.Unlock()
	}
	if p.svc != nil {
		p.svc.Applied(cmd)
	}
	return nil
}

// fakeEnforcer grants each user the permissions listed.
type fakeEnforcer map[string][]string

func (e fakeEnforcer) Check(_, userID, perm string) error {
	if slices.Contains(e[userID], perm) {
		return nil
	}
	return &storage.ForbiddenError{Permission: perm}
}

type fakeSupervision map[string][]string

func (s fakeSupervision) Supervisees(_ context.Context, _, id string) ([]string, error) {
	return s[id], nil
}

type fakeAudit struct {
	mu      sync.Mutex
	actions []string
}

func (a *fakeAudit) Audit(_ context.Context, actor, action, target string, _ any) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.actions = append(a.actions, action)
	return nil
}

func (a *fakeAudit) count(action string) int {
	a.mu.Lock()
	defer a.mu.Unlock()
	n := 0
	for _, x := range a.actions {
		if x == action {
			n++
		}
	}
	return n
}

type fakePresence struct {
	mu  sync.Mutex
	off map[string]bool
	// asked, when set, runs after each answer (outside the lock): a
	// member's page may open while a pass goes on.
	asked func(u string)
}

func (p *fakePresence) Available(_, u string) bool {
	p.mu.Lock()
	av, asked := !p.off[u], p.asked
	p.mu.Unlock()
	if asked != nil {
		asked(u)
	}
	return av
}

func (p *fakePresence) set(u string, available bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.off[u] = !available
}

type fakePages struct {
	mu     sync.Mutex
	events map[string][]web.Event
	hook   func(userID string, e web.Event)
}

func (p *fakePages) Publish(u string, e web.Event) {
	p.mu.Lock()
	p.events[u] = append(p.events[u], e)
	h := p.hook
	p.mu.Unlock()
	if h != nil {
		h(u, e)
	}
}

func (p *fakePages) offers(u string) []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []string
	for _, e := range p.events[u] {
		if e.Type == web.EventIncomingCall {
			out = append(out, e.CallID)
		}
	}
	return out
}

// clock is a settable time.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// rig is a service over fakes: org o1, team t1 with members m1..m3 and a
// lead l1.
type rig struct {
	svc   *Service
	store *fakeStore
	pages *fakePages
	pres  *fakePresence
	audit *fakeAudit
	clk   *clock
	enf   fakeEnforcer
	seq   int
}

func newRig(t testing.TB, strategy string) *rig {
	t.Helper()
	f := newFakeStore()
	f.teams["t1"] = storage.Team{ID: "t1", OrgID: "o1", Name: "Line 1"}
	f.members["t1"] = []storage.TeamMembership{
		{TeamID: "t1", UserID: "m1", Role: storage.TeamMember}, {TeamID: "t1", UserID: "m2", Role: storage.TeamMember},
		{TeamID: "t1", UserID: "m3", Role: storage.TeamMember}, {TeamID: "t1", UserID: "l1", Role: storage.TeamLead},
	}
	for _, u := range []string{"m1", "m2", "m3", "l1", "x1"} {
		f.users[u] = storage.User{ID: u, OrgID: "o1"}
	}
	enf := fakeEnforcer{"m1": {policy.AutoAssign}, "m2": {policy.AutoAssign}, "m3": {policy.AutoAssign},
		"l1": {policy.ManageQueues}, "x1": {}}
	r := &rig{store: f, pages: &fakePages{events: map[string][]web.Event{}}, pres: &fakePresence{off: map[string]bool{}},
		audit: &fakeAudit{}, clk: &clock{t: time.Date(2026, 1, 1, 8, 0, 0, 0, time.UTC)}, enf: enf}
	prop := &fakeProposer{f: f}
	n := 0
	svc, err := New(Config{Strategy: strategy, OfferTimeout: 20 * time.Second}, Deps{
		Store: f, Proposer: prop, Enforcer: enf, Supervision: fakeSupervision{"l1": {"m1", "m2", "m3"}},
		Audit: r.audit, Presence: r.pres, Pages: r.pages, Now: r.clk.now,
		NewID: func() string { n++; return fmt.Sprintf("id%d", n) },
	})
	if err != nil {
		t.Fatal(err)
	}
	prop.svc = svc
	r.svc = svc
	return r
}

// request queues a new ringing call for team t1.
func (r *rig) request(t testing.TB) string {
	t.Helper()
	r.seq++
	id := fmt.Sprintf("call%02d", r.seq)
	r.store.mu.Lock()
	r.store.sessions[id] = storage.Session{ID: id, OrgID: "o1", Kind: storage.SessionServiceRequest, Status: storage.SessionRinging, StartedAt: r.clk.now()}
	r.store.mu.Unlock()
	if err := r.svc.Enqueue(context.Background(), "o1", "t1", id, "l1"); err != nil {
		t.Fatal(err)
	}
	return id
}

// offeredTo returns who holds the offer of call id now.
func (r *rig) offeredTo(id string) string {
	e, _ := r.svc.entry(context.Background(), id)
	return e.OfferedTo
}
