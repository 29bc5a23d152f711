package storage

import (
	"context"
	"encoding/json"
	"time"
)

// Site history is forwarded to headquarters through an outbox: every write
// of a session, a participant, a session event (with the media or
// recording row it announces) or an audit event adds, in
// the same transaction, one HistoryRecord to the node's outbox. A publisher
// copies the outbox to the node's JetStream stream; headquarters sources
// every plant's stream and applies the records idempotently by id.

// Kinds of HistoryRecord.
const (
	HistorySessionCreated = "session.created"
	HistorySessionEnded   = "session.ended"
	HistoryJoined         = "participant.joined"
	HistoryLeft           = "participant.left"
	HistoryEvent          = "session.event"
	HistoryAudit          = "audit"
	// HistoryFields carries a change of the fields people give a session
	// after the call (SessionFields).
	HistoryFields = "session.fields"
	// HistoryMediaDeleted carries the deletion of a snapshot, file or
	// recording (Deletion) with its session event: headquarters keeps the
	// tombstone and drops its copy of the bytes.
	HistoryMediaDeleted = "media.deleted"
)

// HistoryRecord is one site-history write as headquarters applies it. ID is
// its message id: the event's id (the audit event's, or the session's for
// session.created). Every record about a session carries the session as it
// stood after the write, so headquarters can apply records of different
// sessions in any order and the later status wins.
type HistoryRecord struct {
	ID          string              `json:"id"`
	Kind        string              `json:"kind"`
	Session     *Session            `json:"session,omitempty"`
	Participant *SessionParticipant `json:"participant,omitempty"`
	Event       *SessionEvent       `json:"event,omitempty"`
	Audit       *AuditEvent         `json:"audit,omitempty"`
	// Media and Recording are the row a snapshot, file or recording event
	// added (its blob key is its SHA256); headquarters keeps the row and
	// fetches the bytes from the origin node when they are first opened.
	Media     *Media     `json:"media,omitempty"`
	Recording *Recording `json:"recording,omitempty"`
	// Report is the version of a service report a HistoryServiceReport
	// record carries (its id is the version's).
	Report *ServiceReport `json:"report,omitempty"`
	// Fields is the change a HistoryFields record carries.
	Fields *SessionFields `json:"fields,omitempty"`
	// Deletion is what a HistoryMediaDeleted record deletes.
	Deletion *MediaDeletion `json:"deletion,omitempty"`
}

// The groups of a session's fields that change together, each with a
// version of its own (Version).
const (
	FieldsDetails = "details" // Name, Goal
	FieldsOutcome = "outcome" // Outcome, SolvedAt
	FieldsNotes   = "notes"   // Notes
	FieldsLabels  = "labels"  // Labels
)

// SessionFields is one change of one group of a session's fields, as it
// travels to headquarters; the group's other fields are ignored.
type SessionFields struct {
	Group    string     `json:"group"`
	Version  Version    `json:"version"`
	Name     string     `json:"name,omitempty"`
	Goal     string     `json:"goal,omitempty"`
	Outcome  string     `json:"outcome,omitempty"`
	SolvedAt *time.Time `json:"solved_at,omitempty"`
	Notes    string     `json:"notes,omitempty"`
	Labels   []string   `json:"labels,omitempty"`
}

// HistoryOutboxRow is a record waiting in (or published from) a node's
// outbox. Seq is the node's monotonic outbox sequence: 1, 2, 3... in commit
// order.
type HistoryOutboxRow struct {
	Seq         int64           `json:"seq"`
	ID          string          `json:"id"`
	Kind        string          `json:"kind"`
	Record      json.RawMessage `json:"record"`
	CreatedAt   time.Time       `json:"created_at"`
	PublishedAt *time.Time      `json:"published_at,omitempty"`
}

// HistoryMessage is a record as it travels: the node it was born at
// (Origin, a node id) and its outbox sequence there.
type HistoryMessage struct {
	Origin string          `json:"origin"`
	Seq    int64           `json:"seq"`
	Record json.RawMessage `json:"record"`
}

// HistoryApplied is what ApplyHistory did with a batch.
type HistoryApplied struct {
	// Applied is how many messages were applied (a record already present
	// counts: applying is idempotent).
	Applied int
	// Rejected lists the messages that can never apply (malformed, or a
	// record that contradicts the store); each is kept in the store's
	// rejected table for an operator, and not retried.
	Rejected []HistoryRejection
}

// HistoryRejection names a message that was refused, and why.
type HistoryRejection struct {
	Origin string `json:"origin"`
	Seq    int64  `json:"seq"`
	ID     string `json:"id"`
	Reason string `json:"reason"`
}

// HistoryOutbox is the node's side of forwarding.
type HistoryOutbox interface {
	// PendingHistory lists up to limit records not yet published, in
	// sequence order.
	PendingHistory(ctx context.Context, limit int) ([]HistoryOutboxRow, error)
	// MarkHistoryPublished records that every record up to seq through is
	// stored in the node's stream.
	MarkHistoryPublished(ctx context.Context, through int64, at time.Time) error
	// HistoryCounts returns the last sequence used, how many records are
	// not yet published, and how many have a sequence above acked.
	HistoryCounts(ctx context.Context, acked int64) (last, unpublished, unacked int64, err error)
	// PruneHistoryOutbox deletes published records at or below through
	// and published before before.
	PruneHistoryOutbox(ctx context.Context, through int64, before time.Time) (int64, error)
}

// HistoryApplier is headquarters' side: records from other nodes applied
// to its store.
type HistoryApplier interface {
	// ApplyHistory applies a batch in one transaction, idempotently, and
	// raises each origin's applied mark to the highest sequence seen.
	ApplyHistory(ctx context.Context, batch []HistoryMessage) (HistoryApplied, error)
	// HistoryMarks returns each origin's applied mark.
	HistoryMarks(ctx context.Context) (map[string]int64, error)
}

// SessionFilter selects sessions, newest first.
type SessionFilter struct {
	OrgID string
	// SiteID keeps one site's sessions; "" keeps every site.
	SiteID string
	// UserID keeps the sessions the user created or took part in; "" keeps
	// everyone's.
	UserID string
	// Status keeps one status; "" keeps all.
	Status string
	Limit  int
	// Before keeps sessions started before it; zero means no bound.
	Before time.Time
}
