package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"time"

	"siteline/storage"
)

// Team queues (storage/queue.go) on the tables of migration 00022: the
// replicated switches (auto_assign, team_queues) and this site's queues
// (queue_entries, queue_rotations).

var _ storage.QueueStore = (*Store)(nil)

// setAutoAssign applies OpSetAutoAssign: the user must be of the
// organisation.
func setAutoAssign(ctx context.Context, q querier, a storage.AutoAssign) error {
	if err := required("auto_assign.org_id", a.OrgID, "auto_assign.user_id", a.UserID); err != nil {
		return err
	}
	if err := requireSameOrg(ctx, q, "user", "users", a.UserID, a.OrgID); err != nil {
		return err
	}
	return exec(ctx, q, `INSERT INTO auto_assign (user_id, org_id, off, by_id, at) VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (user_id) DO UPDATE SET off = excluded.off, by_id = excluded.by_id, at = excluded.at`,
		a.UserID, a.OrgID, a.Off, a.By, nanos(a.At))
}

// setTeamQueue applies OpSetTeamQueue: the team must be of the
// organisation.
func setTeamQueue(ctx context.Context, q querier, t storage.TeamQueue) error {
	if err := t.Validate(); err != nil {
		return err
	}
	if err := requireSameOrg(ctx, q, "team", "teams", t.TeamID, t.OrgID); err != nil {
		return err
	}
	return exec(ctx, q, `INSERT INTO team_queues (team_id, org_id, strategy) VALUES (?, ?, ?)
		ON CONFLICT (team_id) DO UPDATE SET strategy = excluded.strategy`, t.TeamID, t.OrgID, t.Strategy)
}

func queryAutoAssign(ctx context.Context, q querier, where string, args ...any) ([]storage.AutoAssign, error) {
	return collect(ctx, q, func(r *sql.Rows) (storage.AutoAssign, error) {
		var a storage.AutoAssign
		err := r.Scan(&a.UserID, &a.OrgID, &a.Off, &a.By, timeDest{&a.At})
		return a, err
	}, `SELECT user_id, org_id, off, by_id, at FROM auto_assign `+where+` ORDER BY user_id`, args...)
}

func queryTeamQueues(ctx context.Context, q querier, where string, args ...any) ([]storage.TeamQueue, error) {
	return collect(ctx, q, func(r *sql.Rows) (storage.TeamQueue, error) {
		var t storage.TeamQueue
		err := r.Scan(&t.TeamID, &t.OrgID, &t.Strategy)
		return t, err
	}, `SELECT team_id, org_id, strategy FROM team_queues `+where+` ORDER BY team_id`, args...)
}

// AutoAssignOff lists the organisation's users whose auto-assign is off.
func (s *Store) AutoAssignOff(ctx context.Context, orgID string) ([]storage.AutoAssign, error) {
	out, err := queryAutoAssign(ctx, s.read, "WHERE org_id = ? AND off = 1", orgID)
	if err != nil {
		return nil, fmt.Errorf("auto-assign of %s: %w", orgID, err)
	}
	return out, nil
}

// TeamQueues lists the organisation's team queue settings.
func (s *Store) TeamQueues(ctx context.Context, orgID string) ([]storage.TeamQueue, error) {
	out, err := queryTeamQueues(ctx, s.read, "WHERE org_id = ?", orgID)
	if err != nil {
		return nil, fmt.Errorf("team queues of %s: %w", orgID, err)
	}
	return out, nil
}

// insertQueueEntry writes a new entry and its queued event.
func insertQueueEntry(ctx context.Context, tx *sql.Tx, e storage.QueueEntry, ev storage.SessionEvent) error {
	if err := required("queue.session_id", e.SessionID, "queue.org_id", e.OrgID, "queue.team_id", e.TeamID); err != nil {
		return err
	}
	var one int
	err := tx.QueryRowContext(ctx, `SELECT 1 FROM queue_entries WHERE session_id = ?`, e.SessionID).Scan(&one)
	if err == nil {
		return fmt.Errorf("session %s is queued already: %w", e.SessionID, storage.ErrConflict)
	}
	if err != sql.ErrNoRows {
		return err
	}
	if err := exec(ctx, tx, `INSERT INTO queue_entries (session_id, org_id, team_id, enqueued_at, enqueued_by)
		VALUES (?, ?, ?, ?, ?)`, e.SessionID, e.OrgID, e.TeamID, nanos(e.EnqueuedAt), e.EnqueuedBy); err != nil {
		return err
	}
	return queueEvent(ctx, tx, ev)
}

// Enqueue puts a session into a team's queue with its queued event.
func (s *Store) Enqueue(ctx context.Context, e storage.QueueEntry, ev storage.SessionEvent) error {
	err := s.historyTx(ctx, func(tx *sql.Tx) error {
		if err := sessionExists(ctx, tx, e.SessionID); err != nil {
			return err
		}
		if err := insertQueueEntry(ctx, tx, e, ev); err != nil {
			return err
		}
		return exec(ctx, tx, `UPDATE sessions SET team_id = ?, updated_at = ? WHERE id = ?`, e.TeamID, nanos(ev.At), e.SessionID)
	})
	if err != nil {
		return fmt.Errorf("enqueue session %s: %w", e.SessionID, err)
	}
	return nil
}

