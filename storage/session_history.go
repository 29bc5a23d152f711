package storage

import (
	"context"
	"time"
)

// Outcomes a session can be given after the call. An organisation may use
// values of its own too (see ValidOutcome); "" means none yet.
const (
	OutcomeSolved    = "solved"
	OutcomeNotSolved = "not_solved"
	OutcomeFollowUp  = "follow_up"
)

// ValidOutcome reports whether o can be stored as an outcome: "" (none),
// or 1 to 64 lower-case ASCII letters, digits and underscores.
func ValidOutcome(o string) bool {
	if len(o) > 64 {
		return false
	}
	for _, c := range o {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}

// Version orders the changes of one history field: the later At wins, and
// between equal times the greater Origin (the node id that made the
// change). Applying the same version twice changes nothing.
type Version struct {
	At     time.Time `json:"at"`
	Origin string    `json:"origin"`
}

// After reports whether v is later than w.
func (v Version) After(w Version) bool {
	if !v.At.Equal(w.At) {
		return v.At.After(w.At)
	}
	return v.Origin > w.Origin
}

// SessionSummary is a session as the history lists it.
type SessionSummary struct {
	Session
	OwnerID  string     `json:"owner_id"`
	Outcome  string     `json:"outcome"`
	Notes    string     `json:"notes"`
	SolvedAt *time.Time `json:"solved_at,omitempty"`
	Labels   []string   `json:"labels"` // label ids, sorted
}

// Duration is end - start; false while the session has not ended.
func (s SessionSummary) Duration() (time.Duration, bool) {
	if s.EndedAt == nil {
		return 0, false
	}
	return s.EndedAt.Sub(s.StartedAt), true
}

// TimeToSolve is solved_at - started_at, or ended_at - started_at for a
// session never marked solved; false while it is active and unsolved. It
// is the one definition of time to solve (the SQL sort key in
// storage/sqlite mirrors it, and a test holds them equal).
func (s SessionSummary) TimeToSolve() (time.Duration, bool) {
	switch {
	case s.SolvedAt != nil:
		return s.SolvedAt.Sub(s.StartedAt), true
	case s.EndedAt != nil:
		return s.EndedAt.Sub(s.StartedAt), true
	}
	return 0, false
}

// SessionSort names a column the history sorts on.
type SessionSort string

// The sortable columns. End, duration and time to solve that do not exist
// yet sort after every existing one; site and owner sort by id; name
// sorts ignoring ASCII case. Every sort breaks ties on the session id.
const (
	SortStart       SessionSort = "start"
	SortEnd         SessionSort = "end"
	SortDuration    SessionSort = "duration"
	SortTimeToSolve SessionSort = "time_to_solve"
	SortName        SessionSort = "name"
	SortSite        SessionSort = "site"
	SortOwner       SessionSort = "owner"
	SortOutcome     SessionSort = "outcome"
)

// SessionSorts lists every sortable column.
var SessionSorts = []SessionSort{SortStart, SortEnd, SortDuration, SortTimeToSolve, SortName, SortSite, SortOwner, SortOutcome}

// SessionQuery selects one page of an organisation's session history.
// Empty fields do not filter.
type SessionQuery struct {
	OrgID string // required

	// ViewerID is who asks; with OwnOnly only the sessions they own or
	// took part in are listed ("my sessions"), otherwise every session of
	// the organisation.
	ViewerID string
	OwnOnly  bool

	// Text: words that must each appear in the name, goal, notes, a
	// participant's name or a chat line of the session, ignoring case and
	// diacritics; a word of two characters or more matches as a prefix.
	Text string

	From, To      time.Time // started at or after From, and before To
	OwnerID       string
	TeamID        string   // the team the session was for (Session.TeamID)
	ParticipantID string   // a user who took part
	LabelIDs      []string // carries at least one of them
	SiteIDs       []string // at one of them
	Status        string
	Outcome       string

	Sort  SessionSort // default SortStart
	Desc  bool
	Limit int // default 50, at most 500

	// Cursor is SessionPage.Next of the previous page of the same query;
	// "" is the first page.
	Cursor string
}

// SessionPage is one page of history; Next is "" on the last page.
type SessionPage struct {
	Sessions []SessionSummary `json:"sessions"`
	Next     string           `json:"next,omitempty"`
}

// SessionHistoryStore searches the history and sets the fields people
// give a session after the call. Each setter applies its change only when
// v is later than the field's last change (Version.After), so it is
// idempotent and every node applying the same changes in any order ends
// equal; it reports whether the change applied.
type SessionHistoryStore interface {
	SearchSessions(ctx context.Context, q SessionQuery) (SessionPage, error)
	SetSessionDetails(ctx context.Context, sessionID, name, goal string, v Version) (bool, error)
	SetSessionOutcome(ctx context.Context, sessionID, outcome string, solvedAt *time.Time, v Version) (bool, error)
	SetSessionNotes(ctx context.Context, sessionID, notes string, v Version) (bool, error)
	SetSessionLabels(ctx context.Context, sessionID string, labelIDs []string, v Version) (bool, error)
}

// SessionBundle is a past session with everything it holds, as an import
// or a seeding tool writes it in one go.
type SessionBundle struct {
	Session      SessionSummary
	Participants []SessionParticipant
	Events       []SessionEvent // Seq is taken from here
}
