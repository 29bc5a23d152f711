package calls

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"siteline/policy"
	"siteline/storage"
	"siteline/web"
)

// Monitoring a member outside a call (SPEC.md section 4): a supervisor
// holding xa_icall_monitor-screen asks to see the screen or the camera of
// a member their teams reach. The request is a call of its own, owned by
// the member, that rings the member's open pages wherever they are, as a
// direct call does, saying who asks to see what. The member chooses to
// share: their page joins the call and publishes the screen (or the
// camera); the supervisor watches hidden, and the SFU shows the member the
// indicator for as long as they are watched, whatever the supervisor's
// client does. Declining, or leaving, ends it. The request is a session
// event and an audit event.

// MonitorShareQuery is what the member's call page is opened with: it
// offers to share the screen on joining.
const MonitorShareQuery = "share=screen"

// Monitor asks memberID's pages to share their screen with the actor
// (web.CallSupervisor). The answer says whether it rings, as a direct
// call's does; the actor then watches call CallID hidden.
func (cs *Service) Monitor(ctx context.Context, a web.Actor, memberID string) (web.DialOut, error) {
	if err := cs.inScope(ctx, a, memberID, policy.CallMonitorScreen); err != nil {
		return web.DialOut{}, err
	}
	u, err := cs.store.User(ctx, memberID)
	switch {
	case errors.Is(err, storage.ErrNotFound), err == nil && u.OrgID != a.OrgID:
		return web.DialOut{}, fmt.Errorf("monitor: no user %s: %w", memberID, storage.ErrNotFound)
	case err != nil:
		return web.DialOut{}, fmt.Errorf("monitor: %w", err)
	case u.ID == a.UserID:
		return web.DialOut{}, validation("user", "is you: monitor a member of your teams")
	case !u.Active:
		return web.DialOut{}, validation("user", "is deactivated")
	}
	if cs.ring == nil || len(cs.ring.presence.PagesAt(a.OrgID, u.ID)) == 0 {
		return web.DialOut{Status: web.DialNotReachable,
			Reason: fmt.Sprintf("%s has no Siteline page open: their screen can be seen only while a page of theirs is open", u.Name)}, nil
	}
	who := a.Name
	if who == "" {
		who = a.Email
	}
	s, err := cs.CreateCall(ctx, a, web.CallInput{Name: "Screen of " + u.Name, Goal: "Seen by " + who})
	if err != nil {
		return web.DialOut{}, err
	}
	// The member owns the session: it is theirs in the history, and the
	// supervisor watches them in it.
	now := cs.now().UTC()
	owner := storage.SessionEvent{ID: newID(), SessionID: s.ID, At: now, Kind: storage.EventMonitor, ActorID: actorID(a),
		Payload: payload(map[string]any{"member": u.ID, "member_name": u.Name})}
	if err := cs.store.SetSessionOwner(ctx, s.ID, u.ID, owner); err != nil {
		cs.endEmpty(s.ID, 0, "the monitoring request failed")
		return web.DialOut{}, fmt.Errorf("monitor %s: %w", u.ID, err)
	}
	if err := cs.audit.Audit(ctx, actorID(a), "supervision.monitor", s.ID, map[string]string{"member": u.ID, "call": s.ID}); err != nil {
		cs.endEmpty(s.ID, 0, "the monitoring request failed")
		return web.DialOut{}, err
	}
	cs.monitors.Store(s.ID, u.ID)
	url := "/calls/" + s.ID
	if cs.cfg.URL != nil {
		url = strings.TrimRight(cs.cfg.URL(), "/") + url
	}
	m := ringMsg{Op: "ring", CallID: s.ID, Org: a.OrgID, Callee: u.ID, CalleeName: u.Name, Caller: a.UserID,
		CallerName: who, CallerNode: cs.ring.nodeID(), Subject: who + " asks to see your screen",
		URL: url + "?" + MonitorShareQuery, StartedAt: s.StartedAt}
	if why := cs.ring.dial(ctx, m); why != "" {
		cs.endEmpty(s.ID, 0, "the member is not reachable")
		return web.DialOut{Status: web.DialNotReachable, Reason: why}, nil
	}
	return web.DialOut{Status: web.DialRinging, CallID: s.ID, URL: url + "?sitin=" + u.ID}, nil
}

// monitored returns the member a monitoring call shows ("" for any other
// call).
func (cs *Service) monitored(callID string) string {
	if v, ok := cs.monitors.Load(callID); ok {
		return v.(string)
	}
	return ""
}
