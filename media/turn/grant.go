package turn

import (
	"strings"
	"sync"
)

// Grant is whom TURN credentials are minted for: a user in a call of an
// organisation. The relay's quotas count allocations per User (across
// calls) and per Org, and Config.CheckGrant decides whether a grant still
// holds. Org and Call are identifiers without colons; User may hold any.
// An empty Org is held to the user and total quotas only.
type Grant struct {
	Org, Call, User string
}

// userPart is the grant as the part of a TURN REST username after the
// expiry: "<org>:<call>:<user>". The HMAC covers it whole, so none of it
// can be changed by the client.
func (g Grant) userPart() string { return g.Org + ":" + g.Call + ":" + g.User }

// parseGrant reads a userPart back.
func parseGrant(s string) (Grant, bool) {
	org, rest, ok := strings.Cut(s, ":")
	if !ok {
		return Grant{}, false
	}
	call, user, ok := strings.Cut(rest, ":")
	if !ok || user == "" {
		return Grant{}, false
	}
	return Grant{Org: org, Call: call, User: user}, true
}

// liveSocket is a relay socket or listener, closed to end its allocation.
type liveSocket interface {
	Close() error
}

// quotas counts live relay sockets per user, per organisation and in
// total, and remembers them by grant so that a revoked grant's sockets can
// be closed.
type quotas struct {
	maxUser, maxOrg, maxTotal int

	mu      sync.Mutex
	perUser map[string]int
	perOrg  map[string]int
	live    map[liveSocket]Grant
	total   int
	closed  bool
	drained chan struct{} // closed once closed and total == 0
}

func newQuotas(maxUser, maxOrg, maxTotal int) *quotas {
	return &quotas{
		maxUser:  maxUser,
		maxOrg:   maxOrg,
		maxTotal: maxTotal,
		perUser:  make(map[string]int),
		perOrg:   make(map[string]int),
		live:     make(map[liveSocket]Grant),
		drained:  make(chan struct{}),
	}
}

// check reports why one more allocation for g would be refused, or "".
func (q *quotas) check(g Grant) string {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.checkLocked(g)
}

func (q *quotas) checkLocked(g Grant) string {
	switch {
	case q.closed:
		return refusedShutdown
	case q.perUser[g.User] >= q.maxUser:
		return refusedUserQuota
	case g.Org != "" && q.perOrg[g.Org] >= q.maxOrg:
		return refusedOrgQuota
	case q.total >= q.maxTotal:
		return refusedTotalQuota
	}
	return ""
}

// acquire takes a slot for g, or reports why it cannot.
func (q *quotas) acquire(g Grant) string {
	q.mu.Lock()
	defer q.mu.Unlock()
	if reason := q.checkLocked(g); reason != "" {
		return reason
	}
	q.perUser[g.User]++
	if g.Org != "" {
		q.perOrg[g.Org]++
	}
	q.total++
	return ""
}

// track remembers the socket that holds g's slot.
func (q *quotas) track(s liveSocket, g Grant) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.live[s] = g
}

// release gives back a slot taken by acquire, and forgets its socket (nil
// when none was made).
func (q *quotas) release(g Grant, s liveSocket) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if s != nil {
		delete(q.live, s)
	}
	if q.perUser[g.User]--; q.perUser[g.User] <= 0 {
		delete(q.perUser, g.User)
	}
	if g.Org != "" {
		if q.perOrg[g.Org]--; q.perOrg[g.Org] <= 0 {
			delete(q.perOrg, g.Org)
		}
	}
	q.total--
	if q.closed && q.total == 0 {
		close(q.drained)
	}
}

// sockets returns the live sockets whose grant matches.
func (q *quotas) sockets(match func(Grant) bool) []liveSocket {
	q.mu.Lock()
	defer q.mu.Unlock()
	var out []liveSocket
	for s, g := range q.live {
		if match(g) {
			out = append(out, s)
		}
	}
	return out
}

// grants returns the distinct grants of the live sockets.
func (q *quotas) grants() []Grant {
	q.mu.Lock()
	defer q.mu.Unlock()
	seen := make(map[Grant]struct{}, len(q.live))
	out := make([]Grant, 0, len(q.live))
	for _, g := range q.live {
		if _, ok := seen[g]; !ok {
			seen[g] = struct{}{}
			out = append(out, g)
		}
	}
	return out
}

// close refuses further slots; drained is closed when the last is released.
func (q *quotas) close() {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closed {
		return
	}
	q.closed = true
	if q.total == 0 {
		close(q.drained)
	}
}

func (q *quotas) count() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.total
}

func (q *quotas) userCount(user string) int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.perUser[user]
}

func (q *quotas) orgCount(org string) int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.perOrg[org]
}
