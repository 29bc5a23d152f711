// Package supervision is the live team dashboard (SPEC.md section 4): the
// status of each member of a supervisor's teams (available, busy, idle,
// auto-assign off, offline), worked out from presence over the whole
// federation; each team's ongoing sessions, queue and status counts over
// the last hours; and the changes, fanned out to the supervisors watching
// as they happen.
package supervision

import (
	"time"

	"siteline/web"
)

// Seen is a user's presence over the federation, as node/calls' Presence
// reports it: a page open somewhere, in a call somewhere (which, since
// when, at which site), the last activity on a page.
type Seen struct {
	Page   bool
	InCall bool
	CallID string
	Since  time.Time
	Site   string
	URL    string // of the node holding the call, when another node
	Active time.Time
}

// State is a member's status and what goes with it.
type State struct {
	Status string
	// Since is when the status began, as far as this node knows (zero
	// when it began before the node looked).
	Since time.Time
	// CallID and Site are the member's call while busy; URL is the
	// address of the node holding it when that is another node.
	CallID, Site, URL string
	// AutoAssignOff is set when the member switched auto-assign off,
	// whatever their status.
	AutoAssignOff bool
	LastActive    time.Time
}

// StatusOf is a user's status: offline with no page open and in no call;
// busy in a call; else auto-assign off when they switched it off, idle
// when their last activity is idleAfter old or older, available
// otherwise.
func StatusOf(s Seen, autoAssignOff bool, now time.Time, idleAfter time.Duration) string {
	switch {
	case s.InCall:
		return web.StatusBusy
	case !s.Page:
		return web.StatusOffline
	case autoAssignOff:
		return web.StatusAutoAssignOff
	case !s.Active.IsZero() && now.Sub(s.Active) >= idleAfter:
		return web.StatusIdle
	}
	return web.StatusAvailable
}

// next is the state that follows prev given what is seen now; had is false
// when there was no previous state (Since then stays unknown but for a
// call, whose start presence knows).
func next(prev State, had bool, s Seen, autoOff bool, now time.Time, idleAfter time.Duration) State {
	st := State{Status: StatusOf(s, autoOff, now, idleAfter), AutoAssignOff: autoOff, LastActive: s.Active}
	if st.Status == web.StatusBusy {
		st.CallID, st.Site, st.URL = s.CallID, s.Site, s.URL
	}
	switch {
	case st.Status == web.StatusBusy && !s.Since.IsZero() && (!had || prev.Status != web.StatusBusy || prev.CallID != s.CallID):
		st.Since = s.Since
	case had && prev.Status == st.Status && prev.CallID == st.CallID:
		st.Since = prev.Since
	case st.Status == web.StatusIdle && !s.Active.IsZero():
		st.Since = s.Active.Add(idleAfter)
	case had:
		st.Since = now
	}
	return st
}

// member is a state as the dashboard shows it.
func (st State) member(id string) web.BoardMember {
	m := web.BoardMember{ID: id, Status: st.Status, CallID: st.CallID, CallURL: st.URL, Site: st.Site, AutoAssign: !st.AutoAssignOff}
	if !st.Since.IsZero() {
		t := st.Since
		m.Since = &t
	}
	if !st.LastActive.IsZero() {
		t := st.LastActive
		m.LastActive = &t
	}
	return m
}

// same reports whether two states are the same.
func (st State) same(o State) bool {
	return st.Status == o.Status && st.Since.Equal(o.Since) && st.CallID == o.CallID && st.Site == o.Site && st.URL == o.URL &&
		st.AutoAssignOff == o.AutoAssignOff && st.LastActive.Equal(o.LastActive)
}
