package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"siteline/storage"
)

// The storage.SessionStore methods, on the sessions, session_participants
// and session_events tables. Each write is one transaction that also adds
// its record to the history outbox, as in storage/sqlite.

// CreateSession stores a new session; an id already in use is a conflict.
func (s *Store) CreateSession(ctx context.Context, ss storage.Session) error {
	if err := required("session.id", ss.ID, "session.org_id", ss.OrgID, "session.site_id", ss.SiteID); err != nil {
		return fmt.Errorf("create session %s: %w", ss.ID, err)
	}
	if ss.StartedAt.IsZero() {
		return fmt.Errorf("create session %s: %w", ss.ID, &storage.ValidationError{Field: "session.started_at", Problem: "is required"})
	}
	if ss.Kind == "" {
		ss.Kind = storage.SessionConference
	}
	if ss.Status == "" {
		ss.Status = storage.SessionActive
	}
	err := s.historyTx(ctx, func(tx pgx.Tx) error {
		if err := exec(ctx, tx, `INSERT INTO sessions (id, org_id, site_id, kind, name, goal, goal_key, status, created_by,
			owner_id, team_id, started_at, ended_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)`,
			ss.ID, ss.OrgID, ss.SiteID, ss.Kind, ss.Name, ss.Goal, storage.GoalKey(ss.Goal), ss.Status, ss.CreatedBy,
			ss.Owner(), ss.TeamID, nanos(ss.StartedAt), optNanos(ss.EndedAt), nanos(ss.StartedAt)); err != nil {
			return err
		}
		return enqueueSessionRecord(ctx, tx, storage.HistorySessionCreated, ss.ID, ss.ID, ss.StartedAt, "", "")
	})
	if err != nil {
		return fmt.Errorf("create session %s: %w", ss.ID, err)
	}
	return nil
}

// Session returns one session, or storage.ErrNotFound.
func (s *Store) Session(ctx context.Context, id string) (storage.Session, error) {
	ss, err := sessionIn(ctx, s.pool, id)
	if err != nil && !errors.Is(err, storage.ErrNotFound) {
		return ss, fmt.Errorf("session %s: %w", id, err)
	}
	return ss, err
}

// RecordJoin stores a participant and its joined event together.
func (s *Store) RecordJoin(ctx context.Context, p storage.SessionParticipant, ev storage.SessionEvent) error {
	if err := required("participant.id", p.ID, "participant.session_id", p.SessionID, "participant.user_id", p.UserID); err != nil {
		return fmt.Errorf("record join of %s: %w", p.ID, err)
	}
	if p.JoinedAt.IsZero() {
		return fmt.Errorf("record join of %s: %w", p.ID, &storage.ValidationError{Field: "participant.joined_at", Problem: "is required"})
	}
	if ev.SessionID != p.SessionID {
		return fmt.Errorf("record join of %s: %w", p.ID, &storage.ValidationError{Field: "event.session_id", Problem: "differs from the participant's"})
	}
	kind := p.UserKind
	if kind == "" {
		kind = storage.UserRegular
	}
	err := s.historyTx(ctx, func(tx pgx.Tx) error {
		if err := exec(ctx, tx, `INSERT INTO session_participants (id, session_id, user_id, display_name,
			user_kind, device_kind, hidden, joined_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
			p.ID, p.SessionID, p.UserID, p.DisplayName, string(kind), p.DeviceKind, p.Hidden, nanos(p.JoinedAt)); err != nil {
			return err
		}
		if err := appendEvent(ctx, tx, ev); err != nil {
			return err
		}
		return enqueueSessionRecord(ctx, tx, storage.HistoryJoined, ev.ID, p.SessionID, ev.At, p.ID, ev.ID)
	})
	if err != nil {
		return fmt.Errorf("record join of %s to session %s: %w", p.ID, p.SessionID, err)
	}
	return nil
}

// RecordLeave sets a participant's left time, if not set yet, and appends
// its left event.
func (s *Store) RecordLeave(ctx context.Context, participantID string, at time.Time, ev storage.SessionEvent) error {
	if at.IsZero() {
		return fmt.Errorf("record leave of %s: %w", participantID, &storage.ValidationError{Field: "participant.left_at", Problem: "is required"})
	}
	err := s.historyTx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE session_participants SET left_at = $1
			WHERE id = $2 AND session_id = $3 AND left_at IS NULL`, nanos(at), participantID, ev.SessionID)
		if err != nil {
			return domainError(err)
		}
		if tag.RowsAffected() == 0 {
			return fmt.Errorf("participant %s has no open row in session %s: %w", participantID, ev.SessionID, storage.ErrNotFound)
		}
		if err := appendEvent(ctx, tx, ev); err != nil {
			return err
		}
		return enqueueSessionRecord(ctx, tx, storage.HistoryLeft, ev.ID, ev.SessionID, ev.At, participantID, ev.ID)
	})
	if err != nil {
		return fmt.Errorf("record leave of %s: %w", participantID, err)
	}
	return nil
}

