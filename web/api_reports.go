package web

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/gofiber/fiber/v2"

	"siteline/policy"
	"siteline/storage"
)

// Reports is the service-report use case: written after a call, versioned,
// searched. Reading a report needs xa_ocall_read-service-reports and the
// right to read its session; a report the actor may not read is not found.
type Reports interface {
	CreateReport(ctx context.Context, a Actor, sessionID string, in ReportInput) (storage.ServiceReport, error)
	// EditReport writes the version after in.Version, the one the editor
	// saw; storage.ErrConflict when the report changed since.
	EditReport(ctx context.Context, a Actor, id string, in ReportInput) (storage.ServiceReport, error)
	DeleteReport(ctx context.Context, a Actor, id string, version int) error
	Report(ctx context.Context, a Actor, id string) (ReportDetail, error)
	SessionReports(ctx context.Context, a Actor, sessionID string) ([]storage.ServiceReport, error)
	// Reports searches the reports the actor may read, the latest edited
	// first.
	Reports(ctx context.Context, a Actor, text string, limit int) ([]storage.ServiceReport, error)
	// SessionPDF writes a session's summary as a PDF, with its service
	// report, for a reader of the session.
	SessionPDF(ctx context.Context, a Actor, sessionID string, w io.Writer) error
	// SessionFields returns the fields given a session after the call;
	// SetSessionFields changes those in gives, for a reader of the session.
	SessionFields(ctx context.Context, a Actor, sessionID string) (storage.SessionSummary, error)
	SetSessionFields(ctx context.Context, a Actor, sessionID string, in SessionFieldsInput) (storage.SessionSummary, error)
}

// SessionFieldsInput changes the fields given a session after the call;
// a field left out (null) is left as it is.
type SessionFieldsInput struct {
	Name    *string   `json:"name,omitempty"`
	Goal    *string   `json:"goal,omitempty"`
	Outcome *string   `json:"outcome,omitempty"` // the key of one of the organisation's outcomes, or "" for none
	Notes   *string   `json:"notes,omitempty"`
	Labels  *[]string `json:"labels,omitempty"` // label ids, replacing the session's
}

// ReportInput writes a report: its fields by key (the keys of the
// organisation's report fields), its text and, for an
// edit or a deletion, the version it changes.
type ReportInput struct {
	Version int               `json:"version,omitempty"`
	Fields  map[string]string `json:"fields"`
	Body    string            `json:"body"`
}

// ReportDetail is a report as it stands, every version of it, the earliest
// first, and its session.
type ReportDetail struct {
	Report   storage.ServiceReport   `json:"report"`
	Versions []storage.ServiceReport `json:"versions"`
	Session  storage.Session         `json:"session"`
}

const (
	reportPageSize = 50
	reportMaxLimit = 500
)

func (s *Server) reportRoutes() []route {
	p := APIPrefix
	return []route{
		{method: "GET", path: p + "/reports", perm: policy.ServiceReports, summary: "Search service reports (?q=words&limit=n), the latest edited first",
			out: []storage.ServiceReport{}, handler: s.apiReports},
		{method: "GET", path: p + "/reports/fields", perm: policy.ServiceReports, summary: "The structured fields of the organisation's service reports, in order",
			out: []storage.ReportFieldDef{}, handler: s.apiReportFields},
		{method: "GET", path: p + "/reports/:id", perm: policy.ReadServiceReports, summary: "A service report with every version", out: ReportDetail{}, handler: s.apiReport},
		{method: "POST", path: p + "/sessions/:id/reports", perm: policy.CreateServiceReport, summary: "Write a service report on a session",
			in: ReportInput{}, out: storage.ServiceReport{}, handler: s.apiCreateReport},
		{method: "PUT", path: p + "/reports/:id", perm: policy.EditServiceReports, summary: "Edit a service report (version: the one edited)",
			in: ReportInput{}, out: storage.ServiceReport{}, handler: s.apiEditReport},
		{method: "DELETE", path: p + "/reports/:id", perm: policy.DeleteServiceReports, summary: "Delete a service report (?version=n, the one deleted); its versions stay",
			handler: s.apiDeleteReport},
		{method: "GET", path: p + "/sessions/:id/report.pdf", perm: policy.CallLogs, summary: "A session's summary as a PDF: participants, timeline, chat, annotated snapshots, service report",
			handler: s.sessionPDF},
		{method: "GET", path: "/sessions/:id/report.pdf", perm: policy.CallLogs, page: true, summary: "A session's summary as a PDF", handler: s.sessionPDF},
		{method: "PATCH", path: p + "/sessions/:id", perm: policy.CallLogs, summary: "Set a session's name, goal, outcome, notes or labels (the fields given are changed)",
			in: SessionFieldsInput{}, out: storage.SessionSummary{}, handler: s.apiSetSessionFields},
		{method: "POST", path: "/sessions/:id/fields", perm: policy.CallLogs, page: true, summary: "Set a session's fields", handler: s.uiSetSessionFields},
		{method: "GET", path: "/reports", perm: policy.ServiceReports, page: true, summary: "Service reports", handler: s.uiReports},
		{method: "GET", path: "/reports/:id", perm: policy.ReadServiceReports, page: true, summary: "A service report", handler: s.uiReport},
		{method: "GET", path: "/sessions/:id/reports/new", perm: policy.CreateServiceReport, page: true, summary: "Write a service report", handler: s.uiNewReport},
		{method: "POST", path: "/sessions/:id/reports", perm: policy.CreateServiceReport, page: true, summary: "Write a service report", handler: s.uiCreateReport},
		{method: "POST", path: "/reports/:id", perm: policy.EditServiceReports, page: true, summary: "Edit a service report", handler: s.uiEditReport},
		{method: "POST", path: "/reports/:id/delete", perm: policy.DeleteServiceReports, page: true, summary: "Delete a service report", handler: s.uiDeleteReport},
	}
}

