package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"siteline/storage"
)

// Service reports (migration 00012, storage/report.go): every version in
// service_report_versions, the one that stands in service_reports, whose
// full-text index the migration's triggers keep in step. A version written
// here adds its history record in the same transaction; one forwarded from
// another node is applied by applyServiceReport.

// WriteServiceReport stores a new version of report r.ID, written at this
// node: version 1 creates the report, version n+1 follows version n. A
// version number already taken (the report was edited meanwhile, or
// created twice) is storage.ErrConflict, and so is an edit of a deleted
// report; the session must exist and be r's organisation's.
func (s *Store) WriteServiceReport(ctx context.Context, r storage.ServiceReport) error {
	if err := r.Check(); err != nil {
		return fmt.Errorf("write service report %s: %w", r.ID, err)
	}
	err := s.historyTx(ctx, func(tx *sql.Tx) error {
		ss, err := sessionIn(ctx, tx, r.SessionID)
		if err != nil {
			return err
		}
		if ss.OrgID != r.OrgID {
			return fmt.Errorf("session %s: %w", r.SessionID, storage.ErrNotFound)
		}
		cur, err := reportIn(ctx, tx, `WHERE r.id = ?`, r.ID)
		switch {
		case errors.Is(err, storage.ErrNotFound):
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
		rec := storage.HistoryRecord{ID: r.VersionID, Kind: storage.HistoryServiceReport, Session: &ss, Report: &r}
		return enqueueHistory(ctx, tx, r.EditedAt, rec)
	})
	if err != nil {
		return fmt.Errorf("write service report %s: %w", r.ID, err)
	}
	return nil
}

// putReport inserts version r and makes it the one that stands if it is
// later than the one there (storage.ServiceReport's order). A version
// already stored changes nothing.
func putReport(ctx context.Context, tx *sql.Tx, r storage.ServiceReport) error {
	fields, err := json.Marshal(nonNilFields(r.Fields))
	if err != nil {
		return err
	}
	args := []any{r.VersionID, r.ID, r.OrgID, r.SiteID, r.SessionID, r.Version, string(fields), r.Body, r.Deleted,
		r.CreatedBy, nanos(r.CreatedAt), r.EditedBy, nanos(r.EditedAt), r.Origin}
	if err := exec(ctx, tx, `INSERT INTO service_report_versions (id, report_id, org_id, site_id, session_id,
		version, fields, body, deleted, created_by, created_at, edited_by, edited_at, origin)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, args...); err != nil {
		return err
	}
	args[0], args[1] = r.ID, r.VersionID
	return exec(ctx, tx, `INSERT INTO service_reports (id, version_id, org_id, site_id, session_id,
		version, fields, body, deleted, created_by, created_at, edited_by, edited_at, origin)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (id) DO UPDATE SET version_id = excluded.version_id, version = excluded.version,
			fields = excluded.fields, body = excluded.body, deleted = excluded.deleted,
			edited_by = excluded.edited_by, edited_at = excluded.edited_at, origin = excluded.origin
		WHERE (excluded.edited_at, excluded.origin, excluded.version) >
			(service_reports.edited_at, service_reports.origin, service_reports.version)`, args...)
}

// applyServiceReport applies a version forwarded from another node: once,
// whatever the order the versions arrive in.
func applyServiceReport(ctx context.Context, tx *sql.Tx, rec storage.HistoryRecord) error {
	r := *rec.Report
	if err := r.Check(); err != nil {
		return err
	}
	var known int
	if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM service_report_versions WHERE id = ?`, r.VersionID).Scan(&known); err != nil {
		return err
	}
	if known > 0 {
		return nil
	}
	return putReport(ctx, tx, r)
}

// ServiceReport returns the report as it stands, deleted or not; a report
// of another organisation is storage.ErrNotFound.
func (s *Store) ServiceReport(ctx context.Context, orgID, id string) (storage.ServiceReport, error) {
	r, err := reportIn(ctx, s.read, `WHERE r.id = ? AND r.org_id = ?`, id, orgID)
	if err != nil {
		return r, fmt.Errorf("service report %s: %w", id, err)
	}
	return r, nil
}

// ServiceReportVersions returns every version of a report, the earliest
// first.
func (s *Store) ServiceReportVersions(ctx context.Context, orgID, id string) ([]storage.ServiceReport, error) {
	out, err := collect(ctx, s.read, scanReport, `SELECT `+versionColumns+` FROM service_report_versions
		WHERE report_id = ? AND org_id = ? ORDER BY edited_at, origin, version`, id, orgID)
	if err != nil {
		return nil, fmt.Errorf("versions of service report %s: %w", id, err)
	}
	return out, nil
}

// SessionServiceReports returns the reports of a session that are not
// deleted, the earliest written first.
func (s *Store) SessionServiceReports(ctx context.Context, orgID, sessionID string) ([]storage.ServiceReport, error) {
	out, err := collect(ctx, s.read, scanReport, `SELECT `+reportColumns+` FROM service_reports r
		WHERE r.session_id = ? AND r.org_id = ? AND NOT r.deleted ORDER BY r.created_at, r.id`, sessionID, orgID)
	if err != nil {
		return nil, fmt.Errorf("service reports of session %s: %w", sessionID, err)
	}
	return out, nil
}

// SearchServiceReports lists the reports that are not deleted and match q.
func (s *Store) SearchServiceReports(ctx context.Context, q storage.ServiceReportQuery) ([]storage.ServiceReport, error) {
	if q.OrgID == "" {
		return nil, fmt.Errorf("search service reports: %w", &storage.ValidationError{Field: "org_id", Problem: "is required"})
	}
	if q.Limit <= 0 || q.Limit > 1000 {
		return nil, fmt.Errorf("search service reports: %w", &storage.ValidationError{Field: "limit", Problem: "must be between 1 and 1000"})
	}
	where := []string{"r.org_id = ?", "NOT r.deleted"}
	args := []any{q.OrgID}
	if match := ftsQuery(q.Text); match != "" {
		where = append(where, "r.rowid IN (SELECT rowid FROM service_reports_fts WHERE service_reports_fts MATCH ?)")
		args = append(args, match)
	}
	if len(q.Sessions) > 0 {
		where = append(where, "r.session_id IN (SELECT value FROM json_each(?))")
		ids, _ := json.Marshal(q.Sessions)
		args = append(args, string(ids))
	}
	if q.UserID != "" {
		where = append(where, `r.session_id IN (SELECT id FROM sessions WHERE org_id = ? AND (created_by = ? OR owner_id = ?)
			UNION SELECT session_id FROM session_participants WHERE user_id = ?)`)
		args = append(args, q.OrgID, q.UserID, q.UserID, q.UserID)
	}
	args = append(args, q.Limit)
	out, err := collect(ctx, s.read, func(rows *sql.Rows) (storage.ServiceReport, error) {
		var name string
		r, err := scanReportRow(rows, &name)
		r.SessionName = name
		return r, err
	}, `SELECT `+reportColumns+`, COALESCE(ss.name, '') FROM service_reports r LEFT JOIN sessions ss ON ss.id = r.session_id
		WHERE `+strings.Join(where, " AND ")+` ORDER BY r.edited_at DESC, r.id LIMIT ?`, args...)
	if err != nil {
		return nil, fmt.Errorf("search service reports: %w", err)
	}
	return out, nil
}

// ftsQuery makes an FTS5 query matching every word of text as a prefix,
// each word quoted so that no FTS5 syntax comes from the user.
func ftsQuery(text string) string {
	var terms []string
	for _, w := range strings.FieldsFunc(text, func(r rune) bool {
		return !(r == '_' || r == '-' || r == '.' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r > 127)
	}) {
		terms = append(terms, `"`+strings.ReplaceAll(w, `"`, `""`)+`"*`)
	}
	return strings.Join(terms, " ")
}

// versionColumns and reportColumns are what scanReport reads, of
// service_report_versions and of service_reports (r).
const (
	versionColumns = `id, report_id, org_id, site_id, session_id, version, fields, body, deleted,
	created_by, created_at, edited_by, edited_at, origin`
	reportColumns = `r.version_id, r.id, r.org_id, r.site_id, r.session_id, r.version, r.fields, r.body, r.deleted,
	r.created_by, r.created_at, r.edited_by, r.edited_at, r.origin`
)

func scanReport(r *sql.Rows) (storage.ServiceReport, error) { return scanReportRow(r) }

// scanReportRow reads reportColumns or versionColumns, then more, if the
// query selects more.
func scanReportRow(r interface{ Scan(...any) error }, more ...any) (storage.ServiceReport, error) {
	var rep storage.ServiceReport
	var fields string
	err := r.Scan(append([]any{&rep.VersionID, &rep.ID, &rep.OrgID, &rep.SiteID, &rep.SessionID, &rep.Version, &fields, &rep.Body,
		&rep.Deleted, &rep.CreatedBy, timeDest{&rep.CreatedAt}, &rep.EditedBy, timeDest{&rep.EditedAt}, &rep.Origin}, more...)...)
	if err != nil {
		return rep, err
	}
	if err := json.Unmarshal([]byte(fields), &rep.Fields); err != nil {
		return rep, fmt.Errorf("report %s: fields: %w", rep.ID, err)
	}
	return rep, nil
}

// reportIn reads the standing version of one report of service_reports.
func reportIn(ctx context.Context, q querier, where string, args ...any) (storage.ServiceReport, error) {
	rep, err := scanReportRow(q.QueryRowContext(ctx, `SELECT `+reportColumns+` FROM service_reports r `+where, args...))
	if errors.Is(err, sql.ErrNoRows) {
		return rep, storage.ErrNotFound
	}
	return rep, err
}

func nonNilFields(m map[string]string) map[string]string {
	if m == nil {
		return map[string]string{}
	}
	return m
}
