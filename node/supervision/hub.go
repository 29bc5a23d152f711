package supervision

import (
	"context"
	"log/slog"
	"slices"
	"sync"
	"time"

	"siteline/policy"
	"siteline/storage"
	"siteline/web"
)

// Presence is the federation's presence (node/calls' Presence, adapted):
// who is where, and activity on a user's pages.
type Presence interface {
	Snapshot(orgID string) map[string]Seen
	Active(orgID, userID string)
}

// Org reads the organisation's teams and users (the node's store).
type Org interface {
	TeamsWithMembers(ctx context.Context, orgID string) ([]storage.TeamWithMembers, error)
	Users(ctx context.Context, orgID string) ([]storage.User, error)
	Sites(ctx context.Context, orgID string) ([]storage.Site, error)
}

// Stats reads the site history (the node's store; at headquarters the
// plants' forwarded history too).
type Stats interface {
	CallStats(ctx context.Context, orgID string, userIDs []string, since time.Time) (map[string]storage.CallStats, error)
	OngoingSessions(ctx context.Context, orgID string, userIDs []string) ([]storage.OngoingSession, error)
}

// AutoAssign is the team queues' switch per member. A nil AutoAssign has
// every member's switch on.
type AutoAssign interface {
	// AutoAssignOff reports whether the user switched auto-assign off.
	AutoAssignOff(orgID, userID string) bool
	// OnAutoAssignChange calls f after a user's switch changed; f does
	// not block.
	OnAutoAssignChange(f func(orgID, userID string))
}

// Queue is the team queues' waiting service requests. A nil Queue has
// every queue empty.
type Queue interface {
	// Queued lists a team's waiting requests, oldest first.
	Queued(ctx context.Context, orgID, teamID string) ([]web.QueueItem, error)
	// OnQueueChange calls f after a team's queue changed; f does not
	// block.
	OnQueueChange(f func(orgID, teamID string))
}

// Samples keeps the status-count series across restarts (the node's
// store). A nil Samples keeps them in memory only.
type Samples interface {
	// SaveStatusSamples stores samples and removes those taken before
	// the given time.
	SaveStatusSamples(ctx context.Context, samples []storage.StatusSample, before time.Time) error
	// StatusSamples lists an organisation's samples since a time, oldest
	// first.
	StatusSamples(ctx context.Context, orgID string, since time.Time) ([]storage.StatusSample, error)
}

// Auditor appends to the audit log (the node's).
type Auditor interface {
	Audit(ctx context.Context, actor, action, target string, detail any) error
}

// Deps is what the hub needs.
type Deps struct {
	// Audit records who opened which team's dashboard (nil records
	// nothing).
	Audit      Auditor
	Presence   Presence
	Org        Org
	Stats      Stats
	Authz      policy.Checker
	AutoAssign AutoAssign // nil: every switch on
	Queue      Queue      // nil: every queue empty
	Samples    Samples    // nil: the series start anew with the hub
	// IdleAfter is supervision.idle_after (5 minutes when zero).
	IdleAfter time.Duration
	// Tick is how often every organisation is looked at again, for idle
	// members and nodes gone quiet (1 second when zero).
	Tick time.Duration
	// SampleEvery and Keep shape the status-count series (a minute and
	// six hours when zero).
	SampleEvery, Keep time.Duration
	// TeamsTTL is how long the teams read are trusted before being read
	// again (5 seconds when zero).
	TeamsTTL time.Duration
	Now      func() time.Time
	Log      *slog.Logger
}

// Hub is the node's team dashboard: it keeps the status of every member
// of the organisations' teams, and tells the supervisors watching what
// changed.
type Hub struct {
	d    Deps
	kick chan struct{}

	// refreshing orders looks at the statuses and their fan-out, so that
	// a supervisor receives the changes of a member in order.
	refreshing sync.Mutex

	mu       sync.Mutex
	orgs     map[string]*orgState
	pending  map[string]bool
	watchers map[*watcher]struct{}
	viewed   map[string]time.Time // supervisor and team -> when audited
}

type orgState struct {
	states  map[string]State // by user id: every member of a team
	teams   []storage.TeamWithMembers
	sites   map[string]string // site id -> name
	readAt  time.Time
	started bool
	series  map[string]*series // by team id
}

// watcher is one open page of a supervisor.
type watcher struct {
	org, user string
	send      func(web.Event) error
	mu        sync.Mutex
	// view is what they may watch: team -> its members they see.
	view map[string]map[string]bool
}

