package calls

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"siteline/storage"
	"siteline/web"
)

// A direct call is a call one user starts to another from the phonebook.
// The call lives on the caller's node; the ring goes to the callee's open
// pages wherever they are: through this node's RingHub, or by a request
// on the bus to the node that announced them (presence). What becomes of
// the ring (declined, answered, unanswered) comes back the same way.

const ringPrefix = "siteline.ring." // + node id

// Ring timings: how long a node waits for another to say it rings, and
// how long a direct call rings before it is unanswered.
const (
	dialWait   = 3 * time.Second
	ringLength = 45 * time.Second
)

// ringMsg is a message between the caller's node and the callee's.
type ringMsg struct {
	Op         string    `json:"op"` // ring, stop (to the callee's node), status (to the caller's)
	CallID     string    `json:"call_id"`
	Org        string    `json:"org"`
	Callee     string    `json:"callee,omitempty"`
	CalleeName string    `json:"callee_name,omitempty"`
	Caller     string    `json:"caller,omitempty"`
	CallerName string    `json:"caller_name,omitempty"`
	CallerNode string    `json:"caller_node,omitempty"`
	Subject    string    `json:"subject,omitempty"`
	URL        string    `json:"url,omitempty"`
	StartedAt  time.Time `json:"started_at"`
	Reason     string    `json:"reason,omitempty"`
}

type ringReply struct {
	Status string `json:"status"` // ringing, or offline: no page of the callee here
}

// direct is the state of direct calls on a node: the rings it delivers to
// its users' pages, and the calls its users placed.
type direct struct {
	mu       sync.Mutex
	incoming map[string]*incomingRing // by call id
	outgoing map[string]ringMsg       // by call id: the ring as sent, with the nodes it rang
	rangAt   map[string][]string      // by call id: the nodes it rings ("" is this one)
}

type incomingRing struct {
	msg   ringMsg
	timer *time.Timer
}

// UsePresence makes the hub count its users' open pages as presence;
// federate then tells the other nodes (Federate).
func (h *RingHub) UsePresence(p *Presence) {
	h.presence = p
}

// Presence is the hub's presence (nil without UsePresence).
func (h *RingHub) Presence() *Presence { return h.presence }

// Federate serves this node's ring subject on the bus: rings for its
// users, stops, and what became of its users' calls.
func (h *RingHub) Federate(w Wire) error {
	if h.presence == nil {
		return errors.New("ring: federate needs presence")
	}
	_, err := w.Serve(ringPrefix+h.presence.nodeID, func(_ string, data []byte) []byte {
		var m ringMsg
		if err := json.Unmarshal(data, &m); err != nil {
			h.log.Warn("ring: bad message", "err", err)
			return nil
		}
		switch m.Op {
		case "ring":
			st := "offline"
			if h.deliver(m) {
				st = web.DialRinging
			}
			b, _ := json.Marshal(ringReply{Status: st})
			return b
		case "stop":
			h.stopIncoming(m.CallID, m.Reason, false)
		case "status":
			h.callStatus(m.CallID, m.Reason)
		}
		return nil
	})
	if err != nil {
		return err
	}
	h.mu.Lock()
	h.wire = w
	h.mu.Unlock()
	return nil
}

func (h *RingHub) nodeID() string {
	if h.presence == nil {
		return ""
	}
	return h.presence.nodeID
}

// send delivers m to node (this one when node is "" or its own id).
func (h *RingHub) send(node string, m ringMsg) {
	if node == "" || node == h.nodeID() {
		switch m.Op {
		case "stop":
			h.stopIncoming(m.CallID, m.Reason, false)
		case "status":
			h.callStatus(m.CallID, m.Reason)
		}
		return
	}
	h.mu.Lock()
	w := h.wire
	h.mu.Unlock()
	if w == nil {
		return
	}
	b, _ := json.Marshal(m)
	if err := w.Notify(ringPrefix+node, b); err != nil {
		h.log.Warn("ring: send", "node", node, "op", m.Op, "err", err)
	}
}

func directEvent(m ringMsg) web.Event {
	at := m.StartedAt
	return web.Event{Type: web.EventIncomingCall, CallID: m.CallID, CallerName: m.CallerName, Subject: m.Subject,
		StartedAt: &at, URL: m.URL}
}

