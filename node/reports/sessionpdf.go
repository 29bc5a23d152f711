package reports

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"siteline/node/pdf"
	"siteline/policy"
	"siteline/storage"
	"siteline/web"
)

// The session report: a session's summary as a PDF (node/pdf), with its
// service report, for a reader of the session. Snapshots are embedded for
// those who may download its media; for others each prints a note.

// Media reads a session's history and the bytes of its media, checking the
// actor may.
type Media interface {
	SessionDetail(ctx context.Context, a web.Actor, sessionID string) (web.SessionDetail, error)
	OpenMedia(ctx context.Context, a web.Actor, id string) (storage.Media, web.Blob, error)
}

// Names reads the names the records give as ids, in an organisation.
type Names interface {
	Org(ctx context.Context, orgID string) (storage.Org, error)
	Site(ctx context.Context, orgID, id string) (storage.Site, error)
	User(ctx context.Context, orgID, id string) (storage.User, error)
}

// Roles lists the roles a user holds.
type Roles interface {
	Roles(orgID, userID string) []string
}

// maxSnapshotBytes bounds the bytes of one snapshot read into a report.
const maxSnapshotBytes = 16 << 20

// SessionPDF writes the report of session id to w.
func (s *Service) SessionPDF(ctx context.Context, a web.Actor, id string, w io.Writer) error {
	if s.d.Media == nil || s.d.Names == nil {
		return fmt.Errorf("session reports: %w", storage.ErrNotFound)
	}
	d, err := s.d.Media.SessionDetail(ctx, a, id)
	if err != nil {
		return err
	}
	h := pdf.History{Session: d.Session, Participants: d.Participants, Events: d.Events, Media: d.Media,
		Images: map[string][]byte{}, Roles: map[string]string{}, Generated: s.d.Now().UTC(), Location: time.UTC}
	if org, err := s.d.Names.Org(ctx, d.Session.OrgID); err == nil {
		h.Organisation = org.Name
	}
	h.Site = d.Session.SiteID
	if site, err := s.d.Names.Site(ctx, d.Session.OrgID, d.Session.SiteID); err == nil {
		h.Site = site.Name
	}
	if u, err := s.d.Names.User(ctx, d.Session.OrgID, d.Session.CreatedBy); err == nil {
		h.Owner = u.Name
	}
	if s.d.Fields != nil {
		// The outcome and time to solve as the history and the dashboards
		// count them: storage.SessionSummary.TimeToSolve.
		if f, err := s.d.Fields.SessionSummary(ctx, d.Session.OrgID, d.Session.ID); err == nil {
			h.Outcome, h.Notes = f.Outcome, f.Notes
			if tts, ok := f.TimeToSolve(); ok {
				h.TimeToSolve = tts
			}
		} else if !errors.Is(err, storage.ErrNotFound) {
			return err
		}
	}
	for _, p := range d.Participants {
		if roles := s.d.Roles.Roles(d.Session.OrgID, p.UserID); len(roles) > 0 {
			h.Roles[p.UserID] = roles[0]
		}
	}
	for _, m := range d.Media {
		if m.Kind != storage.MediaSnapshot {
			continue
		}
		if b, ok := s.snapshot(ctx, a, m.ID); ok {
			h.Images[m.ID] = b
		}
	}
	if s.check(a, policy.ReadServiceReports) == nil {
		rs, err := s.d.Store.SessionServiceReports(ctx, d.Session.OrgID, d.Session.ID)
		if err != nil {
			return err
		}
		if len(rs) > 0 {
			h.Report = s.pdfReport(ctx, rs[len(rs)-1])
		}
	}
	return pdf.Render(w, pdf.FromHistory(h))
}

// snapshot reads a snapshot's bytes, if the actor may download them.
func (s *Service) snapshot(ctx context.Context, a web.Actor, id string) ([]byte, bool) {
	m, blob, err := s.d.Media.OpenMedia(ctx, a, id)
	if err != nil {
		return nil, false
	}
	defer blob.Close()
	if m.Size <= 0 || m.Size > maxSnapshotBytes {
		return nil, false
	}
	b := make([]byte, m.Size)
	if _, err := blob.ReadAt(b, 0); err != nil && err != io.EOF {
		s.d.Log.Warn("read a snapshot for a session report", "media", id, "err", err)
		return nil, false
	}
	return b, true
}

// pdfReport is a service report as the PDF shows it.
func (s *Service) pdfReport(ctx context.Context, r storage.ServiceReport) *pdf.ServiceReport {
	out := &pdf.ServiceReport{Title: fmt.Sprintf("Service report, version %d", r.Version), Author: r.EditedBy,
		Written: r.EditedAt, Text: r.Body}
	if u, err := s.d.Names.User(ctx, r.OrgID, r.EditedBy); err == nil {
		out.Author = u.Name
	}
	h, err := s.settings(ctx, r.OrgID)
	if err != nil {
		s.d.Log.Warn("read the history settings for a session report", "org", r.OrgID, "err", err)
		h = storage.DefaultHistorySettings(r.OrgID)
	}
	for _, f := range h.FieldValues(r.Fields) {
		if f.Value == "" {
			continue
		}
		out.Fields = append(out.Fields, pdf.Field{Name: f.Label, Value: f.Value})
	}
	return out
}
