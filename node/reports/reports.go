// Package reports is the service-report use case: an expert writes a
// report after a call (the organisation's fields, such as asset, fault,
// action taken and parts, plus free text), edits it and deletes it, each
// change a new version kept as the report's history; people read the
// reports of the sessions they may read. A report is written at the node
// that holds its session, whose history then carries it to headquarters.
package reports

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"
	"unicode/utf8"

	"siteline/node/internal/usecase"
	"siteline/policy"
	"siteline/storage"
	"siteline/web"
)

// Store is what the service reads and writes.
type Store interface {
	WriteServiceReport(ctx context.Context, r storage.ServiceReport) error
	ServiceReport(ctx context.Context, orgID, id string) (storage.ServiceReport, error)
	ServiceReportVersions(ctx context.Context, orgID, id string) ([]storage.ServiceReport, error)
	SessionServiceReports(ctx context.Context, orgID, sessionID string) ([]storage.ServiceReport, error)
	SearchServiceReports(ctx context.Context, q storage.ServiceReportQuery) ([]storage.ServiceReport, error)
}

// Sessions tells whether an actor may read a session, and returns it.
type Sessions interface {
	ViewCall(ctx context.Context, a web.Actor, id string) (storage.Session, error)
}

// Settings reads an organisation's history settings: the outcomes a
// session can be given and the fields of a service report.
type Settings interface {
	HistorySettings(ctx context.Context, orgID string) (storage.HistorySettings, error)
}

// Authorizer answers permission questions.
type Authorizer interface {
	Check(orgID, userID, permission string) error
}

// Deps is what the service is built from.
type Deps struct {
	Store    Store
	Sessions Sessions
	Authz    Authorizer
	// NodeID is this node's id, the origin of the versions written here;
	// SiteID its site, whose sessions' reports are written here.
	NodeID, SiteID string
	Now            func() time.Time
	NewID          func() string
	Log            *slog.Logger
	// Fields reads and sets the fields given a session after the call
	// (fields.go).
	Fields Fielder
	// Settings reads the organisation's outcomes and report fields; the
	// defaults hold when it is nil.
	Settings Settings
	// Media, Names and Roles make the session's PDF (sessionpdf.go).
	Media Media
	Names Names
	Roles Roles
}

// Service implements web.Reports.
type Service struct{ d Deps }

// New returns the service.
func New(d Deps) *Service {
	if d.Now == nil {
		d.Now = time.Now
	}
	if d.Log == nil {
		d.Log = slog.New(slog.DiscardHandler)
	}
	return &Service{d: d}
}

var _ web.Reports = (*Service)(nil)

// Limits of a report's text, in characters: a field of one line, a field
// of several, the free text.
const (
	maxField     = 500
	maxLongField = 5000
	maxBody      = 20000
)

// settings returns the history settings of an organisation: the defaults
// when the service has no Settings.
func (s *Service) settings(ctx context.Context, orgID string) (storage.HistorySettings, error) {
	if s.d.Settings == nil {
		return storage.DefaultHistorySettings(orgID), nil
	}
	return s.d.Settings.HistorySettings(ctx, orgID)
}

// CreateReport writes the first version of a report on session sessionID,
// which the actor must be able to read.
func (s *Service) CreateReport(ctx context.Context, a web.Actor, sessionID string, in web.ReportInput) (storage.ServiceReport, error) {
	ss, err := s.d.Sessions.ViewCall(ctx, a, sessionID)
	if err != nil {
		return storage.ServiceReport{}, err
	}
	if err := s.writable(ss); err != nil {
		return storage.ServiceReport{}, err
	}
	h, err := s.settings(ctx, ss.OrgID)
	if err != nil {
		return storage.ServiceReport{}, err
	}
	fields, body, err := clean(in, h, nil)
	if err != nil {
		return storage.ServiceReport{}, err
	}
	now := s.d.Now().UTC()
	r := storage.ServiceReport{ID: s.d.NewID(), VersionID: s.d.NewID(), OrgID: ss.OrgID, SiteID: ss.SiteID,
		SessionID: ss.ID, Version: 1, Fields: fields, Body: body, CreatedBy: actorID(a), CreatedAt: now,
		EditedBy: actorID(a), EditedAt: now, Origin: s.d.NodeID}
	if err := s.d.Store.WriteServiceReport(ctx, r); err != nil {
		return storage.ServiceReport{}, fmt.Errorf("create service report: %w", err)
	}
	return r, nil
}