// deliver rings the callee's pages on this node; false when they have
// none open here.
func (h *RingHub) deliver(m ringMsg) bool {
	h.mu.Lock()
	open := len(h.subs[m.Callee]) > 0
	h.mu.Unlock()
	if !open {
		return false
	}
	d := &h.direct
	d.mu.Lock()
	if d.incoming == nil {
		d.incoming = map[string]*incomingRing{}
	}
	if _, dup := d.incoming[m.CallID]; !dup {
		in := &incomingRing{msg: m}
		in.timer = time.AfterFunc(ringLength, func() { h.stopIncoming(m.CallID, web.RingNoAnswer, true) })
		d.incoming[m.CallID] = in
	}
	d.mu.Unlock()
	h.publish(m.Callee, directEvent(m))
	return true
}

// incomingFor lists the direct calls ringing a user on this node.
func (h *RingHub) incomingFor(userID string) []ringMsg {
	d := &h.direct
	d.mu.Lock()
	defer d.mu.Unlock()
	var out []ringMsg
	for _, in := range d.incoming {
		if in.msg.Callee == userID {
			out = append(out, in.msg)
		}
	}
	return out
}

// stopIncoming stops a direct call ringing on this node, tells the
// callee's pages, and, when tell, the caller's node why.
func (h *RingHub) stopIncoming(callID, reason string, tell bool) (ringMsg, bool) {
	d := &h.direct
	d.mu.Lock()
	in := d.incoming[callID]
	delete(d.incoming, callID)
	d.mu.Unlock()
	if in == nil {
		return ringMsg{}, false
	}
	in.timer.Stop()
	h.publish(in.msg.Callee, web.Event{Type: web.EventRingStopped, CallID: callID, Reason: reason})
	if tell {
		m := in.msg
		h.send(m.CallerNode, ringMsg{Op: "status", CallID: callID, Org: m.Org, Reason: reason})
	}
	return in.msg, true
}

// declineDirect declines a direct call ringing the actor here; false when
// none does.
func (h *RingHub) declineDirect(a web.Actor, callID string) bool {
	d := &h.direct
	d.mu.Lock()
	in := d.incoming[callID]
	d.mu.Unlock()
	if in == nil || in.msg.Callee != actorID(a) || in.msg.Org != a.OrgID {
		return false
	}
	h.stopIncoming(callID, web.RingDeclined, true)
	return true
}

// callStatus tells the caller's pages what became of their call, and
// stops it ringing elsewhere once it is over.
func (h *RingHub) callStatus(callID, reason string) {
	d := &h.direct
	d.mu.Lock()
	m, ok := d.outgoing[callID]
	nodes := d.rangAt[callID]
	delete(d.outgoing, callID)
	delete(d.rangAt, callID)
	d.mu.Unlock()
	if !ok {
		return
	}
	for _, n := range nodes {
		h.send(n, ringMsg{Op: "stop", CallID: callID, Org: m.Org, Reason: reason})
	}
	h.publish(m.Caller, web.Event{Type: web.EventCallStatus, CallID: callID, CallerName: m.CalleeName, Reason: reason})
}

// answeredDirect stops the ring of a direct call its callee joined.
func (h *RingHub) answeredDirect(callID, userID string) {
	if h == nil {
		return
	}
	h.direct.mu.Lock()
	m, ok := h.direct.outgoing[callID]
	h.direct.mu.Unlock()
	if ok && m.Callee == userID {
		h.callStatus(callID, web.RingAnswered)
	}
}

