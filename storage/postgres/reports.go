package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"siteline/storage"
)

// Service reports as headquarters keeps them: every version, and the one
// that stands, the latest in storage.ServiceReport's order (edited_at,
// origin, version), whatever order the versions arrive in. A version
// written here (at a headquarters voter, on a call another voter held)
// adds its history record in the same transaction, as in storage/sqlite;
// one forwarded from another node is applied by applyServiceReport.

// WriteServiceReport stores a new version of report r.ID, written at this
// node: version 1 creates the report, version n+1 follows version n. A
// version number already taken (the report was edited meanwhile, or
// created twice) is storage.ErrConflict, and so is an edit of a deleted
// report; the session must exist and be r's organisation's.
func (s *Store) WriteServiceReport(ctx context.Context, r storage.ServiceReport) error {
	if err := r.Check(); err != nil {
		return fmt.Errorf("write service report %s: %w", r.ID, err)
	}
	err := s.historyTx(ctx, func(tx pgx.Tx) error {
		ss, err := sessionIn(ctx, tx, r.SessionID)
		if err != nil {
			return err
		}
		if ss.OrgID != r.OrgID {
			return fmt.Errorf("session %s: %w", r.SessionID, storage.ErrNotFound)
		}
		// FOR UPDATE: the history applier, which does not take the
		// history lock, may be putting a version of the same report.
		cur, err := scanReport(tx.QueryRow(ctx, `SELECT `+reportColumns+` FROM service_reports WHERE id = $1 FOR UPDATE`, r.ID))
		switch {
		case errors.Is(err, pgx.ErrNoRows):
			err = r.CheckFollows(nil)
		case err == nil:
			err = r.CheckFollows(&cur)
		}
		if err != nil {
			return err
		}
		if err := putReport(ctx, tx, r); err != nil {
			return err
		}
		return enqueueHistory(ctx, tx, r.EditedAt, storage.HistoryRecord{ID: r.VersionID, Kind: storage.HistoryServiceReport, Session: &ss, Report: &r})
	})
	if err != nil {
		return fmt.Errorf("write service report %s: %w", r.ID, err)
	}
	return nil
}

// applyServiceReport applies a version forwarded from another node: once,
// whatever the order the versions arrive in.
func applyServiceReport(ctx context.Context, tx pgx.Tx, r storage.ServiceReport) error {
	if err := r.Check(); err != nil {
		return err
	}
	var known bool
	if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM service_report_versions WHERE id = $1)`, r.VersionID).Scan(&known); err != nil {
		return err
	}
	if known {
		return nil
	}
	return putReport(ctx, tx, r)
}

// putReport inserts version r and makes it the one that stands if it is
// later than the one there (storage.ServiceReport's order).
func putReport(ctx context.Context, tx pgx.Tx, r storage.ServiceReport) error {
	fields := r.Fields
	if fields == nil {
		fields = map[string]string{}
	}
	body, err := json.Marshal(fields)
	if err != nil {
		return err
	}
	args := []any{r.VersionID, r.ID, r.OrgID, r.SiteID, r.SessionID, r.Version, string(body), r.Body, r.Deleted,
		r.CreatedBy, nanos(r.CreatedAt), r.EditedBy, nanos(r.EditedAt), r.Origin}
	if err := exec(ctx, tx, `INSERT INTO service_report_versions (id, report_id, org_id, site_id, session_id,
		version, fields, body, deleted, created_by, created_at, edited_by, edited_at, origin)
		VALUES ($1, $2, $3, $4, $5, $6, $7::json, $8, $9, $10, $11, $12, $13, $14)`, args...); err != nil {
		return err
	}
	args[0], args[1] = r.ID, r.VersionID
	return exec(ctx, tx, `INSERT INTO service_reports (id, version_id, org_id, site_id, session_id,
		version, fields, body, deleted, created_by, created_at, edited_by, edited_at, origin)
		VALUES ($1, $2, $3, $4, $5, $6, $7::json, $8, $9, $10, $11, $12, $13, $14)
		ON CONFLICT (id) DO UPDATE SET version_id = excluded.version_id, version = excluded.version,
			fields = excluded.fields, body = excluded.body, deleted = excluded.deleted,
			edited_by = excluded.edited_by, edited_at = excluded.edited_at, origin = excluded.origin
		WHERE (excluded.edited_at, excluded.origin, excluded.version) >
			(service_reports.edited_at, service_reports.origin, service_reports.version)`, args...)
}

// reportColumns and versionColumns are what scanReport reads, of
// service_reports and of service_report_versions.
const (
	reportColumns = `version_id, id, org_id, site_id, session_id, version, fields::text, body, deleted,
	created_by, created_at, edited_by, edited_at, origin`
	versionColumns = `id, report_id, org_id, site_id, session_id, version, fields::text, body, deleted,
	created_by, created_at, edited_by, edited_at, origin`
)

// scanReport reads reportColumns or versionColumns, then more, if the
// query selects more.
func scanReport(r pgx.Row, more ...any) (storage.ServiceReport, error) {
	var rep storage.ServiceReport
	var fields string
	var created, edited int64
	if err := r.Scan(append([]any{&rep.VersionID, &rep.ID, &rep.OrgID, &rep.SiteID, &rep.SessionID, &rep.Version, &fields, &rep.Body,
		&rep.Deleted, &rep.CreatedBy, &created, &rep.EditedBy, &edited, &rep.Origin}, more...)...); err != nil {
		return rep, err
	}
	rep.CreatedAt, rep.EditedAt = timeOf(&created), timeOf(&edited)
	if err := json.Unmarshal([]byte(fields), &rep.Fields); err != nil {
		return rep, fmt.Errorf("report %s: fields: %w", rep.ID, err)
	}
	return rep, nil
}

// ServiceReport returns the report as it stands, deleted or not; a report
// of another organisation is storage.ErrNotFound.
func (s *Store) ServiceReport(ctx context.Context, orgID, id string) (storage.ServiceReport, error) {
	r, err := scanReport(s.pool.QueryRow(ctx, `SELECT `+reportColumns+` FROM service_reports WHERE id = $1 AND org_id = $2`, id, orgID))
	if errors.Is(err, pgx.ErrNoRows) {
		return r, fmt.Errorf("service report %s: %w", id, storage.ErrNotFound)
	}
	if err != nil {
		return r, fmt.Errorf("service report %s: %w", id, err)
	}
	return r, nil
}

// SessionServiceReports lists a session's reports that are not deleted,
// the earliest first.
func (s *Store) SessionServiceReports(ctx context.Context, orgID, sessionID string) ([]storage.ServiceReport, error) {
	rows, _ := s.pool.Query(ctx, `SELECT `+reportColumns+` FROM service_reports
		WHERE session_id = $1 AND org_id = $2 AND NOT deleted ORDER BY created_at, id COLLATE "C"`, sessionID, orgID)
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (storage.ServiceReport, error) { return scanReport(r) })
	if err != nil {
		return nil, fmt.Errorf("service reports of session %s: %w", sessionID, err)
	}
	return out, nil
}

// ServiceReportVersions returns every version of a report, the earliest
// first.
func (s *Store) ServiceReportVersions(ctx context.Context, orgID, id string) ([]storage.ServiceReport, error) {
	rows, _ := s.pool.Query(ctx, `SELECT `+versionColumns+` FROM service_report_versions
		WHERE report_id = $1 AND org_id = $2 ORDER BY edited_at, origin, version`, id, orgID)
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (storage.ServiceReport, error) { return scanReport(r) })
	if err != nil {
		return nil, fmt.Errorf("versions of service report %s: %w", id, err)
	}
	return out, nil
}