// New builds a hub; Run makes it follow changes.
func New(d Deps) *Hub {
	if d.IdleAfter <= 0 {
		d.IdleAfter = 5 * time.Minute
	}
	if d.Tick <= 0 {
		d.Tick = time.Second
	}
	if d.SampleEvery <= 0 {
		d.SampleEvery = time.Minute
	}
	if d.Keep <= 0 {
		d.Keep = 6 * time.Hour
	}
	if d.TeamsTTL <= 0 {
		d.TeamsTTL = 5 * time.Second
	}
	if d.Now == nil {
		d.Now = time.Now
	}
	if d.Log == nil {
		d.Log = slog.New(slog.DiscardHandler)
	}
	h := &Hub{d: d, kick: make(chan struct{}, 1), orgs: map[string]*orgState{}, pending: map[string]bool{}, watchers: map[*watcher]struct{}{}, viewed: map[string]time.Time{}}
	if d.AutoAssign != nil {
		d.AutoAssign.OnAutoAssignChange(func(orgID, _ string) { h.Changed(orgID) })
	}
	if d.Queue != nil {
		d.Queue.OnQueueChange(h.queueChanged)
	}
	return h
}

// Changed tells the hub that the presence of an organisation changed; the
// hub looks at once (Run). It does not block.
func (h *Hub) Changed(orgID string) {
	h.mu.Lock()
	h.pending[orgID] = true
	h.mu.Unlock()
	select {
	case h.kick <- struct{}{}:
	default:
	}
}

// Run follows changes until ctx ends: the organisations Changed names at
// once, every organisation each Tick, and a sample of each team's status
// counts each SampleEvery.
func (h *Hub) Run(ctx context.Context) {
	tick := time.NewTicker(h.d.Tick)
	defer tick.Stop()
	sample := time.NewTicker(h.d.SampleEvery)
	defer sample.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-h.kick:
			h.mu.Lock()
			orgs := make([]string, 0, len(h.pending))
			for o := range h.pending {
				orgs = append(orgs, o)
			}
			clear(h.pending)
			h.mu.Unlock()
			for _, o := range orgs {
				h.Refresh(ctx, o)
			}
		case <-tick.C:
			for _, o := range h.knownOrgs() {
				h.Refresh(ctx, o)
			}
		case <-sample.C:
			h.Sample()
		}
	}
}

func (h *Hub) knownOrgs() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := make([]string, 0, len(h.orgs))
	for o := range h.orgs {
		out = append(out, o)
	}
	return out
}

// Follow makes the hub follow an organisation from now on (the node's
// own at start), so that its series begin before anyone watches; they
// begin with the samples kept from before (Samples).
func (h *Hub) Follow(ctx context.Context, orgID string) {
	h.loadSeries(ctx, orgID)
	h.Refresh(ctx, orgID)
}

// Refresh looks at the statuses of an organisation's members again and
// sends what changed to the supervisors who see them.
func (h *Hub) Refresh(ctx context.Context, orgID string) {
	h.refreshing.Lock()
	defer h.refreshing.Unlock()
	now := h.d.Now()
	h.mu.Lock()
	o := h.org(orgID)
	stale := o.teams == nil || now.Sub(o.readAt) >= h.d.TeamsTTL
	h.mu.Unlock()
	if stale {
		if _, err := h.teams(ctx, orgID); err != nil {
			h.d.Log.Warn("supervision: read teams", "org", orgID, "err", err)
		}
	}
	seen := h.d.Presence.Snapshot(orgID)

	h.mu.Lock()
	users := map[string][]string{} // member -> their teams
	for _, t := range o.teams {
		for _, m := range t.Members {
			users[m.UserID] = append(users[m.UserID], t.ID)
		}
	}
	type change struct {
		user  string
		teams []string
		st    State
	}
	var changes []change
	for u, teams := range users {
		prev, had := o.states[u]
		off := h.d.AutoAssign != nil && h.d.AutoAssign.AutoAssignOff(orgID, u)
		st := next(prev, had, seen[u], off, now, h.d.IdleAfter)
		if had && st.same(prev) {
			continue
		}
		o.states[u] = st
		if had || o.started {
			changes = append(changes, change{u, teams, st})
		}
	}
	for u := range o.states {
		if users[u] == nil {
			delete(o.states, u)
		}
	}
	o.started = true
	type delivery struct {
		w *watcher
		e web.Event
	}
	var out []delivery
	for w := range h.watchers {
		if w.org != orgID {
			continue
		}
		for _, c := range changes {
			var teams []string
			for _, t := range c.teams {
				if w.view[t][c.user] {
					teams = append(teams, t)
				}
			}
			if len(teams) == 0 {
				continue
			}
			m := c.st.member(c.user)
			m.Site = o.siteName(m.Site)
			out = append(out, delivery{w, web.Event{Type: web.EventSupervision,
				Supervision: &web.SupervisionUpdate{Kind: "member", Teams: teams, Member: &m}}})
		}
	}
	h.mu.Unlock()
	for _, d := range out {
		d.w.deliver(d.e)
	}
}

// org returns the state of an organisation, made on first use; h.mu held.
func (h *Hub) org(orgID string) *orgState {
	o := h.orgs[orgID]
	if o == nil {
		o = &orgState{states: map[string]State{}, series: map[string]*series{}}
		h.orgs[orgID] = o
	}
	return o
}

