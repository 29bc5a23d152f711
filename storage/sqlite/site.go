package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"siteline/storage"
)

// The storage.SiteStore methods: data born at this node, written through
// the writer connection. Each write is one transaction, committed (and,
// with synchronous=FULL, synced) before it returns; an audit event adds
// its record to the history outbox in the same transaction.

// AppendAudit stores an audit event. Appending an event whose id is already
// stored does nothing, so forwarded events can be replayed safely.
func (s *Store) AppendAudit(ctx context.Context, e storage.AuditEvent) error {
	if err := required("audit.id", e.ID, "audit.org_id", e.OrgID, "audit.actor_id", e.ActorID, "audit.action", e.Action); err != nil {
		return fmt.Errorf("append audit event %s: %w", e.ID, err)
	}
	if e.At.IsZero() {
		return fmt.Errorf("append audit event %s: %w", e.ID, &storage.ValidationError{Field: "audit.at", Problem: "is required"})
	}
	err := s.historyTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `INSERT INTO audit_events (id, org_id, site_id, at, actor_id, action, target, detail)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING`,
			e.ID, e.OrgID, e.SiteID, nanos(e.At), e.ActorID, e.Action, e.Target, e.Detail)
		if err != nil {
			return domainError(err)
		}
		if n, err := res.RowsAffected(); err != nil || n == 0 {
			return err // a replay: its record is in the outbox already
		}
		return enqueueHistory(ctx, tx, e.At, storage.HistoryRecord{ID: e.ID, Kind: storage.HistoryAudit, Audit: &e})
	})
	if err != nil {
		return fmt.Errorf("append audit event %s: %w", e.ID, err)
	}
	return nil
}

// Audit lists audit events newest first. OrgID "" means every
// organisation, Action is a prefix ("user."), a zero Before means no upper
// bound and Limit <= 0 means no limit.
func (s *Store) Audit(ctx context.Context, f storage.AuditFilter) ([]storage.AuditEvent, error) {
	query := "SELECT id, org_id, site_id, at, actor_id, action, target, detail FROM audit_events WHERE 1 = 1"
	var args []any
	if f.OrgID != "" {
		query += " AND org_id = ?"
		args = append(args, f.OrgID)
	}
	if f.Action != "" {
		// substr, not LIKE: LIKE ignores case and treats '_' as a wildcard.
		query += " AND substr(action, 1, ?) = ?"
		args = append(args, len(f.Action), f.Action)
	}
	if !f.Before.IsZero() {
		query += " AND at < ?"
		args = append(args, nanos(f.Before))
	}
	query += " ORDER BY at DESC, id DESC"
	if f.Limit > 0 {
		query += " LIMIT ?"
		args = append(args, f.Limit)
	}
	events, err := collect(ctx, s.read, func(r *sql.Rows) (storage.AuditEvent, error) {
		var e storage.AuditEvent
		return e, r.Scan(&e.ID, &e.OrgID, &e.SiteID, timeDest{&e.At}, &e.ActorID, &e.Action, &e.Target, &e.Detail)
	}, query, args...)
	if err != nil {
		return nil, fmt.Errorf("list audit events: %w", err)
	}
	return events, nil
}

