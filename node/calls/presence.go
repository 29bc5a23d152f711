package calls

import (
	"context"
	"encoding/json"
	"log/slog"
	"maps"
	"sort"
	"strings"
	"sync"
	"time"

	"siteline/web"
)

// Wire is the federation's bus as presence and the ring use it
// (*bus.Bus): plain messages and requests that no stream keeps.
type Wire interface {
	Notify(subject string, data []byte) error
	Serve(subject string, handle func(subject string, data []byte) []byte) (stop func(), err error)
	Ask(ctx context.Context, subject string, data []byte) ([]byte, error)
}

const presencePrefix = "siteline.presence." // + organisation id

// Presence states, as the phonebook shows them.
const (
	Offline = web.PresenceOffline
	Online  = web.PresenceOnline
	InCall  = web.PresenceInCall
)

// Presence knows which users of each organisation have a backoffice page
// open, and which are in a call, on this node and, from what the other
// nodes announce on the bus, on every node of the federation. A node
// announces its users on every change and every Refresh; what a node
// announced expires after TTL, so the users of a node cut off go offline
// elsewhere within TTL, and a node that restarts or a link that heals
// converges within Refresh.
type Presence struct {
	nodeID  string
	siteID  string
	refresh time.Duration
	ttl     time.Duration
	now     func() time.Time
	log     *slog.Logger

	// sending orders announcements: each reads the state and sends it
	// before the next reads, so the last one sent is the latest state.
	sending sync.Mutex
	mu      sync.Mutex
	wire    Wire
	url     string                               // SetURL
	local   map[string]map[string]*here          // org -> user -> counts
	remote  map[string]map[string]remoteAnnounce // org -> node -> its last announcement

	// onChange hears of every change of an organisation's presence
	// (OnChange); it runs outside mu.
	onChange []func(org string)
}

// here is a user on this node: open pages, calls by id (a user may join
// one call from two devices) with when each was first joined, and when the
// user was last active on a page.
type here struct {
	pages, calls int
	in           map[string]*callHere
	active       time.Time
}

type callHere struct {
	n     int
	since time.Time
}

type remoteAnnounce struct {
	site    string
	url     string
	users   map[string]userState
	expires time.Time
}

// userState is a user on one node: a page open there, in a call there.
// CallID, Since and Active came later: a node that does not send them is
// read as before (in a call, which one and since when unknown), and one
// that does not read them ignores them.
type userState struct {
	Page bool `json:"page,omitempty"`
	Call bool `json:"call,omitempty"`
	// CallID is the call the user joined last on that node, Since when
	// (unix milliseconds).
	CallID string `json:"call_id,omitempty"`
	Since  int64  `json:"since,omitempty"`
	// Active is when the user was last active on a page there (unix
	// milliseconds): opening it, or what the page reports.
	Active int64 `json:"active,omitempty"`
}

// announcement is one node's users of one organisation.
type announcement struct {
	Node  string               `json:"node"`
	Org   string               `json:"org"`
	Site  string               `json:"site,omitempty"` // the node's site (later than the rest)
	URL   string               `json:"url,omitempty"`  // the node's public address (later still)
	Users map[string]userState `json:"users"`
}

// PresenceConfig sets the refresh period and expiry (5s and 3×refresh when
// zero).
type PresenceConfig struct {
	NodeID  string
	SiteID  string
	Refresh time.Duration
	TTL     time.Duration
	Now     func() time.Time
	Log     *slog.Logger
}

// NewPresence builds a node's presence; it is local only until Federate.
func NewPresence(cfg PresenceConfig) *Presence {
	if cfg.Refresh <= 0 {
		cfg.Refresh = 5 * time.Second
	}
	if cfg.TTL <= 0 {
		cfg.TTL = 3 * cfg.Refresh
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	return &Presence{nodeID: cfg.NodeID, siteID: cfg.SiteID, refresh: cfg.Refresh, ttl: cfg.TTL, now: cfg.Now, log: cfg.Log,
		local: map[string]map[string]*here{}, remote: map[string]map[string]remoteAnnounce{}}
}

// Federate listens to the other nodes' announcements and announces this
// node's users every Refresh until ctx ends.
func (p *Presence) Federate(ctx context.Context, w Wire) error {
	stop, err := w.Serve(presencePrefix+"*", func(_ string, data []byte) []byte {
		p.receive(data)
		return nil
	})
	if err != nil {
		return err
	}
	p.mu.Lock()
	p.wire = w
	p.mu.Unlock()
	go func() {
		t := time.NewTicker(p.refresh)
		defer t.Stop()
		defer stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				p.announceAll()
			}
		}
	}()
	p.announceAll()
	return nil
}

