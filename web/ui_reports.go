package web

import (
	"fmt"
	"strconv"

	"github.com/gofiber/fiber/v2"

	"siteline/policy"
	"siteline/storage"
)

// The service-report pages: the list with its search, a report with its
// versions, and the forms that write, edit and delete one.

type reportsData struct {
	Reports []storage.ServiceReport
	Fields  []storage.ReportFieldDef
	Query   string
	Limit   int
	All     bool // the actor reads every report of the organisation
}

func (s *Server) uiReports(c *fiber.Ctx) error {
	a, _ := actorOf(c)
	q, limit, err := reportQuery(c)
	if err != nil {
		return err
	}
	rs, err := s.deps.Reports.Reports(c.UserContext(), a, q, limit)
	if err != nil {
		return err
	}
	h, err := s.deps.Org.HistorySettings(c.UserContext(), a.OrgID)
	if err != nil {
		return err
	}
	v := s.view(c, "Service reports", "reports")
	v.Data = reportsData{Reports: rs, Fields: h.ReportFields, Query: q, Limit: limit, All: s.can(a, policy.SeeAllCallLogs)}
	return s.ui.render(c, fiber.StatusOK, "reports", v)
}

// reportForm is a report's form: its fields, as stored or as typed.
type reportForm struct {
	Fields []reportFieldValue
	Body   string
}

type reportFieldValue struct {
	storage.ReportFieldDef
	Value string
	// Bad marks the field the form's error is about.
	Bad bool
}

// reportFormOf fills the form with the organisation's fields from r, or
// from what was typed into the named form if it failed. A field the
// organisation no longer has is not in the form: an edit keeps its value.
func (s *Server) reportFormOf(f *formState, name string, h storage.HistorySettings, r storage.ServiceReport) reportForm {
	var out reportForm
	for _, fd := range h.ReportFields {
		out.Fields = append(out.Fields, reportFieldValue{ReportFieldDef: fd, Value: f.Or(name, "field_"+fd.Key, r.Fields[fd.Key]),
			Bad: f.Bad(name, "fields."+fd.Key)})
	}
	out.Body = f.Or(name, "body", r.Body)
	return out
}

// readReportForm reads a posted report form: the organisation's fields,
// the text and the version edited.
func (s *Server) readReportForm(c *fiber.Ctx, name string) (*formState, ReportInput, error) {
	a, _ := actorOf(c)
	h, err := s.deps.Org.HistorySettings(c.UserContext(), a.OrgID)
	if err != nil {
		return nil, ReportInput{}, err
	}
	keys := []string{"body", "version"}
	for _, fd := range h.ReportFields {
		keys = append(keys, "field_"+fd.Key)
	}
	f := readForm(c, name, keys...)
	in := ReportInput{Fields: map[string]string{}, Body: f.V("body")}
	in.Version, _ = strconv.Atoi(f.V("version"))
	for _, fd := range h.ReportFields {
		in.Fields[fd.Key] = f.V("field_" + fd.Key)
	}
	return f, in, nil
}

type newReportData struct {
	Session storage.Session
	Form    reportForm
}

func (s *Server) uiNewReport(c *fiber.Ctx) error {
	return s.showNewReport(c, fiber.StatusOK, &formState{})
}

func (s *Server) showNewReport(c *fiber.Ctx, status int, f *formState) error {
	a, _ := actorOf(c)
	ss, err := s.deps.Calls.ViewCall(c.UserContext(), a, param(c, "id"))
	if err != nil {
		return err
	}
	h, err := s.deps.Org.HistorySettings(c.UserContext(), a.OrgID)
	if err != nil {
		return err
	}
	v := s.view(c, "New service report", "reports")
	v.Form = f
	v.Data = newReportData{Session: ss, Form: s.reportFormOf(f, "report", h, storage.ServiceReport{})}
	return s.ui.render(c, status, "report_new", v)
}

func (s *Server) uiCreateReport(c *fiber.Ctx) error {
	a, _ := actorOf(c)
	f, in, err := s.readReportForm(c, "report")
	if err != nil {
		return err
	}
	r, err := s.deps.Reports.CreateReport(c.UserContext(), a, param(c, "id"), in)
	if err != nil {
		return failed(c, f, err, s.showNewReport)
	}
	return done(c, "/reports/"+r.ID, "Service report saved.")
}

type reportData struct {
	ReportDetail
	// Settings label the versions' fields (the report-values template).
	Settings storage.HistorySettings
	// Earlier are the versions before the one that stands, the latest
	// first.
	Earlier           []storage.ServiceReport
	Form              reportForm
	CanEdit, CanClose bool
}

func (s *Server) uiReport(c *fiber.Ctx) error { return s.showReport(c, fiber.StatusOK, &formState{}) }

func (s *Server) showReport(c *fiber.Ctx, status int, f *formState) error {
	a, _ := actorOf(c)
	d, err := s.deps.Reports.Report(c.UserContext(), a, param(c, "id"))
	if err != nil {
		return err
	}
	title := "Service report"
	if d.Session.Name != "" {
		title = "Report · " + d.Session.Name
	}
	h, err := s.deps.Org.HistorySettings(c.UserContext(), a.OrgID)
	if err != nil {
		return err
	}
	v := s.view(c, title, "reports")
	v.Form = f
	data := reportData{ReportDetail: d, Settings: h, Form: s.reportFormOf(f, "edit", h, d.Report),
		CanEdit: s.can(a, policy.EditServiceReports), CanClose: s.can(a, policy.DeleteServiceReports)}
	for i := len(d.Versions) - 1; i >= 0; i-- {
		if d.Versions[i].VersionID != d.Report.VersionID {
			data.Earlier = append(data.Earlier, d.Versions[i])
		}
	}
	v.Data = data
	return s.ui.render(c, status, "report", v)
}

func (s *Server) uiEditReport(c *fiber.Ctx) error {
	a, _ := actorOf(c)
	f, in, err := s.readReportForm(c, "edit")
	if err != nil {
		return err
	}
	r, err := s.deps.Reports.EditReport(c.UserContext(), a, param(c, "id"), in)
	if err != nil {
		return failed(c, f, err, s.showReport)
	}
	return done(c, "/reports/"+r.ID, fmt.Sprintf("Saved as version %d.", r.Version))
}

func (s *Server) uiDeleteReport(c *fiber.Ctx) error {
	a, _ := actorOf(c)
	f := readForm(c, "delete", "version")
	v, _ := strconv.Atoi(f.V("version"))
	if err := s.deps.Reports.DeleteReport(c.UserContext(), a, param(c, "id"), v); err != nil {
		return failed(c, f, err, s.showReport)
	}
	return done(c, "/reports", "Service report deleted; its versions are kept in the history.")
}
