package storage

import (
	"context"
	"encoding/json"
	"time"
)

// Session kinds and statuses, as the sessions table allows them.
const (
	SessionConference     = "conference"
	SessionServiceRequest = "service_request"

	SessionRinging = "ringing"
	SessionActive  = "active"
	SessionEnded   = "ended"
)

// Session event kinds written by the call service.
const (
	EventJoined = "joined"
	EventLeft   = "left"
	EventChat   = "chat"
	EventEnded  = "ended"

	EventAnnotation       = "annotation"        // a stroke drawn on a snapshot
	EventRecordingStarted = "recording_started" // someone started recording
	EventRecordingStopped = "recording_stopped" // someone stopped it

	// Supervision (SPEC.md section 4): the actor is the supervisor, the
	// payload names the member supervised.
	EventSitIn     = "sit_in"      // a supervisor joined hidden
	EventCoach     = "coach"       // a hidden supervisor started or stopped coaching ("on")
	EventRevealed  = "revealed"    // a hidden supervisor became a visible participant
	EventTakenOver = "taken_over"  // a supervisor became the owning expert
	EventTransfer  = "transferred" // the session moved to another user or a team's queue
	// EventMonitor: a supervisor asked to see a member's screen or camera
	// outside a call; the session is the one that shows it.
	EventMonitor = "monitor"
)

// Session is one call at this site: site data, born and kept here.
type Session struct {
	ID        string `json:"id"`
	OrgID     string `json:"org_id"`
	SiteID    string `json:"site_id"`
	Kind      string `json:"kind"`
	Name      string `json:"name"`
	Goal      string `json:"goal"`
	Status    string `json:"status"`
	CreatedBy string `json:"created_by"`
	// OwnerID is the session's owning expert: its creator until a
	// supervisor takes it over or transfers it (SetSessionOwner).
	OwnerID string `json:"owner_id,omitempty"`
	// TeamID is the team the session was for (a service request queued
	// for a team); "" for none. The dashboards break sessions down by it.
	TeamID    string     `json:"team_id,omitempty"`
	StartedAt time.Time  `json:"started_at"`
	EndedAt   *time.Time `json:"ended_at,omitempty"`
}

// Owner returns the session's owning expert: OwnerID, or the creator
// when it is not set.
func (s Session) Owner() string {
	if s.OwnerID != "" {
		return s.OwnerID
	}
	return s.CreatedBy
}

// SessionParticipant is one connection of a user to a session, from join
// to leave.
type SessionParticipant struct {
	ID          string     `json:"id"`
	SessionID   string     `json:"session_id"`
	UserID      string     `json:"user_id"`
	DisplayName string     `json:"display_name"`
	UserKind    UserKind   `json:"user_kind"`
	DeviceKind  string     `json:"device_kind"`
	Hidden      bool       `json:"hidden"`
	JoinedAt    time.Time  `json:"joined_at"`
	LeftAt      *time.Time `json:"left_at,omitempty"`
}

// SessionEvent is one thing that happened in a session. Seq orders the
// events of a session; it is assigned by the store.
type SessionEvent struct {
	ID        string          `json:"id"`
	SessionID string          `json:"session_id"`
	Seq       int64           `json:"seq"`
	At        time.Time       `json:"at"`
	Kind      string          `json:"kind"`
	ActorID   string          `json:"actor_id"`
	Payload   json.RawMessage `json:"payload"`
}

// SessionStore holds sessions, their participants and their events. Every
// write is on disk before it returns.
type SessionStore interface {
	CreateSession(ctx context.Context, s Session) error
	Session(ctx context.Context, id string) (Session, error)
	// RecordJoin adds a participant row and its joined event in one
	// transaction.
	RecordJoin(ctx context.Context, p SessionParticipant, ev SessionEvent) error
	// RecordLeave sets the participant's left time and appends its left
	// event in one transaction.
	RecordLeave(ctx context.Context, participantID string, at time.Time, ev SessionEvent) error
	// AppendSessionEvent appends one event (chat, ...) to a session.
	AppendSessionEvent(ctx context.Context, ev SessionEvent) error
	// EndSession marks a session ended at at and appends its ended event
	// in one transaction; a session already ended is a conflict.
	EndSession(ctx context.Context, sessionID string, at time.Time, ev SessionEvent) error
	SessionParticipants(ctx context.Context, sessionID string) ([]SessionParticipant, error)
	// SessionEvents lists a session's events in order.
	SessionEvents(ctx context.Context, sessionID string) ([]SessionEvent, error)
}