// AppendSessionEvent appends one event to a session; a session that does
// not exist is storage.ErrNotFound.
func (s *Store) AppendSessionEvent(ctx context.Context, ev storage.SessionEvent) error {
	err := s.historyTx(ctx, func(tx pgx.Tx) error {
		if err := sessionExists(ctx, tx, ev.SessionID); err != nil {
			return err
		}
		if err := appendEvent(ctx, tx, ev); err != nil {
			return err
		}
		return enqueueSessionRecord(ctx, tx, storage.HistoryEvent, ev.ID, ev.SessionID, ev.At, "", ev.ID)
	})
	if err != nil {
		return fmt.Errorf("append %s event to session %s: %w", ev.Kind, ev.SessionID, err)
	}
	return nil
}

// EndSession sets a session's status to ended and its end time, and
// appends the ended event, in one transaction; a session already ended is
// a conflict.
func (s *Store) EndSession(ctx context.Context, sessionID string, at time.Time, ev storage.SessionEvent) error {
	if at.IsZero() {
		return fmt.Errorf("end session %s: %w", sessionID, &storage.ValidationError{Field: "session.ended_at", Problem: "is required"})
	}
	if ev.SessionID != sessionID {
		return fmt.Errorf("end session %s: %w", sessionID, &storage.ValidationError{Field: "event.session_id", Problem: "differs from the session's"})
	}
	err := s.historyTx(ctx, func(tx pgx.Tx) error {
		if err := sessionExists(ctx, tx, sessionID); err != nil {
			return err
		}
		tag, err := tx.Exec(ctx, `UPDATE sessions SET status = 'ended', ended_at = $1, updated_at = $1
			WHERE id = $2 AND status <> 'ended'`, nanos(at), sessionID)
		if err != nil {
			return domainError(err)
		}
		if tag.RowsAffected() == 0 {
			return fmt.Errorf("session %s has already ended: %w", sessionID, storage.ErrConflict)
		}
		if err := appendEvent(ctx, tx, ev); err != nil {
			return err
		}
		return enqueueSessionRecord(ctx, tx, storage.HistorySessionEnded, ev.ID, sessionID, at, "", ev.ID)
	})
	if err != nil {
		return fmt.Errorf("end session %s: %w", sessionID, err)
	}
	return nil
}

// SessionParticipants lists a session's participants by join time.
func (s *Store) SessionParticipants(ctx context.Context, sessionID string) ([]storage.SessionParticipant, error) {
	rows, _ := s.pool.Query(ctx, `SELECT `+participantColumns+` FROM session_participants
		WHERE session_id = $1 ORDER BY joined_at, id`, sessionID)
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (storage.SessionParticipant, error) {
		return scanParticipant(r)
	})
	if err != nil {
		return nil, fmt.Errorf("participants of session %s: %w", sessionID, err)
	}
	return out, nil
}

// SessionEvents lists a session's events in sequence order.
func (s *Store) SessionEvents(ctx context.Context, sessionID string) ([]storage.SessionEvent, error) {
	rows, _ := s.pool.Query(ctx, `SELECT `+eventColumns+` FROM session_events
		WHERE session_id = $1 ORDER BY seq`, sessionID)
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (storage.SessionEvent, error) {
		return scanEvent(r)
	})
	if err != nil {
		return nil, fmt.Errorf("events of session %s: %w", sessionID, err)
	}
	return out, nil
}