// SetURL sets the address users open on this node (its HTTP listener's,
// or http.public_url), which the announcements carry from now on: other
// nodes link there to a call held here.
func (p *Presence) SetURL(url string) {
	p.mu.Lock()
	p.url = url
	p.mu.Unlock()
}

func (p *Presence) receive(data []byte) {
	var a announcement
	if err := json.Unmarshal(data, &a); err != nil || a.Node == "" || a.Org == "" {
		p.log.Warn("presence: bad announcement", "err", err)
		return
	}
	if a.Node == p.nodeID {
		return
	}
	p.mu.Lock()
	if p.remote[a.Org] == nil {
		p.remote[a.Org] = map[string]remoteAnnounce{}
	}
	prev, had := p.remote[a.Org][a.Node]
	p.remote[a.Org][a.Node] = remoteAnnounce{site: a.Site, url: a.URL, users: a.Users, expires: p.now().Add(p.ttl)}
	p.mu.Unlock()
	if !had || !maps.Equal(prev.users, a.Users) || prev.url != a.URL {
		p.changed(a.Org)
	}
}

// OnChange calls f with the organisation after every change of its
// presence here or announced by another node. f must not block. The
// expiry of another node's announcement is not announced: readers that
// care look again (Snapshot) now and then.
func (p *Presence) OnChange(f func(org string)) {
	p.mu.Lock()
	p.onChange = append(p.onChange, f)
	p.mu.Unlock()
}

func (p *Presence) changed(org string) {
	p.mu.Lock()
	fs := p.onChange
	p.mu.Unlock()
	for _, f := range fs {
		f(org)
	}
}

// announceAll announces every organisation this node has heard of or
// holds users of (an empty list tells the others they left).
func (p *Presence) announceAll() {
	p.mu.Lock()
	orgs := make([]string, 0, len(p.local))
	for org := range p.local {
		orgs = append(orgs, org)
	}
	p.mu.Unlock()
	for _, org := range orgs {
		p.announce(org)
	}
}

func (p *Presence) announce(org string) {
	p.sending.Lock()
	defer p.sending.Unlock()
	p.mu.Lock()
	w := p.wire
	a := announcement{Node: p.nodeID, Org: org, Site: p.siteID, URL: p.url, Users: map[string]userState{}}
	for u, h := range p.local[org] {
		a.Users[u] = h.state()
	}
	p.mu.Unlock()
	if w == nil {
		return
	}
	data, _ := json.Marshal(a)
	if err := w.Notify(presencePrefix+org, data); err != nil {
		p.log.Warn("presence: announce", "org", org, "err", err)
	}
}

// state is what a node announces of a user here: the call joined last.
func (h *here) state() userState {
	st := userState{Page: h.pages > 0, Call: h.calls > 0, Active: unixMilli(h.active)}
	for id, c := range h.in {
		if st.CallID == "" || c.since.After(time.UnixMilli(st.Since)) || c.since.Equal(time.UnixMilli(st.Since)) && id > st.CallID {
			st.CallID, st.Since = id, unixMilli(c.since)
		}
	}
	return st
}

func unixMilli(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}

// change applies f to a user's counts here and announces the result.
func (p *Presence) change(org, user string, f func(*here)) {
	if p == nil || org == "" || user == "" || strings.HasPrefix(user, web.GuestIDPrefix) {
		return
	}
	p.mu.Lock()
	if p.local[org] == nil {
		p.local[org] = map[string]*here{}
	}
	h := p.local[org][user]
	if h == nil {
		h = &here{}
		p.local[org][user] = h
	}
	f(h)
	if h.pages <= 0 && h.calls <= 0 {
		delete(p.local[org], user)
	}
	p.mu.Unlock()
	p.announce(org)
	p.changed(org)
}

// PageOpened counts an open page of a user on this node until release;
// opening it is activity.
func (p *Presence) PageOpened(org, user string) (release func()) {
	p.change(org, user, func(h *here) { h.pages++; h.active = p.now() })
	var once sync.Once
	return func() { once.Do(func() { p.change(org, user, func(h *here) { h.pages-- }) }) }
}

// CallJoined counts a user in a call on this node until release.
func (p *Presence) CallJoined(org, user string) (release func()) {
	return p.JoinedCall(org, user, "")
}