// CreateWebSession stores a new browser session; an id already in use is
// a conflict.
func (s *Store) CreateWebSession(ctx context.Context, ws storage.WebSession) error {
	if err := required("web_session.id", ws.ID, "web_session.user_id", ws.UserID, "web_session.org_id", ws.OrgID); err != nil {
		return fmt.Errorf("create web session: %w", err)
	}
	if ws.ExpiresAt.IsZero() {
		return fmt.Errorf("create web session: %w", &storage.ValidationError{Field: "web_session.expires_at", Problem: "is required"})
	}
	err := exec(ctx, s.write, `INSERT INTO web_sessions
		(id, user_id, org_id, csrf_token, created_at, seen_at, expires_at, user_agent, address)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		ws.ID, ws.UserID, ws.OrgID, ws.CSRFToken, nanos(ws.CreatedAt), nanos(ws.SeenAt), nanos(ws.ExpiresAt),
		ws.UserAgent, ws.Address)
	if err != nil {
		// The id is a secret's hash: never put it in an error.
		return fmt.Errorf("create web session of user %s: %w", ws.UserID, err)
	}
	return nil
}

// WebSession returns a browser session as stored, expired or not: the
// caller compares ExpiresAt with its clock.
func (s *Store) WebSession(ctx context.Context, id string) (storage.WebSession, error) {
	var ws storage.WebSession
	err := s.read.QueryRowContext(ctx, `SELECT id, user_id, org_id, csrf_token, created_at, seen_at,
		expires_at, user_agent, address FROM web_sessions WHERE id = ?`, id).Scan(
		&ws.ID, &ws.UserID, &ws.OrgID, &ws.CSRFToken, timeDest{&ws.CreatedAt}, timeDest{&ws.SeenAt},
		timeDest{&ws.ExpiresAt}, &ws.UserAgent, &ws.Address)
	if errors.Is(err, sql.ErrNoRows) {
		return storage.WebSession{}, fmt.Errorf("web session: %w", storage.ErrNotFound)
	}
	if err != nil {
		return storage.WebSession{}, fmt.Errorf("web session: %w", err)
	}
	return ws, nil
}

// TouchWebSession records activity on a session and moves its expiry.
func (s *Store) TouchWebSession(ctx context.Context, id string, seen, expires time.Time) error {
	res, err := s.write.ExecContext(ctx, "UPDATE web_sessions SET seen_at = ?, expires_at = ? WHERE id = ?",
		nanos(seen), nanos(expires), id)
	if err != nil {
		return fmt.Errorf("touch web session: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("touch web session: %w", err)
	}
	if n == 0 {
		return fmt.Errorf("touch web session: %w", storage.ErrNotFound)
	}
	return nil
}

// DeleteWebSession ends a session; ending an absent one is not an error.
func (s *Store) DeleteWebSession(ctx context.Context, id string) error {
	if _, err := s.write.ExecContext(ctx, "DELETE FROM web_sessions WHERE id = ?", id); err != nil {
		return fmt.Errorf("delete web session: %w", err)
	}
	return nil
}

// DeleteUserWebSessions ends every session of a user.
func (s *Store) DeleteUserWebSessions(ctx context.Context, userID string) error {
	if _, err := s.write.ExecContext(ctx, "DELETE FROM web_sessions WHERE user_id = ?", userID); err != nil {
		return fmt.Errorf("delete web sessions of user %s: %w", userID, err)
	}
	return nil
}

// DeleteExpiredWebSessions removes the sessions whose expiry is at or
// before now and returns how many went.
func (s *Store) DeleteExpiredWebSessions(ctx context.Context, now time.Time) (int, error) {
	res, err := s.write.ExecContext(ctx, "DELETE FROM web_sessions WHERE expires_at <= ?", nanos(now))
	if err != nil {
		return 0, fmt.Errorf("delete expired web sessions: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("delete expired web sessions: %w", err)
	}
	return int(n), nil
}

// Meta returns a node-local fact, or ErrNotFound.
func (s *Store) Meta(ctx context.Context, key string) (string, error) {
	var v string
	err := s.read.QueryRowContext(ctx, "SELECT value FROM meta WHERE key = ?", key).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return "", fmt.Errorf("meta %s: %w", key, storage.ErrNotFound)
	}
	if err != nil {
		return "", fmt.Errorf("meta %s: %w", key, err)
	}
	return v, nil
}

// SetMeta stores a node-local fact. The key holding the Raft applied index
// is reserved to Apply and Restore.
func (s *Store) SetMeta(ctx context.Context, key, value string) error {
	if err := required("meta.key", key); err != nil {
		return fmt.Errorf("set meta: %w", err)
	}
	if key == appliedIndexKey {
		return fmt.Errorf("set meta %s: %w", key, &storage.ValidationError{Field: "meta.key", Problem: "is reserved"})
	}
	err := exec(ctx, s.write, `INSERT INTO meta (key, value) VALUES (?, ?)
		ON CONFLICT (key) DO UPDATE SET value = excluded.value`, key, value)
	if err != nil {
		return fmt.Errorf("set meta %s: %w", key, err)
	}
	return nil
}
