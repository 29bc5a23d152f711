package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"siteline/storage"
)

// The storage.SessionStore methods, on the sessions, session_participants
// and session_events tables of migration 00002. Each write is one
// transaction on the writer connection, synced before it returns.

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
	err := s.historyTx(ctx, func(tx *sql.Tx) error {
		if err := exec(ctx, tx, `INSERT INTO sessions (id, org_id, site_id, kind, name, goal, status, created_by,
			owner_id, team_id, started_at, ended_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			ss.ID, ss.OrgID, ss.SiteID, ss.Kind, ss.Name, ss.Goal, ss.Status, ss.CreatedBy,
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
	var ss storage.Session
	err := s.read.QueryRowContext(ctx, `SELECT `+sessionColumns+` FROM sessions WHERE id = ?`, id).Scan(
		&ss.ID, &ss.OrgID, &ss.SiteID, &ss.Kind, &ss.Name, &ss.Goal, &ss.Status, &ss.CreatedBy,
		&ss.OwnerID, timeDest{&ss.StartedAt}, optTimeDest{&ss.EndedAt}, &ss.TeamID)
	if errors.Is(err, sql.ErrNoRows) {
		return ss, fmt.Errorf("session %s: %w", id, storage.ErrNotFound)
	}
	if err != nil {
		return ss, fmt.Errorf("session %s: %w", id, err)
	}
	return ss, nil
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
	err := s.historyTx(ctx, func(tx *sql.Tx) error {
		if err := exec(ctx, tx, `INSERT INTO session_participants (id, session_id, user_id, display_name,
			user_kind, device_kind, hidden, joined_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
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
	err := s.historyTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE session_participants SET left_at = ?
			WHERE id = ? AND session_id = ? AND left_at IS NULL`, nanos(at), participantID, ev.SessionID)
		if err != nil {
			return domainError(err)
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
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

// appendEvent appends ev with the next sequence number of its session.
func appendEvent(ctx context.Context, tx *sql.Tx, ev storage.SessionEvent) error {
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
		SELECT ?, ?, COALESCE(MAX(seq), 0) + 1, ?, ?, ?, ? FROM session_events WHERE session_id = ?`,
		ev.ID, ev.SessionID, nanos(ev.At), ev.Kind, ev.ActorID, payload, ev.SessionID)
}

// SessionParticipants lists a session's participants by join time.
func (s *Store) SessionParticipants(ctx context.Context, sessionID string) ([]storage.SessionParticipant, error) {
	out, err := collect(ctx, s.read, func(r *sql.Rows) (storage.SessionParticipant, error) {
		var p storage.SessionParticipant
		var kind string
		err := r.Scan(&p.ID, &p.SessionID, &p.UserID, &p.DisplayName, &kind, &p.DeviceKind, &p.Hidden,
			timeDest{&p.JoinedAt}, optTimeDest{&p.LeftAt})
		p.UserKind = storage.UserKind(kind)
		return p, err
	}, `SELECT id, session_id, user_id, display_name, user_kind, device_kind, hidden, joined_at, left_at
		FROM session_participants WHERE session_id = ? ORDER BY joined_at, id`, sessionID)
	if err != nil {
		return nil, fmt.Errorf("participants of session %s: %w", sessionID, err)
	}
	return out, nil
}

// SessionEvents lists a session's events in sequence order.
func (s *Store) SessionEvents(ctx context.Context, sessionID string) ([]storage.SessionEvent, error) {
	out, err := collect(ctx, s.read, func(r *sql.Rows) (storage.SessionEvent, error) {
		var ev storage.SessionEvent
		var payload string
		err := r.Scan(&ev.ID, &ev.SessionID, &ev.Seq, timeDest{&ev.At}, &ev.Kind, &ev.ActorID, &payload)
		ev.Payload = json.RawMessage(payload)
		return ev, err
	}, `SELECT id, session_id, seq, at, kind, actor_id, payload FROM session_events
		WHERE session_id = ? ORDER BY seq`, sessionID)
	if err != nil {
		return nil, fmt.Errorf("events of session %s: %w", sessionID, err)
	}
	return out, nil
}