// JoinedCall counts a user in call callID on this node until release, and
// remembers since when ("" when the call is not known).
func (p *Presence) JoinedCall(org, user, callID string) (release func()) {
	p.change(org, user, func(h *here) {
		h.calls++
		if callID == "" {
			return
		}
		if h.in == nil {
			h.in = map[string]*callHere{}
		}
		if c := h.in[callID]; c != nil {
			c.n++
		} else {
			h.in[callID] = &callHere{n: 1, since: p.now()}
		}
	})
	var once sync.Once
	return func() {
		once.Do(func() {
			p.change(org, user, func(h *here) {
				h.calls--
				if c := h.in[callID]; c != nil {
					if c.n--; c.n <= 0 {
						delete(h.in, callID)
					}
				}
			})
		})
	}
}

// activeAnnounce is how long after the last activity announced a new one
// is announced at once rather than with the next refresh: long enough to
// keep a busy page from announcing its organisation on every report,
// short enough for another node to see an idle user come back at once.
const activeAnnounce = time.Minute

// Active records activity of a user on one of their pages here (a page
// of theirs must be open here). Activity after a quiet minute is
// announced at once; otherwise with the next refresh.
func (p *Presence) Active(org, user string) {
	if p == nil {
		return
	}
	now := p.now()
	p.mu.Lock()
	h := p.local[org][user]
	if h == nil || h.pages <= 0 {
		p.mu.Unlock()
		return
	}
	quiet := now.Sub(h.active) >= activeAnnounce
	h.active = now
	p.mu.Unlock()
	if quiet {
		p.announce(org)
	}
	p.changed(org)
}

// Seen is a user's presence over the federation (Snapshot).
type Seen struct {
	Page   bool      // a backoffice page open on some node
	InCall bool      // in a call on some node
	CallID string    // the call joined last, when known
	Since  time.Time // when it was joined, when known
	Node   string    // the node of that call ("" for this one)
	Site   string    // the site of that node, when known
	URL    string    // that node's public address, when another node's and known
	Active time.Time // the last activity on any page, when known
}

// Snapshot returns the presence of every user of an organisation who is
// not offline, over the whole federation.
func (p *Presence) Snapshot(org string) map[string]Seen {
	out := map[string]Seen{}
	if p == nil {
		return out
	}
	merge := func(u, node, site, url string, st userState) {
		s := out[u]
		s.Page = s.Page || st.Page
		if st.Call {
			since := time.Time{}
			if st.Since != 0 {
				since = time.UnixMilli(st.Since).UTC()
			}
			if !s.InCall || st.CallID != "" && (s.CallID == "" || since.After(s.Since)) {
				s.CallID, s.Since, s.Node, s.Site, s.URL = st.CallID, since, node, site, url
			}
			s.InCall = true
		}
		if st.Active != 0 {
			if a := time.UnixMilli(st.Active).UTC(); a.After(s.Active) {
				s.Active = a
			}
		}
		out[u] = s
	}
	now := p.now()
	p.mu.Lock()
	defer p.mu.Unlock()
	for u, h := range p.local[org] {
		merge(u, "", p.siteID, "", h.state())
	}
	for node, a := range p.remote[org] {
		if !now.Before(a.expires) {
			delete(p.remote[org], node)
			continue
		}
		for u, st := range a.users {
			merge(u, node, a.site, a.url, st)
		}
	}
	return out
}

// States returns the state of every user of an organisation that is not
// offline, over the whole federation.
func (p *Presence) States(org string) map[string]string {
	out := map[string]string{}
	if p == nil {
		return out
	}
	set := func(u string, inCall bool) {
		if inCall {
			out[u] = InCall
		} else if out[u] == "" {
			out[u] = Online
		}
	}
	now := p.now()
	p.mu.Lock()
	defer p.mu.Unlock()
	for u, h := range p.local[org] {
		set(u, h.calls > 0)
	}
	for node, a := range p.remote[org] {
		if !now.Before(a.expires) {
			delete(p.remote[org], node)
			continue
		}
		for u, st := range a.users {
			set(u, st.Call)
		}
	}
	return out
}

// PagesAt lists the nodes where a user has a backoffice page open: this
// node first (as ""), then the others by id. A node whose announcement
// expired is not among them.
func (p *Presence) PagesAt(org, user string) []string {
	if p == nil {
		return nil
	}
	now := p.now()
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []string
	if h := p.local[org][user]; h != nil && h.pages > 0 {
		out = append(out, "")
	}
	var remote []string
	for node, a := range p.remote[org] {
		if a.users[user].Page && now.Before(a.expires) {
			remote = append(remote, node)
		}
	}
	sort.Strings(remote)
	return append(out, remote...)
}