// appendEvent appends ev with the next sequence number of its session.
// The history lock the transaction holds keeps two appends to one session
// from taking the same number.
func appendEvent(ctx context.Context, tx pgx.Tx, ev storage.SessionEvent) error {
	if err := required("event.id", ev.ID, "event.session_id", ev.SessionID, "event.kind", ev.Kind); err != nil {
		return err
	}
	if ev.At.IsZero() {
		return &storage.ValidationError{Field: "event.at", Problem: "is required"}
	}
	payload := string(ev.Payload)
	if payload == "" {
		payload = "{}"
	}
	if !json.Valid([]byte(payload)) {
		return &storage.ValidationError{Field: "event.payload", Problem: "is not valid JSON"}
	}
	return exec(ctx, tx, `INSERT INTO session_events (id, session_id, seq, at, kind, actor_id, payload)
		SELECT $1, $2, COALESCE(MAX(seq), 0) + 1, $3::bigint, $4, $5, $6::json FROM session_events WHERE session_id = $2`,
		ev.ID, ev.SessionID, nanos(ev.At), ev.Kind, ev.ActorID, payload)
}

func sessionExists(ctx context.Context, tx pgx.Tx, id string) error {
	var one int
	err := tx.QueryRow(ctx, `SELECT 1 FROM sessions WHERE id = $1`, id).Scan(&one)
	if errors.Is(err, pgx.ErrNoRows) {
		return fmt.Errorf("session %s: %w", id, storage.ErrNotFound)
	}
	return err
}

// querier is what reads need: the pool, or a transaction that must see
// its own writes.
type querier interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// exec runs one statement and maps a constraint failure to its domain
// error.
func exec(ctx context.Context, tx pgx.Tx, sql string, args ...any) error {
	_, err := tx.Exec(ctx, sql, args...)
	return domainError(err)
}

const sessionColumns = `id, org_id, site_id, kind, name, goal, status, created_by, owner_id, started_at, ended_at, team_id`

func sessionIn(ctx context.Context, q querier, id string) (storage.Session, error) {
	var ss storage.Session
	var started, ended *int64
	err := q.QueryRow(ctx, `SELECT `+sessionColumns+` FROM sessions WHERE id = $1`, id).Scan(
		&ss.ID, &ss.OrgID, &ss.SiteID, &ss.Kind, &ss.Name, &ss.Goal, &ss.Status, &ss.CreatedBy,
		&ss.OwnerID, &started, &ended, &ss.TeamID)
	if errors.Is(err, pgx.ErrNoRows) {
		return ss, fmt.Errorf("session %s: %w", id, storage.ErrNotFound)
	}
	ss.StartedAt, ss.EndedAt = timeOf(started), optTimeOf(ended)
	return ss, err
}

const participantColumns = `id, session_id, user_id, display_name, user_kind, device_kind, hidden, joined_at, left_at`

func scanParticipant(r pgx.Row) (storage.SessionParticipant, error) {
	var p storage.SessionParticipant
	var kind string
	var joined, left *int64
	err := r.Scan(&p.ID, &p.SessionID, &p.UserID, &p.DisplayName, &kind, &p.DeviceKind, &p.Hidden, &joined, &left)
	p.UserKind = storage.UserKind(kind)
	p.JoinedAt, p.LeftAt = timeOf(joined), optTimeOf(left)
	return p, err
}

func participantIn(ctx context.Context, q querier, id string) (storage.SessionParticipant, error) {
	p, err := scanParticipant(q.QueryRow(ctx, `SELECT `+participantColumns+` FROM session_participants WHERE id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return p, fmt.Errorf("participant %s: %w", id, storage.ErrNotFound)
	}
	return p, err
}

// eventColumns reads the payload as text: the json column keeps it as it
// was written.
const eventColumns = `id, session_id, seq, at, kind, actor_id, payload::text`

func scanEvent(r pgx.Row) (storage.SessionEvent, error) {
	var ev storage.SessionEvent
	var at int64
	var payload string
	err := r.Scan(&ev.ID, &ev.SessionID, &ev.Seq, &at, &ev.Kind, &ev.ActorID, &payload)
	ev.At, ev.Payload = timeOf(&at), json.RawMessage(payload)
	return ev, err
}

func eventIn(ctx context.Context, q querier, id string) (storage.SessionEvent, error) {
	ev, err := scanEvent(q.QueryRow(ctx, `SELECT `+eventColumns+` FROM session_events WHERE id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return ev, fmt.Errorf("event %s: %w", id, storage.ErrNotFound)
	}
	return ev, err
}