// setTeams keeps the teams read and recomputes what each watcher of the
// organisation sees.
func (h *Hub) setTeams(orgID string, teams []storage.TeamWithMembers, now time.Time) {
	h.mu.Lock()
	defer h.mu.Unlock()
	o := h.org(orgID)
	o.teams, o.readAt = teams, now
	for w := range h.watchers {
		if w.org == orgID {
			v := h.viewOf(orgID, w.user, teams)
			w.mu.Lock()
			w.view = v
			w.mu.Unlock()
		}
	}
}

func (w *watcher) deliver(e web.Event) {
	w.mu.Lock()
	defer w.mu.Unlock()
	_ = w.send(e)
}

// Watch registers a supervisor's open page; nothing is sent to one who
// lacks the permission.
func (h *Hub) Watch(a web.Actor, send func(web.Event) error) (cancel func()) {
	if a.Local || a.UserID == "" || h.d.Authz.Check(a.OrgID, a.UserID, policy.TeamDashboard) != nil {
		return func() {}
	}
	ctx, done := context.WithTimeout(context.Background(), 10*time.Second)
	defer done()
	teams, err := h.teams(ctx, a.OrgID)
	if err != nil {
		h.d.Log.Warn("supervision: watch", "user", a.UserID, "err", err)
	}
	w := &watcher{org: a.OrgID, user: a.UserID, send: send}
	h.mu.Lock()
	w.view = h.viewOf(a.OrgID, a.UserID, teams)
	h.watchers[w] = struct{}{}
	h.mu.Unlock()
	h.Changed(a.OrgID)
	return func() {
		h.mu.Lock()
		delete(h.watchers, w)
		h.mu.Unlock()
	}
}

// teams reads an organisation's teams (and its sites' names) afresh and
// keeps them.
func (h *Hub) teams(ctx context.Context, orgID string) ([]storage.TeamWithMembers, error) {
	teams, err := h.d.Org.TeamsWithMembers(ctx, orgID)
	if err != nil {
		return nil, err
	}
	sites, err := h.d.Org.Sites(ctx, orgID)
	if err != nil {
		return nil, err
	}
	names := make(map[string]string, len(sites))
	for _, s := range sites {
		names[s.ID] = s.Name
	}
	h.mu.Lock()
	h.org(orgID).sites = names
	h.mu.Unlock()
	h.setTeams(orgID, teams, h.d.Now())
	return teams, nil
}

// siteName is a site's name, or its id when unknown; h.mu held.
func (o *orgState) siteName(id string) string {
	if n := o.sites[id]; n != "" {
		return n
	}
	return id
}

// viewOf is what a supervisor may watch: each team they lead or manage
// (every team for an administrator of teams) with its members they reach.
func (h *Hub) viewOf(orgID, userID string, teams []storage.TeamWithMembers) map[string]map[string]bool {
	admin := h.d.Authz.Check(orgID, userID, policy.AdminTeams) == nil
	out := map[string]map[string]bool{}
	for _, t := range teams {
		if !admin && roleIn(t, userID) != storage.TeamLead && roleIn(t, userID) != storage.TeamManager {
			continue
		}
		out[t.ID] = map[string]bool{}
		for _, id := range reach(t, userID, admin) {
			out[t.ID][id] = true
		}
	}
	return out
}

// reach lists the members of a team a supervisor sees on its dashboard:
// policy.Supervisees within the team, or everyone but themself for an
// administrator of teams.
func reach(t storage.TeamWithMembers, userID string, admin bool) []string {
	if !admin {
		return policy.Supervisees(t.Members, userID)
	}
	var out []string
	for _, m := range t.Members {
		if m.UserID != userID && !slices.Contains(out, m.UserID) {
			out = append(out, m.UserID)
		}
	}
	return out
}

func roleIn(t storage.TeamWithMembers, userID string) storage.TeamRole {
	var role storage.TeamRole
	for _, m := range t.Members {
		if m.UserID == userID && (role == "" || m.Role == storage.TeamManager || m.Role == storage.TeamLead && role == storage.TeamMember) {
			role = m.Role
		}
	}
	return role
}

// Active records activity of a user on one of their pages.
func (h *Hub) Active(a web.Actor) {
	if a.Local || a.UserID == "" {
		return
	}
	h.d.Presence.Active(a.OrgID, a.UserID)
}

// queueChanged sends a team's queue to the supervisors who watch it.
func (h *Hub) queueChanged(orgID, teamID string) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	q, err := h.d.Queue.Queued(ctx, orgID, teamID)
	if err != nil {
		h.d.Log.Warn("supervision: read queue", "team", teamID, "err", err)
		return
	}
	e := web.Event{Type: web.EventSupervision, Supervision: &web.SupervisionUpdate{Kind: "queue", Teams: []string{teamID}, Queue: nonNil(q)}}
	h.mu.Lock()
	var ws []*watcher
	for w := range h.watchers {
		if w.org == orgID && w.view[teamID] != nil {
			ws = append(ws, w)
		}
	}
	h.mu.Unlock()
	for _, w := range ws {
		w.deliver(e)
	}
}

func nonNil[T any](v []T) []T {
	if v == nil {
		return []T{}
	}
	return v
}
