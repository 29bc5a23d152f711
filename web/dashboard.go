package web

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"html/template"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"siteline/policy"
	"siteline/storage"
	"siteline/storage/dashboard"
)

// The dashboards (SPEC.md, section 3): sessions over time, participants,
// goals, time to solve, answer time and busiest hours, broken down by
// site, team, label or user, from the rollups the store keeps with the
// history (storage.DashboardStore). At headquarters the store holds every
// site's forwarded history, at a plant its own. One query read from the
// URL, with the history page's filter names, serves the page, its JSON
// and each chart's export.

// Dashboards reads the dashboards' rollups.
type Dashboards interface {
	DashboardCounts(ctx context.Context, q storage.DashboardQuery) (storage.DashboardCounts, error)
}

// dashboardDefaultDays is the range shown when the URL names none: the
// last twelve weeks.
const dashboardDefaultDays = 84

func (s *Server) dashboardRoutes() []route {
	p := APIPrefix
	filters := "?from=&to= (dates, both included; default the last 12 weeks)&site=&team=&label=&user=&outcome=&by=site|team|label|user&period=day|week|month"
	return []route{
		{method: "GET", path: p + "/dashboard", perm: policy.XAssistDashboard,
			summary: "The dashboards' figures and charts " + filters, out: dashboard.Report{}, handler: s.apiDashboard},
		{method: "GET", path: p + "/dashboard/export", perm: policy.XAssistDashboard,
			summary: "One chart's table (&chart=sessions|hours|participants|time_to_solve|answer_time|outcomes|goals|breakdown) as CSV (&format=csv) or JSON (&format=json), same filters",
			handler: s.apiDashboardExport},
		{method: "GET", path: "/dashboard", perm: policy.XAssistDashboard, page: true, summary: "Dashboards", handler: s.uiDashboard},
	}
}

// dashboardRequest is a dashboard query read from the URL.
type dashboardRequest struct {
	Query    storage.DashboardQuery
	Period   dashboard.Period
	From, To string // the dates shown, both included
	// History is the history page's query for the same filters.
	History url.Values
}

func (s *Server) dashboardRequest(c *fiber.Ctx) (dashboardRequest, error) {
	a, _ := actorOf(c)
	ctx := c.UserContext()
	r := dashboardRequest{Query: storage.DashboardQuery{OrgID: a.OrgID}, Period: dashboard.Week, History: url.Values{}}
	bad := func(field, problem string) error { return &storage.ValidationError{Field: field, Problem: problem} }
	date := func(name string) (time.Time, error) {
		v := strings.TrimSpace(c.Query(name))
		if v == "" {
			return time.Time{}, nil
		}
		t, err := time.Parse(time.DateOnly, v)
		if err != nil {
			return t, bad(name, fmt.Sprintf("%q is not a date such as 2026-03-01", v))
		}
		return t, nil
	}
	from, err := date("from")
	if err != nil {
		return r, err
	}
	to, err := date("to")
	if err != nil {
		return r, err
	}
	today := s.now().UTC().Truncate(24 * time.Hour)
	if to.IsZero() {
		to = today
	}
	if from.IsZero() {
		from = to.AddDate(0, 0, -dashboardDefaultDays+1)
	}
	if to.Before(from) {
		return r, bad("to", "must not be before from")
	}
	if to.Sub(from) > 20*366*24*time.Hour {
		return r, bad("from", "the range may span at most 20 years")
	}
	r.From, r.To = from.Format(time.DateOnly), to.Format(time.DateOnly)
	r.Query.From, r.Query.To = from, to.AddDate(0, 0, 1)
	r.History.Set("from", r.From)
	r.History.Set("to", r.To)

	args := c.Context().QueryArgs()
	for _, v := range args.PeekMulti("site") {
		id := strings.TrimSpace(string(v))
		if id == "" {
			continue
		}
		if _, err := s.deps.Org.Site(ctx, a.OrgID, id); err != nil {
			return r, bad("site", fmt.Sprintf("%q is not a site of this organisation", id))
		}
		r.Query.SiteIDs = append(r.Query.SiteIDs, id)
		r.History.Add("site", id)
	}
	if id := strings.TrimSpace(c.Query("team")); id != "" {
		teams, err := s.deps.Org.Teams(ctx, a.OrgID)
		if err != nil {
			return r, err
		}
		if !slices.ContainsFunc(teams, func(t storage.Team) bool { return t.ID == id }) {
			return r, bad("team", fmt.Sprintf("%q is not a team of this organisation", id))
		}
		r.Query.TeamID = id
		r.History.Set("team", id)
	}
	if id := strings.TrimSpace(c.Query("label")); id != "" {
		labels, err := s.deps.Org.Labels(ctx, a.OrgID)
		if err != nil {
			return r, err
		}
		if !slices.ContainsFunc(labels, func(l storage.Label) bool { return l.ID == id }) {
			return r, bad("label", fmt.Sprintf("%q is not a label of this organisation", id))
		}
		r.Query.LabelID = id
		r.History.Set("label", id)
	}
	if id := strings.TrimSpace(c.Query("user")); id != "" {
		if _, err := s.deps.Org.User(ctx, a.OrgID, id); err != nil {
			return r, bad("user", fmt.Sprintf("%q is not a user of this organisation", id))
		}
		r.Query.UserID = id
		r.History.Set("participant", id)
	}
	if o := c.Query("outcome"); o != "" {
		if !storage.ValidOutcome(o) {
			return r, bad("outcome", "must be lower-case letters, digits and underscores")
		}
		r.Query.Outcome = o
		r.History.Set("outcome", o)
	}
	by := storage.DashboardDim(c.Query("by"))
	if !slices.Contains(storage.DashboardDims, by) {
		return r, bad("by", fmt.Sprintf("%q is not a breakdown: site, team, label or user", by))
	}
	r.Query.By = by
	if err := r.Query.Check(); err != nil {
		return r, err
	}
	switch p := dashboard.Period(c.Query("period", string(dashboard.Week))); p {
	case dashboard.Day, dashboard.Week, dashboard.Month:
		r.Period = p
	default:
		return r, bad("period", fmt.Sprintf("%q is not a period: day, week or month", p))
	}
	return r, nil
}

