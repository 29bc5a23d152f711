package calls

import (
	"context"

	"siteline/web"
)

// Queue is the team queues as the ring and the calls see them
// (*queue.Service): offers are rung like calls, declined through the
// ring's decline, and a queued call is taken by joining it.
type Queue interface {
	// Offers lists the incoming-call events of the offers out to a user.
	Offers(ctx context.Context, userID string) []web.Event
	// PageOpened: the user may be offered requests now.
	PageOpened(orgID, userID string)
	// Decline handles a decline of a queued call's offer.
	Decline(ctx context.Context, a web.Actor, callID string) (handled bool, err error)
	// Joined: a user joined a call where the others see them.
	Joined(ctx context.Context, callID, userID string)
	// Ended: a call ended.
	Ended(ctx context.Context, callID string)
}

// UseQueue connects the team queues to the ring; call before serving.
func (h *RingHub) UseQueue(q Queue) { h.queue = q }

// Publish sends an event to every open page of a user on this node.
func (h *RingHub) Publish(userID string, e web.Event) { h.publish(userID, e) }

// Available reports whether a user has a backoffice page open on this
// node and is not in a call anywhere: whom a team queue may offer a call.
func (h *RingHub) Available(orgID, userID string) bool {
	p := h.presence
	if p == nil {
		return false
	}
	pages := p.PagesAt(orgID, userID)
	if len(pages) == 0 || pages[0] != "" {
		return false
	}
	return p.States(orgID)[userID] == Online
}

// queueOffers sends the offers out to a user to a page that opens.
func (h *RingHub) queueOffers(ctx context.Context, a web.Actor, send func(web.Event) error) {
	if h.queue == nil {
		return
	}
	for _, e := range h.queue.Offers(ctx, a.UserID) {
		_ = send(e)
	}
	h.queue.PageOpened(a.OrgID, a.UserID)
}

func (h *RingHub) queueJoined(ctx context.Context, callID, userID string) {
	if h != nil && h.queue != nil {
		h.queue.Joined(ctx, callID, userID)
	}
}