// dial rings callee's pages for call s, wherever presence places them;
// it returns the reason they cannot be rung, "" when they ring.
func (h *RingHub) dial(ctx context.Context, m ringMsg) string {
	nodes := h.presence.PagesAt(m.Org, m.Callee)
	if len(nodes) == 0 {
		return fmt.Sprintf("%s is not reachable: offline (no page of theirs is open on any node)", m.CalleeName)
	}
	h.mu.Lock()
	w := h.wire
	h.mu.Unlock()
	var rang []string
	var why []string
	for _, node := range nodes {
		if node == "" {
			if h.deliver(m) {
				rang = append(rang, "")
			}
			continue
		}
		if w == nil {
			continue
		}
		if err := h.ask(ctx, w, node, m); err != nil {
			why = append(why, err.Error())
			continue
		}
		rang = append(rang, node)
	}
	if len(rang) == 0 {
		if len(why) == 0 {
			why = append(why, "offline")
		}
		return fmt.Sprintf("%s is not reachable: %s", m.CalleeName, strings.Join(why, "; "))
	}
	d := &h.direct
	d.mu.Lock()
	if d.outgoing == nil {
		d.outgoing, d.rangAt = map[string]ringMsg{}, map[string][]string{}
	}
	d.outgoing[m.CallID], d.rangAt[m.CallID] = m, rang
	d.mu.Unlock()
	// The callee's node says when the ring ends unanswered; if it is cut
	// off meanwhile, this node says it a little later.
	time.AfterFunc(ringLength+dialWait, func() { h.callStatus(m.CallID, web.RingNoAnswer) })
	return ""
}

// ask rings the callee at another node and waits (dialWait at most) for
// it to say it rings.
func (h *RingHub) ask(ctx context.Context, w Wire, node string, m ringMsg) error {
	ctx, cancel := context.WithTimeout(ctx, dialWait)
	defer cancel()
	b, _ := json.Marshal(m)
	reply, err := w.Ask(ctx, ringPrefix+node, b)
	if err != nil {
		return fmt.Errorf("their node %s does not answer (%v)", node, err)
	}
	var r ringReply
	if err := json.Unmarshal(reply, &r); err != nil || r.Status != web.DialRinging {
		return fmt.Errorf("no page of theirs is open at node %s any more", node)
	}
	return nil
}

// Presence returns the organisation's users who are not offline.
func (cs *Service) Presence(orgID string) map[string]string {
	return cs.ring.presenceStates(orgID)
}

func (h *RingHub) presenceStates(orgID string) map[string]string {
	if h == nil {
		return map[string]string{}
	}
	return h.presence.States(orgID)
}

// CallUser starts a call with another user of the organisation and rings
// them (web.Phone).
func (cs *Service) CallUser(ctx context.Context, a web.Actor, userID string) (web.DialOut, error) {
	if a.Local || a.UserID == "" || strings.HasPrefix(a.UserID, web.GuestIDPrefix) {
		return web.DialOut{}, validation("actor", "must be a user: only users call users")
	}
	u, err := cs.store.User(ctx, userID)
	switch {
	case errors.Is(err, storage.ErrNotFound), err == nil && u.OrgID != a.OrgID:
		return web.DialOut{}, fmt.Errorf("call user: no user %s: %w", userID, storage.ErrNotFound)
	case err != nil:
		return web.DialOut{}, fmt.Errorf("call user: %w", err)
	case u.ID == a.UserID:
		return web.DialOut{}, validation("user", "is you: call someone else")
	case !u.Active:
		return web.DialOut{}, validation("user", "is deactivated")
	}
	if cs.ring == nil || len(cs.ring.presence.PagesAt(a.OrgID, u.ID)) == 0 {
		return web.DialOut{Status: web.DialNotReachable,
			Reason: fmt.Sprintf("%s is not reachable: offline (no page of theirs is open on any node)", u.Name)}, nil
	}
	caller := a.Name
	if caller == "" {
		caller = a.Email
	}
	s, err := cs.CreateCall(ctx, a, web.CallInput{Name: "Call with " + u.Name})
	if err != nil {
		return web.DialOut{}, err
	}
	url := "/calls/" + s.ID
	if cs.cfg.URL != nil {
		url = strings.TrimRight(cs.cfg.URL(), "/") + url
	}
	m := ringMsg{Op: "ring", CallID: s.ID, Org: a.OrgID, Callee: u.ID, CalleeName: u.Name, Caller: a.UserID,
		CallerName: caller, CallerNode: cs.ring.nodeID(), Subject: s.Name, URL: url, StartedAt: s.StartedAt}
	if why := cs.ring.dial(ctx, m); why != "" {
		cs.endEmpty(s.ID, 0, "the callee is not reachable")
		return web.DialOut{Status: web.DialNotReachable, Reason: why}, nil
	}
	return web.DialOut{Status: web.DialRinging, CallID: s.ID, URL: url}, nil
}