// EditReport writes version in.Version+1 of report id: in.Version is the
// version the editor saw, so that an edit made meanwhile is not
// overwritten unseen (storage.ErrConflict).
func (s *Service) EditReport(ctx context.Context, a web.Actor, id string, in web.ReportInput) (storage.ServiceReport, error) {
	cur, err := s.readable(ctx, a, id)
	if err != nil {
		return storage.ServiceReport{}, err
	}
	h, err := s.settings(ctx, cur.OrgID)
	if err != nil {
		return storage.ServiceReport{}, err
	}
	fields, body, err := clean(in, h, cur.Fields)
	if err != nil {
		return storage.ServiceReport{}, err
	}
	return s.next(ctx, a, cur, in.Version, func(r *storage.ServiceReport) { r.Fields, r.Body = fields, body })
}

// DeleteReport deletes report id as it stood at version: the deletion is a
// version too, and the earlier ones stay in the report's history.
func (s *Service) DeleteReport(ctx context.Context, a web.Actor, id string, version int) error {
	cur, err := s.readable(ctx, a, id)
	if err != nil {
		return err
	}
	_, err = s.next(ctx, a, cur, version, func(r *storage.ServiceReport) { r.Deleted = true })
	return err
}

// next writes the version that follows seen, changed by change.
func (s *Service) next(ctx context.Context, a web.Actor, cur storage.ServiceReport, seen int, change func(*storage.ServiceReport)) (storage.ServiceReport, error) {
	if cur.Deleted {
		return storage.ServiceReport{}, fmt.Errorf("service report %s was deleted: %w", cur.ID, storage.ErrNotFound)
	}
	if seen != cur.Version {
		return storage.ServiceReport{}, fmt.Errorf("the report was changed since version %d (it is at version %d): reload it and make your change again: %w",
			seen, cur.Version, storage.ErrConflict)
	}
	if cur.SiteID != s.d.SiteID {
		return storage.ServiceReport{}, fmt.Errorf("this report belongs to a session of another site; change it there: %w", storage.ErrConflict)
	}
	r := cur
	change(&r)
	r.VersionID, r.Version = s.d.NewID(), cur.Version+1
	r.EditedBy, r.EditedAt, r.Origin = actorID(a), s.d.Now().UTC(), s.d.NodeID
	if !r.EditedAt.After(cur.EditedAt) {
		r.EditedAt = cur.EditedAt.Add(time.Nanosecond) // a later version is later
	}
	if err := s.d.Store.WriteServiceReport(ctx, r); err != nil {
		return storage.ServiceReport{}, fmt.Errorf("change service report %s: %w", cur.ID, err)
	}
	return r, nil
}

// Report returns a report with every version, the earliest first, and its
// session.
func (s *Service) Report(ctx context.Context, a web.Actor, id string) (web.ReportDetail, error) {
	r, err := s.readable(ctx, a, id)
	if err != nil {
		return web.ReportDetail{}, err
	}
	if r.Deleted {
		return web.ReportDetail{}, fmt.Errorf("service report %s was deleted: %w", id, storage.ErrNotFound)
	}
	ss, err := s.d.Sessions.ViewCall(ctx, a, r.SessionID)
	if err != nil {
		return web.ReportDetail{}, err
	}
	versions, err := s.d.Store.ServiceReportVersions(ctx, a.OrgID, id)
	if err != nil {
		return web.ReportDetail{}, err
	}
	return web.ReportDetail{Report: r, Versions: versions, Session: ss}, nil
}

// SessionReports returns the reports of a session the actor may read.
func (s *Service) SessionReports(ctx context.Context, a web.Actor, sessionID string) ([]storage.ServiceReport, error) {
	if err := s.check(a, policy.ReadServiceReports); err != nil {
		return nil, err
	}
	if _, err := s.d.Sessions.ViewCall(ctx, a, sessionID); err != nil {
		return nil, err
	}
	return s.d.Store.SessionServiceReports(ctx, a.OrgID, sessionID)
}

