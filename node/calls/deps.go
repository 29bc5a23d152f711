// Package calls is the calls use case behind web.Calls and web.Events: a
// call is a session row in the site store and a room of the SFU under the
// same id; joins, leaves, chat, annotations, recordings and a call's end
// are written to the session's history before anyone is told. It also
// rings experts (RingHub), decides who may read a call's data and sit in
// on it, checks relay grants, and ends the calls nobody is in.
//
// A Service is built from Deps, whose interfaces are declared here with
// only the methods it uses; the node wires its store, policy enforcer and
// media into them.
package calls

import (
	"context"
	"log/slog"
	"time"

	"siteline/media/sfu"
	"siteline/media/signal"
	"siteline/media/turn"
	"siteline/storage"
)

// RingStore is what the ring reads and writes of the site store.
type RingStore interface {
	Session(ctx context.Context, id string) (storage.Session, error)
	OwnedSessions(ctx context.Context, orgID, ownerID, kind string) ([]storage.Session, error)
	SessionGuests(ctx context.Context, sessionID string) ([]storage.Guest, error)
	SessionEvents(ctx context.Context, sessionID string) ([]storage.SessionEvent, error)
	AppendSessionEvent(ctx context.Context, ev storage.SessionEvent) error
}

// Store is what the call service reads and writes of the site store.
type Store interface {
	RingStore
	CreateSession(ctx context.Context, s storage.Session) error
	CountOwnedSessions(ctx context.Context, orgID, ownerID, kind string) (int, error)
	ListSessions(ctx context.Context, f storage.SessionFilter) ([]storage.Session, error)
	SessionParticipants(ctx context.Context, sessionID string) ([]storage.SessionParticipant, error)
	RecordJoin(ctx context.Context, p storage.SessionParticipant, ev storage.SessionEvent) error
	RecordLeave(ctx context.Context, participantID string, at time.Time, ev storage.SessionEvent) error
	AnswerSession(ctx context.Context, ev storage.SessionEvent) error
	EndSession(ctx context.Context, sessionID string, at time.Time, ev storage.SessionEvent) error
	AddRecording(ctx context.Context, r storage.Recording, ev storage.SessionEvent) error
	User(ctx context.Context, id string) (storage.User, error)
	Guest(ctx context.Context, id string) (storage.Guest, error)
	DeleteUserWebSessions(ctx context.Context, userID string) error
	SetSessionOwner(ctx context.Context, sessionID, ownerID string, ev storage.SessionEvent) error
	RevealParticipant(ctx context.Context, participantID string, ev storage.SessionEvent) error
}

// SFU is what calls ask of the media server (*sfu.SFU).
type SFU interface {
	Join(ctx context.Context, roomID string, info sfu.ParticipantInfo, send func(signal.Message) error) (*sfu.Participant, error)
	Publish(ctx context.Context, roomID string, info sfu.ParticipantInfo, offer string) (*sfu.Participant, string, error)
	Play(ctx context.Context, roomID string, info sfu.ParticipantInfo, offer string) (*sfu.Participant, string, error)
	// Room returns the room of a call while someone is in it, else nil.
	Room(id string) *sfu.Room
	End(id, reason string) bool
	// Broadcast tells everyone in a call (the owner's change).
	Broadcast(id string, m signal.Message) bool
}

// Relay is what calls ask of the TURN relay (*turn.Server).
type Relay interface {
	Addrs() turn.Addrs
	Credentials(g turn.Grant, now time.Time) (username, password string, expires time.Time)
	Revoke(match func(turn.Grant) bool) int
}

// Enforcer checks a user's permission in an organisation
// (*policy.Enforcer).
type Enforcer interface {
	Check(orgID, userID, permission string) error
}

// Supervision tells whom a supervisor's teams reach.
type Supervision interface {
	// Supervisees returns the users supervisorID reaches through the
	// teams they lead or manage (policy.Supervisees).
	Supervisees(ctx context.Context, orgID, supervisorID string) ([]string, error)
}

// Auditor appends to the audit log; the event is on disk when it returns.
type Auditor interface {
	Audit(ctx context.Context, actor, action, target string, detail any) error
}

// Blobs is the media store a finished recording file moves into
// (storage/blob's Store).
type Blobs interface {
	Adopt(path, sum string) (storage.Blob, error)
}

// Config is what the call service needs of the node's configuration and
// identity.
type Config struct {
	// OrgID and SiteID are the organisation and site this node serves;
	// OrgID is empty on a node that joins a federation and has no calls
	// yet.
	OrgID, SiteID string
	// EmptyCallGrace (media.empty_call_grace) is how long a call everyone
	// left waits for someone to come back; UnjoinedCallTTL
	// (media.unjoined_call_ttl) how long a new call waits for its first
	// participant.
	EmptyCallGrace, UnjoinedCallTTL time.Duration
	// MaxActiveCalls (media.max_active_calls) bounds the calls one user
	// has started that have not ended.
	MaxActiveCalls int
	// RelayListen are the TURN listeners' addresses (turn.udp, turn.tcp):
	// the first specific IP among them is the host of the relay URLs.
	RelayListen []string
	// PublicIPs (media.public_ips): else the first is.
	PublicIPs []string
	// URL is this node's public URL, where a direct call rung at another
	// node is joined; nil makes the call's URL a path.
	URL func() string
}

// Deps is what a Service is built from.
type Deps struct {
	// Context is the service's lifetime: the writes of the SFU's
	// callbacks, of departures and of ended calls derive bounded contexts
	// from it. Background when nil.
	Context     context.Context
	Store       Store
	Enforcer    Enforcer
	Supervision Supervision
	Audit       Auditor
	// Blobs is where recordings are kept; nil when the media store is not
	// open, and recordings then stay in the recording directory.
	Blobs Blobs
	// Ring stops the ring of calls that are answered or end; nil rings
	// nobody.
	Ring *RingHub
	// Now is the clock; time.Now when nil.
	Now func() time.Time
	// Log receives what goes wrong where nobody waits for an answer.
	Log    *slog.Logger
	Config Config
}
