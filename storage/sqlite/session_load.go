package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"

	"siteline/storage"
)

// loadCacheKiB is the writer's page cache while loading sessions, in the
// negative KiB form PRAGMA cache_size takes.
const loadCacheKiB = -256 << 10

// LoadSessions stores complete past sessions in one transaction: imports
// and the history generator. The rows go in as given, versions of the
// fields set after the call included (at the session's end, origin
// "load"); nothing is added to the history outbox, so loaded sessions are
// not forwarded. An id already present is a conflict and loads nothing.
func (s *Store) LoadSessions(ctx context.Context, bundles []storage.SessionBundle) error {
	// A large page cache while loading: the indexes of a big history no
	// longer fit the default 2 MB, and every insert would read pages back.
	var cache int64
	if err := s.write.QueryRowContext(ctx, `PRAGMA cache_size`).Scan(&cache); err != nil {
		return fmt.Errorf("load %d sessions: %w", len(bundles), err)
	}
	if _, err := s.write.ExecContext(ctx, fmt.Sprintf(`PRAGMA cache_size = %d`, loadCacheKiB)); err != nil {
		return fmt.Errorf("load %d sessions: %w", len(bundles), err)
	}
	defer s.write.ExecContext(context.WithoutCancel(ctx), fmt.Sprintf(`PRAGMA cache_size = %d`, cache))
	err := s.writeTx(ctx, func(tx *sql.Tx) error {
		stmts := map[string]*sql.Stmt{}
		prep := func(q string) (*sql.Stmt, error) {
			if st, ok := stmts[q]; ok {
				return st, nil
			}
			st, err := tx.PrepareContext(ctx, q)
			if err != nil {
				return nil, err
			}
			stmts[q] = st
			return st, nil
		}
		defer func() {
			for _, st := range stmts {
				st.Close()
			}
		}()
		run := func(q string, args ...any) error {
			st, err := prep(q)
			if err != nil {
				return err
			}
			if _, err := st.ExecContext(ctx, args...); err != nil {
				return domainError(err)
			}
			return nil
		}
		for _, b := range bundles {
			if err := loadSession(run, b); err != nil {
				return fmt.Errorf("session %s: %w", b.Session.ID, err)
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("load %d sessions: %w", len(bundles), err)
	}
	return nil
}

func loadSession(run func(string, ...any) error, b storage.SessionBundle) error {
	ss := b.Session
	if err := required("session.id", ss.ID, "session.org_id", ss.OrgID, "session.site_id", ss.SiteID); err != nil {
		return err
	}
	if ss.StartedAt.IsZero() {
		return &storage.ValidationError{Field: "session.started_at", Problem: "is required"}
	}
	if ss.Kind == "" {
		ss.Kind = storage.SessionConference
	}
	if ss.Status == "" {
		ss.Status = storage.SessionEnded
	}
	if !storage.ValidOutcome(ss.Outcome) {
		return &storage.ValidationError{Field: "session.outcome", Problem: fmt.Sprintf("%q is not an outcome", ss.Outcome)}
	}
	set := ss.StartedAt
	if ss.EndedAt != nil {
		set = *ss.EndedAt
	}
	v := nanos(set)
	if err := run(`INSERT INTO sessions (id, org_id, site_id, kind, name, goal, status, created_by, owner_id,
		outcome, notes, started_at, ended_at, solved_at, updated_at,
		details_at, details_origin, outcome_at, outcome_origin, notes_at, notes_origin, labels_at, labels_origin)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'load', ?, 'load', ?, 'load', ?, 'load')`,
		ss.ID, ss.OrgID, ss.SiteID, ss.Kind, ss.Name, ss.Goal, ss.Status, ss.CreatedBy, ss.OwnerID,
		ss.Outcome, ss.Notes, nanos(ss.StartedAt), optNanos(ss.EndedAt), optNanos(ss.SolvedAt), v, v, v, v, v); err != nil {
		return err
	}
	for _, id := range ss.Labels {
		if err := run(`INSERT INTO session_labels (session_id, label_id) VALUES (?, ?)`, ss.ID, id); err != nil {
			return err
		}
	}
	for _, p := range b.Participants {
		kind := p.UserKind
		if kind == "" {
			kind = storage.UserRegular
		}
		if err := run(`INSERT INTO session_participants (id, session_id, user_id, display_name,
			user_kind, device_kind, hidden, joined_at, left_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			p.ID, ss.ID, p.UserID, p.DisplayName, string(kind), p.DeviceKind, p.Hidden,
			nanos(p.JoinedAt), optNanos(p.LeftAt)); err != nil {
			return err
		}
	}
	for _, ev := range b.Events {
		payload := string(ev.Payload)
		if payload == "" {
			payload = "{}"
		}
		if !json.Valid([]byte(payload)) {
			return &storage.ValidationError{Field: "event.payload", Problem: "is not valid JSON"}
		}
		if err := run(`INSERT INTO session_events (id, session_id, seq, at, kind, actor_id, payload)
			VALUES (?, ?, ?, ?, ?, ?, ?)`, ev.ID, ss.ID, ev.Seq, nanos(ev.At), ev.Kind, ev.ActorID, payload); err != nil {
			return err
		}
	}
	return nil
}