// Reports searches the reports the actor may read: every report of the
// organisation with see-all-call-logs, else those of the sessions the actor
// created, owns or took part in.
func (s *Service) Reports(ctx context.Context, a web.Actor, text string, limit int) ([]storage.ServiceReport, error) {
	if err := s.check(a, policy.ReadServiceReports); err != nil {
		return nil, err
	}
	q := storage.ServiceReportQuery{OrgID: a.OrgID, Text: text, Limit: limit}
	if s.check(a, policy.SeeAllCallLogs) != nil {
		q.UserID = actorID(a)
	}
	return s.d.Store.SearchServiceReports(ctx, q)
}

// readable returns report id as it stands, if the actor may read its
// session and reports; else storage.ErrNotFound or the missing permission.
func (s *Service) readable(ctx context.Context, a web.Actor, id string) (storage.ServiceReport, error) {
	if err := s.check(a, policy.ReadServiceReports); err != nil {
		return storage.ServiceReport{}, err
	}
	r, err := s.d.Store.ServiceReport(ctx, a.OrgID, id)
	if err != nil {
		return r, err
	}
	if _, err := s.d.Sessions.ViewCall(ctx, a, r.SessionID); err != nil {
		var denied *storage.ForbiddenError
		if errors.As(err, &denied) {
			err = fmt.Errorf("service report %s: %w", id, storage.ErrNotFound)
		}
		return storage.ServiceReport{}, err
	}
	return r, nil
}

// writable refuses a session of another site: its reports are written
// where its history is.
func (s *Service) writable(ss storage.Session) error {
	if ss.SiteID != s.d.SiteID {
		return fmt.Errorf("this session was held at another site; write its report there: %w", storage.ErrConflict)
	}
	return nil
}

func (s *Service) check(a web.Actor, permission string) error {
	if a.Local {
		return nil
	}
	return s.d.Authz.Check(a.OrgID, a.UserID, permission)
}

// clean checks a report's input against the organisation's fields and
// returns its fields without the empty ones, and its text, trimmed. had are
// the fields of the version edited: a field the organisation has since
// taken out of its list keeps its value there unless the edit clears it;
// any other key that is not one of its fields is refused.
func clean(in web.ReportInput, h storage.HistorySettings, had map[string]string) (map[string]string, string, error) {
	bad := func(field, problem string) error { return &storage.ValidationError{Field: field, Problem: problem} }
	fields := map[string]string{}
	for k, v := range had {
		if _, ok := h.ReportField(k); !ok {
			fields[k] = v
		}
	}
	for k, v := range in.Fields {
		def, ok := h.ReportField(k)
		if _, kept := had[k]; !ok && !kept {
			return nil, "", bad("fields."+k, fmt.Sprintf("%q is not a field of this organisation's service reports", k))
		}
		v = strings.TrimSpace(v)
		limit := maxField
		if def.Kind == storage.FieldLongText || !ok {
			limit = maxLongField
		}
		if utf8.RuneCountInString(v) > limit {
			return nil, "", bad("fields."+k, fmt.Sprintf("must be at most %d characters", limit))
		}
		if v != "" {
			fields[k] = v
		} else {
			delete(fields, k)
		}
	}
	for _, def := range h.ReportFields {
		if def.Required && fields[def.Key] == "" {
			return nil, "", bad("fields."+def.Key, fmt.Sprintf("(%s) is required", def.Label))
		}
	}
	body := strings.TrimSpace(in.Body)
	if utf8.RuneCountInString(body) > maxBody {
		return nil, "", bad("body", fmt.Sprintf("must be at most %d characters", maxBody))
	}
	if len(fields) == 0 && body == "" {
		return nil, "", bad("body", "is required when no field is filled in")
	}
	return fields, body, nil
}

// actorID is who the records name for a.
func actorID(a web.Actor) string { return usecase.ActorID(a) }
