package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"time"

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
	var rows loadRows
	for _, b := range bundles {
		if err := rows.add(b); err != nil {
			return fmt.Errorf("load %d sessions: session %s: %w", len(bundles), b.Session.ID, err)
		}
	}
	// A transaction of its own: deferred foreign keys would hold for the
	// other writes of a group too (commit.go).
	err := s.singleTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `PRAGMA defer_foreign_keys = ON`); err != nil {
			return err
		}
		tables := rows.tables()
		for _, i := range loadOrder {
			if len(tables[i]) == 0 {
				continue
			}
			data, err := json.Marshal(tables[i])
			if err != nil {
				return err
			}
			if err := exec(ctx, tx, loadStatements[i], string(data)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("load %d sessions: %w", len(bundles), err)
	}
	return nil
}

// loadStatements insert a batch of rows given as one JSON array of
// arrays, in the order of loadRows.tables. One statement per table: the
// full-text index flushes its pending terms at every statement that fires
// its triggers (the statement's savepoint), so a statement per row would
// make a segment per row and spend its time merging them.
var loadStatements = [4]string{
	`INSERT INTO sessions (id, org_id, site_id, kind, name, goal, status, created_by, owner_id,
		outcome, notes, started_at, ended_at, solved_at, updated_at,
		details_at, details_origin, outcome_at, outcome_origin, notes_at, notes_origin, labels_at, labels_origin, team_id)
		SELECT r->>0, r->>1, r->>2, r->>3, r->>4, r->>5, r->>6, r->>7, r->>8, r->>9, r->>10, r->>11, r->>12, r->>13,
			r->>14, r->>14, 'load', r->>14, 'load', r->>14, 'load', r->>14, 'load', r->>15
		FROM (SELECT value AS r FROM json_each(?))`,
	`INSERT INTO session_labels (session_id, label_id) SELECT r->>0, r->>1 FROM (SELECT value AS r FROM json_each(?))`,
	`INSERT INTO session_participants (id, session_id, user_id, display_name, user_kind, device_kind, hidden, joined_at, left_at)
		SELECT r->>0, r->>1, r->>2, r->>3, r->>4, r->>5, r->>6, r->>7, r->>8 FROM (SELECT value AS r FROM json_each(?))`,
	`INSERT INTO session_events (id, session_id, seq, at, kind, actor_id, payload)
		SELECT r->>0, r->>1, r->>2, r->>3, r->>4, r->>5, r->>6 FROM (SELECT value AS r FROM json_each(?))`,
}

// loadOrder is the order the statements run in: the sessions last, in a
// transaction that checks foreign keys at its commit. The full-text
// index holds one row per session, made again from all its text by the
// triggers of every row that changes it (migration 00021); a session
// inserted after its participants and chat lines is indexed once, where
// inserted first it would be indexed again for each of them.
var loadOrder = [4]int{1, 2, 3, 0}

// loadRows are the rows of a batch of sessions, each a JSON array.
type loadRows struct {
	sessions, labels, participants, events []any
}

// jsonNanos is a stored time in JSON: unix nanoseconds, or null.
func jsonNanos(t *time.Time) (any, error) {
	if t == nil || t.IsZero() {
		return nil, nil
	}
	v, err := nanoTime(*t).Value()
	if err != nil {
		return nil, err
	}
	return v, nil
}

func (r *loadRows) tables() [4][]any {
	return [4][]any{r.sessions, r.labels, r.participants, r.events}
}

func (r *loadRows) add(b storage.SessionBundle) error {
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
	var times [4]any
	for i, t := range []*time.Time{&ss.StartedAt, ss.EndedAt, ss.SolvedAt, &set} {
		v, err := jsonNanos(t)
		if err != nil {
			return err
		}
		times[i] = v
	}
	r.sessions = append(r.sessions, []any{ss.ID, ss.OrgID, ss.SiteID, ss.Kind, ss.Name, ss.Goal, ss.Status, ss.CreatedBy,
		ss.OwnerID, ss.Outcome, ss.Notes, times[0], times[1], times[2], times[3], ss.TeamID})
	for _, id := range ss.Labels {
		r.labels = append(r.labels, []any{ss.ID, id})
	}
	for _, p := range b.Participants {
		kind := p.UserKind
		if kind == "" {
			kind = storage.UserRegular
		}
		joined, err := jsonNanos(&p.JoinedAt)
		if err != nil {
			return err
		}
		left, err := jsonNanos(p.LeftAt)
		if err != nil {
			return err
		}
		if joined == nil {
			return &storage.ValidationError{Field: "participant.joined_at", Problem: "is required"}
		}
		r.participants = append(r.participants, []any{p.ID, ss.ID, p.UserID, p.DisplayName, string(kind), p.DeviceKind,
			p.Hidden, joined, left})
	}
	for _, ev := range b.Events {
		payload := string(ev.Payload)
		if payload == "" {
			payload = "{}"
		}
		if !json.Valid([]byte(payload)) {
			return &storage.ValidationError{Field: "event.payload", Problem: "is not valid JSON"}
		}
		at, err := jsonNanos(&ev.At)
		if err != nil {
			return err
		}
		r.events = append(r.events, []any{ev.ID, ss.ID, ev.Seq, at, ev.Kind, ev.ActorID, payload})
	}
	return nil
}