// dashboardReport reads the counts of r and builds its report.
func (s *Server) dashboardReport(c *fiber.Ctx, r dashboardRequest) (dashboard.Report, error) {
	ctx := c.UserContext()
	counts, err := s.deps.Dashboards.DashboardCounts(ctx, r.Query)
	if err != nil {
		return dashboard.Report{}, err
	}
	names, err := s.dashboardNames(ctx, r.Query.OrgID)
	if err != nil {
		return dashboard.Report{}, err
	}
	h, err := s.deps.Org.HistorySettings(ctx, r.Query.OrgID)
	if err != nil {
		return dashboard.Report{}, err
	}
	outcomes := map[string]string{}
	for _, o := range h.Outcomes {
		outcomes[o.Key] = o.Name
	}
	return dashboard.Build(dashboard.Input{Query: r.Query, Period: r.Period, Counts: counts, History: r.History,
		Name:        func(dim storage.DashboardDim, id string) string { return names[dim][id] },
		OutcomeName: func(key string) string { return outcomes[key] },
	}), nil
}

// dashboardNames names the sites, teams, labels and users of an
// organisation.
func (s *Server) dashboardNames(ctx context.Context, orgID string) (map[storage.DashboardDim]map[string]string, error) {
	n := map[storage.DashboardDim]map[string]string{storage.DimSite: {}, storage.DimTeam: {}, storage.DimLabel: {}, storage.DimUser: {}}
	sites, err := s.deps.Org.Sites(ctx, orgID)
	if err != nil {
		return nil, err
	}
	for _, x := range sites {
		n[storage.DimSite][x.ID] = x.Name
	}
	teams, err := s.deps.Org.Teams(ctx, orgID)
	if err != nil {
		return nil, err
	}
	for _, x := range teams {
		n[storage.DimTeam][x.ID] = x.Name
	}
	labels, err := s.deps.Org.Labels(ctx, orgID)
	if err != nil {
		return nil, err
	}
	for _, x := range labels {
		n[storage.DimLabel][x.ID] = x.Name
	}
	users, err := s.deps.Org.Users(ctx, orgID)
	if err != nil {
		return nil, err
	}
	for _, x := range users {
		n[storage.DimUser][x.ID] = x.Name
	}
	return n, nil
}

func (s *Server) apiDashboard(c *fiber.Ctx) error {
	r, err := s.dashboardRequest(c)
	if err != nil {
		return err
	}
	rep, err := s.dashboardReport(c, r)
	if err != nil {
		return err
	}
	return c.JSON(rep)
}

