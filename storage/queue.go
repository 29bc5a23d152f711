package storage

import (
	"context"
	"fmt"
	"time"
)

// Team queues (SPEC.md section 4): a service request made for a team waits
// in the team's queue while its available members with auto-assign on are
// offered it in turn.
//
// Two kinds of data. Whether a user's auto-assign is off, and how a team's
// queue picks the next member, are organisation data, replicated through
// the log (OpSetAutoAssign, OpSetTeamQueue) so that every node agrees. The
// queued requests and the rotation are site data: born where the call is,
// written before the guest's request is answered, read again after a
// restart.

// Queue strategies: which available member is offered a request first.
const (
	// StrategyRoundRobin offers the member after the last one offered, in
	// the order of their user ids.
	StrategyRoundRobin = "round-robin"
	// StrategyLongestIdle offers the member whose last offer or call is
	// the oldest.
	StrategyLongestIdle = "longest-idle"
)

// ValidStrategy reports whether s is a queue strategy.
func ValidStrategy(s string) bool { return s == StrategyRoundRobin || s == StrategyLongestIdle }

// Session events of a team queue, shown on the session summary.
const (
	EventQueued       = "queued"        // the request entered a team's queue
	EventOffered      = "offered"       // a member was offered it
	EventOfferSkipped = "offer_skipped" // the member declined or let the offer time out
	EventAssigned     = "assigned"      // a member took it
)

// AutoAssign is a user's auto-assign switch. A user with no row has it on.
type AutoAssign struct {
	OrgID  string    `json:"org_id"`
	UserID string    `json:"user_id"`
	Off    bool      `json:"off"`
	By     string    `json:"by"` // who switched it
	At     time.Time `json:"at"`
}

// TeamQueue is a team's queue setting; a team with no row uses the node's
// queue.strategy.
type TeamQueue struct {
	OrgID    string `json:"org_id"`
	TeamID   string `json:"team_id"`
	Strategy string `json:"strategy"`
}

// Validate checks the setting.
func (q TeamQueue) Validate() error {
	if q.OrgID == "" || q.TeamID == "" {
		return &ValidationError{Field: "team_id", Problem: "is required"}
	}
	if !ValidStrategy(q.Strategy) {
		return &ValidationError{Field: "strategy", Problem: fmt.Sprintf("%q is not one of %s, %s", q.Strategy, StrategyRoundRobin, StrategyLongestIdle)}
	}
	return nil
}

// QueueEntry is a service request waiting in a team's queue. OfferedTo
// and OfferExpires describe the offer out now, if any; Skipped are the
// members who declined it or let it time out in this round.
type QueueEntry struct {
	SessionID    string     `json:"session_id"`
	OrgID        string     `json:"org_id"`
	TeamID       string     `json:"team_id"`
	EnqueuedAt   time.Time  `json:"enqueued_at"`
	EnqueuedBy   string     `json:"enqueued_by"`
	OfferedTo    string     `json:"offered_to,omitempty"`
	OfferExpires *time.Time `json:"offer_expires,omitempty"`
	Skipped      []string   `json:"skipped,omitempty"`
}

// QueueRotation is where a team's rotation stands: the last member
// offered a request, and when each member was last offered one or took
// one (longest idle).
type QueueRotation struct {
	TeamID    string               `json:"team_id"`
	Last      string               `json:"last"`
	LastTurns map[string]time.Time `json:"last_turns"`
}

// QueueStore keeps the team queues of this site and reads the replicated
// switches. Every write is on disk before it returns.
type QueueStore interface {
	// AutoAssignOff lists the users of an organisation whose auto-assign
	// is off.
	AutoAssignOff(ctx context.Context, orgID string) ([]AutoAssign, error)
	// TeamQueues lists the organisation's team queue settings.
	TeamQueues(ctx context.Context, orgID string) ([]TeamQueue, error)

	// Enqueue puts a session into a team's queue with its queued event;
	// a session already queued is ErrConflict.
	Enqueue(ctx context.Context, e QueueEntry, ev SessionEvent) error
	// QueueEntries lists the entries of a team ("" for every team of
	// every organisation), oldest first.
	QueueEntries(ctx context.Context, teamID string) ([]QueueEntry, error)
	// UpdateQueueEntry records an offer or a skip (OfferedTo,
	// OfferExpires, Skipped) with its session event, and the rotation
	// when rot is not nil; ErrNotFound when the entry left the queue.
	UpdateQueueEntry(ctx context.Context, e QueueEntry, ev SessionEvent, rot *QueueRotation) error
	// Dequeue takes a session out of its queue. assignee, when set,
	// becomes the session's owner and ev is its assigned event; ""
	// just drops the entry (the call ended). ErrNotFound when it was not
	// queued.
	Dequeue(ctx context.Context, sessionID, assignee string, ev *SessionEvent) error
	// QueueRotations returns the rotation of every team of this site.
	QueueRotations(ctx context.Context) ([]QueueRotation, error)
}