// QueueEntries lists a team's entries (every entry for ""), oldest first.
func (s *Store) QueueEntries(ctx context.Context, teamID string) ([]storage.QueueEntry, error) {
	out, err := collect(ctx, s.read, func(r *sql.Rows) (storage.QueueEntry, error) {
		var e storage.QueueEntry
		var skipped string
		err := r.Scan(&e.SessionID, &e.OrgID, &e.TeamID, timeDest{&e.EnqueuedAt}, &e.EnqueuedBy, &e.OfferedTo,
			optTimeDest{&e.OfferExpires}, &skipped)
		if err == nil {
			err = json.Unmarshal([]byte(skipped), &e.Skipped)
		}
		return e, err
	}, `SELECT session_id, org_id, team_id, enqueued_at, enqueued_by, offered_to, offer_expires, skipped
		FROM queue_entries WHERE ? = '' OR team_id = ? ORDER BY enqueued_at, session_id`, teamID, teamID)
	if err != nil {
		return nil, fmt.Errorf("queue of team %s: %w", teamID, err)
	}
	return out, nil
}

// UpdateQueueEntry records an offer or a skip and, with rot, the rotation.
func (s *Store) UpdateQueueEntry(ctx context.Context, e storage.QueueEntry, ev storage.SessionEvent, rot *storage.QueueRotation) error {
	skipped, err := json.Marshal(nonNilStrings(e.Skipped))
	if err != nil {
		return err
	}
	err = s.historyTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE queue_entries SET offered_to = ?, offer_expires = ?, skipped = ?
			WHERE session_id = ?`, e.OfferedTo, optNanos(e.OfferExpires), string(skipped), e.SessionID)
		if err != nil {
			return domainError(err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return fmt.Errorf("session %s is not queued: %w", e.SessionID, storage.ErrNotFound)
		}
		if rot != nil {
			if err := putRotation(ctx, tx, *rot); err != nil {
				return err
			}
		}
		return queueEvent(ctx, tx, ev)
	})
	if err != nil {
		return fmt.Errorf("update queue entry %s: %w", e.SessionID, err)
	}
	return nil
}

func putRotation(ctx context.Context, tx *sql.Tx, rot storage.QueueRotation) error {
	turns := map[string]int64{}
	for u, t := range rot.LastTurns {
		turns[u] = t.UnixNano()
	}
	doc, err := json.Marshal(turns)
	if err != nil {
		return err
	}
	return exec(ctx, tx, `INSERT INTO queue_rotations (team_id, last_user, last_turns) VALUES (?, ?, ?)
		ON CONFLICT (team_id) DO UPDATE SET last_user = excluded.last_user, last_turns = excluded.last_turns`,
		rot.TeamID, rot.Last, string(doc))
}

// Dequeue takes a session out of its queue, giving it to assignee if set.
func (s *Store) Dequeue(ctx context.Context, sessionID, assignee string, ev *storage.SessionEvent) error {
	err := s.historyTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM queue_entries WHERE session_id = ?`, sessionID)
		if err != nil {
			return domainError(err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return fmt.Errorf("session %s is not queued: %w", sessionID, storage.ErrNotFound)
		}
		if assignee != "" {
			if err := exec(ctx, tx, `UPDATE sessions SET owner_id = ? WHERE id = ?`, assignee, sessionID); err != nil {
				return err
			}
		}
		if ev != nil {
			return queueEvent(ctx, tx, *ev)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("dequeue session %s: %w", sessionID, err)
	}
	return nil
}

// QueueRotations returns every team's rotation at this site.
func (s *Store) QueueRotations(ctx context.Context) ([]storage.QueueRotation, error) {
	out, err := collect(ctx, s.read, func(r *sql.Rows) (storage.QueueRotation, error) {
		var rot storage.QueueRotation
		var doc string
		if err := r.Scan(&rot.TeamID, &rot.Last, &doc); err != nil {
			return rot, err
		}
		var turns map[string]int64
		if err := json.Unmarshal([]byte(doc), &turns); err != nil {
			return rot, err
		}
		rot.LastTurns = make(map[string]time.Time, len(turns))
		for u, n := range turns {
			rot.LastTurns[u] = time.Unix(0, n).UTC()
		}
		return rot, nil
	}, `SELECT team_id, last_user, last_turns FROM queue_rotations ORDER BY team_id`)
	if err != nil {
		return nil, fmt.Errorf("queue rotations: %w", err)
	}
	return out, nil
}

// queueEvent appends a queue's session event and forwards it with the
// session's history.
func queueEvent(ctx context.Context, tx *sql.Tx, ev storage.SessionEvent) error {
	if err := appendEvent(ctx, tx, ev); err != nil {
		return err
	}
	return enqueueSessionRecord(ctx, tx, storage.HistoryEvent, ev.ID, ev.SessionID, ev.At, "", ev.ID)
}
