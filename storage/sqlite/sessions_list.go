package sqlite

import (
	"context"
	"database/sql"
	"fmt"

	"siteline/storage"
)

// ListSessions lists sessions newest first: this node's own and, at
// headquarters, those forwarded from every plant (each keeps its site_id).
func (s *Store) ListSessions(ctx context.Context, f storage.SessionFilter) ([]storage.Session, error) {
	if f.OrgID == "" {
		return nil, fmt.Errorf("list sessions: %w", &storage.ValidationError{Field: "org_id", Problem: "is required"})
	}
	query := `SELECT ` + sessionColumns + ` FROM sessions WHERE org_id = ?`
	args := []any{f.OrgID}
	if f.SiteID != "" {
		query += ` AND site_id = ?`
		args = append(args, f.SiteID)
	}
	if f.Status != "" {
		query += ` AND status = ?`
		args = append(args, f.Status)
	}
	if f.UserID != "" {
		query += ` AND (created_by = ? OR owner_id = ? OR id IN
			(SELECT session_id FROM session_participants WHERE user_id = ?))`
		args = append(args, f.UserID, f.UserID, f.UserID)
	}
	if !f.Before.IsZero() {
		query += ` AND started_at < ?`
		args = append(args, nanos(f.Before))
	}
	query += ` ORDER BY started_at DESC, id DESC`
	if f.Limit > 0 {
		query += ` LIMIT ?`
		args = append(args, f.Limit)
	}
	out, err := collect(ctx, s.read, func(r *sql.Rows) (storage.Session, error) { return scanSession(r) }, query, args...)
	if err != nil {
		return nil, fmt.Errorf("list sessions: %w", err)
	}
	return out, nil
}