func (s *Server) apiDashboardExport(c *fiber.Ctx) error {
	format := c.Query("format", "csv")
	if format != "csv" && format != "json" {
		return &storage.ValidationError{Field: "format", Problem: "must be csv or json"}
	}
	id := c.Query("chart")
	if !slices.Contains(dashboard.ChartIDs, id) {
		return &storage.ValidationError{Field: "chart", Problem: fmt.Sprintf("%q is not a chart: %s", id, strings.Join(dashboard.ChartIDs, ", "))}
	}
	r, err := s.dashboardRequest(c)
	if err != nil {
		return err
	}
	if id == "breakdown" && r.Query.By == storage.DimNone {
		return &storage.ValidationError{Field: "chart", Problem: "breakdown needs a breakdown (by=site, team, label or user)"}
	}
	rep, err := s.dashboardReport(c, r)
	if err != nil {
		return err
	}
	ch, _ := rep.Chart(id)
	var buf bytes.Buffer
	if format == "csv" {
		c.Set(fiber.HeaderContentType, "text/csv; charset=utf-8")
		err = ch.WriteCSV(&buf)
	} else {
		c.Set(fiber.HeaderContentType, fiber.MIMEApplicationJSONCharsetUTF8)
		err = ch.WriteJSON(&buf)
	}
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderContentDisposition, fmt.Sprintf(`attachment; filename="dashboard-%s-%s-%s.%s"`, ch.ID, r.From, r.To, format))
	c.Set(fiber.HeaderCacheControl, "no-store")
	return c.Send(buf.Bytes())
}

// dashboardData is what the page shows.
type dashboardData struct {
	Req      dashboardRequest
	Report   dashboard.Report
	JSON     template.JS // the report, for the charts
	Sites    []storage.Site
	Teams    []storage.Team
	Labels   []storage.Label
	Users    []storage.User
	Outcomes []storage.OutcomeDef
	Dims     []storage.DashboardDim
	Periods  []dashboard.Period
	// Query is the page's query string, for the export links.
	Query string
}

// Export is the URL of a chart's export in format, with the page's
// filters.
func (d dashboardData) Export(chart, format string) string {
	v, _ := url.ParseQuery(d.Query)
	v.Set("chart", chart)
	v.Set("format", format)
	return APIPrefix + "/dashboard/export?" + v.Encode()
}

func (s *Server) uiDashboard(c *fiber.Ctx) error {
	a, _ := actorOf(c)
	ctx := c.UserContext()
	query, _ := url.ParseQuery(string(c.Context().QueryArgs().QueryString()))
	if clean := withoutEmpty(query); len(clean) != len(query) {
		return c.Redirect("/dashboard?"+clean.Encode(), fiber.StatusSeeOther)
	}
	r, err := s.dashboardRequest(c)
	if err != nil {
		return err
	}
	rep, err := s.dashboardReport(c, r)
	if err != nil {
		return err
	}
	data, err := json.Marshal(rep)
	if err != nil {
		return err
	}
	d := dashboardData{Req: r, Report: rep, JSON: template.JS(data), Dims: storage.DashboardDims,
		Periods: []dashboard.Period{dashboard.Day, dashboard.Week, dashboard.Month}, Query: query.Encode()}
	if d.Sites, err = s.deps.Org.Sites(ctx, a.OrgID); err != nil {
		return err
	}
	if d.Teams, err = s.deps.Org.Teams(ctx, a.OrgID); err != nil {
		return err
	}
	if d.Labels, err = s.deps.Org.Labels(ctx, a.OrgID); err != nil {
		return err
	}
	if d.Users, err = s.deps.Org.Users(ctx, a.OrgID); err != nil {
		return err
	}
	h, err := s.deps.Org.HistorySettings(ctx, a.OrgID)
	if err != nil {
		return err
	}
	d.Outcomes = withOutcome(h, r.Query.Outcome)
	v := s.view(c, "Dashboards", "dashboard")
	v.Data = d
	return s.ui.render(c, fiber.StatusOK, "dashboard", v)
}

// homeDashboard is the start page's summary of the last four weeks; nil
// when the actor may not see the dashboards or the node has none.
func (s *Server) homeDashboard(c *fiber.Ctx, a Actor) *dashboard.Group {
	if s.deps.Dashboards == nil || !s.can(a, policy.XAssistDashboard) {
		return nil
	}
	to := s.now().UTC().Truncate(24*time.Hour).AddDate(0, 0, 1)
	counts, err := s.deps.Dashboards.DashboardCounts(c.UserContext(), storage.DashboardQuery{OrgID: a.OrgID, From: to.AddDate(0, 0, -28), To: to})
	if err != nil {
		s.log.Warn("start page: dashboard", "err", err)
		return nil
	}
	rep := dashboard.Build(dashboard.Input{Counts: counts})
	return &rep.Summary
}
