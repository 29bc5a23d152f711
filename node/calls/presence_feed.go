package calls

import (
	"context"
	"maps"
	"sync"
	"time"

	"siteline/web"
)

// PresenceFeed pushes the presence of each organisation's users to the
// phonebook pages open on this node (web.PresenceFeed): a page first gets
// every user not offline, then, as Presence changes here or at another
// node, the users whose state changed. It looks at an organisation when
// Presence says it changed, and at every watched one each Presence
// refresh, which is when another node's announcements expire unannounced.
type PresenceFeed struct {
	p     *Presence
	every time.Duration
	kick  chan struct{}

	mu       sync.Mutex
	pending  map[string]bool
	watchers map[*presenceWatcher]struct{}
	last     map[string]map[string]string // org -> user -> state sent, offline users absent
}

type presenceWatcher struct {
	org  string
	mu   sync.Mutex // orders the events sent to one page
	send func(web.Event) error
}

// NewPresenceFeed builds the feed of p; Run delivers its changes.
func NewPresenceFeed(p *Presence) *PresenceFeed {
	f := &PresenceFeed{p: p, every: p.refresh, kick: make(chan struct{}, 1), pending: map[string]bool{},
		watchers: map[*presenceWatcher]struct{}{}, last: map[string]map[string]string{}}
	p.OnChange(f.changed)
	return f
}

// changed notes that an organisation's presence changed; it does not
// block (Presence.OnChange).
func (f *PresenceFeed) changed(org string) {
	f.mu.Lock()
	f.pending[org] = true
	f.mu.Unlock()
	select {
	case f.kick <- struct{}{}:
	default:
	}
}

// Run delivers changes until ctx ends.
func (f *PresenceFeed) Run(ctx context.Context) {
	tick := time.NewTicker(f.every)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-f.kick:
			f.mu.Lock()
			orgs := make([]string, 0, len(f.pending))
			for org := range f.pending {
				orgs = append(orgs, org)
			}
			clear(f.pending)
			f.mu.Unlock()
			for _, org := range orgs {
				f.refresh(org)
			}
		case <-tick.C:
			f.mu.Lock()
			orgs := make([]string, 0, len(f.last))
			for org := range f.last {
				orgs = append(orgs, org)
			}
			f.mu.Unlock()
			for _, org := range orgs {
				f.refresh(org)
			}
		}
	}
}

// refresh sends the users of a watched organisation whose state changed
// since it last looked.
func (f *PresenceFeed) refresh(org string) {
	now := f.p.States(org)
	f.mu.Lock()
	before, watched := f.last[org]
	if !watched {
		f.mu.Unlock()
		return
	}
	diff := map[string]string{}
	for u, st := range now {
		if before[u] != st {
			diff[u] = st
		}
	}
	for u := range before {
		if _, ok := now[u]; !ok {
			diff[u] = web.PresenceOffline
		}
	}
	f.last[org] = now
	var to []*presenceWatcher
	if len(diff) > 0 {
		for w := range f.watchers {
			if w.org == org {
				to = append(to, w)
			}
		}
	}
	f.mu.Unlock()
	for _, w := range to {
		w.deliver(web.Event{Type: web.EventPresence, Presence: diff})
	}
}

func (w *presenceWatcher) deliver(e web.Event) {
	w.mu.Lock()
	defer w.mu.Unlock()
	_ = w.send(e)
}

// WatchPresence registers a phonebook page and sends it every user of its
// organisation not offline.
func (f *PresenceFeed) WatchPresence(a web.Actor, send func(web.Event) error) (cancel func()) {
	w := &presenceWatcher{org: a.OrgID, send: send}
	// The first event is sent under w.mu, so that no change overtakes it.
	w.mu.Lock()
	defer w.mu.Unlock()
	f.mu.Lock()
	all, watched := f.last[a.OrgID]
	if !watched {
		all = f.p.States(a.OrgID)
		f.last[a.OrgID] = all
	}
	f.watchers[w] = struct{}{}
	f.mu.Unlock()
	_ = send(web.Event{Type: web.EventPresence, Presence: maps.Clone(all), PresenceAll: true})
	return func() {
		f.mu.Lock()
		defer f.mu.Unlock()
		delete(f.watchers, w)
		for other := range f.watchers {
			if other.org == w.org {
				return
			}
		}
		delete(f.last, w.org)
	}
}