// reportQuery reads ?q= and ?limit=.
func reportQuery(c *fiber.Ctx) (string, int, error) {
	limit := reportPageSize
	if l := c.Query("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 1 || n > reportMaxLimit {
			return "", 0, &storage.ValidationError{Field: "limit", Problem: "must be a number from 1 to " + strconv.Itoa(reportMaxLimit)}
		}
		limit = n
	}
	q := strings.TrimSpace(c.Query("q"))
	if len(q) > 200 {
		return "", 0, &storage.ValidationError{Field: "q", Problem: "must be at most 200 characters"}
	}
	return q, limit, nil
}

func (s *Server) apiReports(c *fiber.Ctx) error {
	a, _ := actorOf(c)
	q, limit, err := reportQuery(c)
	if err != nil {
		return err
	}
	out, err := s.deps.Reports.Reports(c.UserContext(), a, q, limit)
	if err != nil {
		return err
	}
	if out == nil {
		out = []storage.ServiceReport{}
	}
	return c.JSON(out)
}

func (s *Server) apiReportFields(c *fiber.Ctx) error {
	a, _ := actorOf(c)
	h, err := s.deps.Org.HistorySettings(c.UserContext(), a.OrgID)
	if err != nil {
		return err
	}
	return c.JSON(h.ReportFields)
}

func (s *Server) apiReport(c *fiber.Ctx) error {
	a, _ := actorOf(c)
	d, err := s.deps.Reports.Report(c.UserContext(), a, param(c, "id"))
	if err != nil {
		return err
	}
	return c.JSON(d)
}

func (s *Server) apiCreateReport(c *fiber.Ctx) error {
	a, _ := actorOf(c)
	var in ReportInput
	if err := decodeJSON(c, &in); err != nil {
		return err
	}
	r, err := s.deps.Reports.CreateReport(c.UserContext(), a, param(c, "id"), in)
	if err != nil {
		return err
	}
	return c.Status(fiber.StatusCreated).JSON(r)
}

func (s *Server) apiEditReport(c *fiber.Ctx) error {
	a, _ := actorOf(c)
	var in ReportInput
	if err := decodeJSON(c, &in); err != nil {
		return err
	}
	if in.Version < 1 {
		return &storage.ValidationError{Field: "version", Problem: "is required: the version of the report you edited"}
	}
	r, err := s.deps.Reports.EditReport(c.UserContext(), a, param(c, "id"), in)
	if err != nil {
		return err
	}
	return c.JSON(r)
}

func (s *Server) apiDeleteReport(c *fiber.Ctx) error {
	a, _ := actorOf(c)
	v, err := strconv.Atoi(c.Query("version"))
	if err != nil || v < 1 {
		return &storage.ValidationError{Field: "version", Problem: "is required: the version of the report you delete"}
	}
	if err := s.deps.Reports.DeleteReport(c.UserContext(), a, param(c, "id"), v); err != nil {
		return err
	}
	return c.SendStatus(fiber.StatusNoContent)
}

// sessionPDF answers a session's PDF, made whole before the first byte so
// that an error is still an error page.
func (s *Server) sessionPDF(c *fiber.Ctx) error {
	a, _ := actorOf(c)
	id := param(c, "id")
	var buf bytes.Buffer
	if err := s.deps.Reports.SessionPDF(c.UserContext(), a, id, &buf); err != nil {
		return err
	}
	c.Set(fiber.HeaderContentType, "application/pdf")
	c.Set(fiber.HeaderContentDisposition, fmt.Sprintf(`attachment; filename="session-%s.pdf"`, id))
	c.Set(fiber.HeaderCacheControl, "no-store")
	return c.Send(buf.Bytes())
}

func (s *Server) apiSetSessionFields(c *fiber.Ctx) error {
	a, _ := actorOf(c)
	var in SessionFieldsInput
	if err := decodeJSON(c, &in); err != nil {
		return err
	}
	out, err := s.deps.Reports.SetSessionFields(c.UserContext(), a, param(c, "id"), in)
	if err != nil {
		return err
	}
	return c.JSON(out)
}
