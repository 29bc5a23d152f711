package storage

import "context"

// Session events of a ringing call: a service request's call rings the
// expert who created the request until a user answers it by joining, the
// expert declines it, or the caller ends it.
const (
	// EventAnswered: a user joined the ringing call; it is active now.
	EventAnswered = "answered"
	// EventDeclined: the expert declined; the ring stops for them, the
	// call stays ringing and joinable until the caller ends it.
	EventDeclined = "declined"
)

// RingStore moves ringing calls on. Every write is on disk before it
// returns.
type RingStore interface {
	// AnswerSession makes a ringing session active and appends its
	// answered event in one transaction; a session that is not ringing
	// (answered already, ended, or a conference) is ErrConflict and
	// nothing is written.
	AnswerSession(ctx context.Context, ev SessionEvent) error
	// SessionGuests lists the guests admitted to a session, in the order
	// they were admitted.
	SessionGuests(ctx context.Context, sessionID string) ([]Guest, error)
}
