package web

import (
	"context"
	"net/url"
	"slices"
	"strings"

	"github.com/gofiber/fiber/v2"

	"siteline/policy"
	"siteline/storage"
)

// SessionHistory searches the session history: a plant's own and, at
// headquarters, every plant's as forwarded there (each keeps its site).
// The node's store implements it.
type SessionHistory interface {
	SearchSessions(ctx context.Context, q storage.SessionQuery) (storage.SessionPage, error)
}

const sessionPageSize = 50

// sessionOut is a session with the name of its site.
type sessionOut struct {
	storage.Session
	SiteName string `json:"site_name"`
}

func (s *Server) sessionRoutes() []route {
	return []route{
		{method: "GET", path: APIPrefix + "/sessions", perm: policy.CallLogs,
			summary: "Session history (?q=words&from=&to=&owner=&participant=&label=&site=&status=&outcome=&sort=&order=asc|desc&limit=&cursor=): every site's with see-all-call-logs, else the caller's own; the next page's cursor is in the " + NextCursorHeader + " header",
			out:     []historyRow{}, handler: s.apiSessions},
		{method: "GET", path: APIPrefix + "/sessions/export", perm: policy.ExportCallLog,
			summary: "The whole history the same query selects, streamed as CSV (?format=csv) or JSON (?format=json)",
			handler: s.apiExport},
		{method: "GET", path: "/sessions", perm: policy.CallLogs, page: true, summary: "Session history", handler: s.uiSessions},
	}
}

type sessionsData struct {
	Sessions []historyRow
	Sites    []storage.Site
	Users    []storage.User
	Labels   []historyLabel
	Query    storage.SessionQuery
	// URL is the page's query, to build the links that change it.
	URL       url.Values
	Next      string // the next page's URL, "" on the last page
	Label     string // the label filtered on, if one
	Site      string // the site filtered on, if one
	All       bool   // the actor sees every session of the organisation
	PDF       bool   // each session's PDF report can be downloaded
	CanExport bool
	// Outcomes are the organisation's, the one filtered on after them if
	// its list no longer has it; OutcomeNames name the outcomes the rows
	// show (a key no longer in the list shows as itself).
	Outcomes     []storage.OutcomeDef
	OutcomeNames map[string]string
	// From and To are the date filters as typed; ExportCSV and ExportJSON
	// export what the page shows.
	From, To              string
	ExportCSV, ExportJSON string
}

func (s *Server) uiSessions(c *fiber.Ctx) error {
	a, _ := actorOf(c)
	// The filter form sends every field; the URL to bookmark keeps the
	// ones that filter.
	query, _ := url.ParseQuery(string(c.Context().QueryArgs().QueryString()))
	if clean := withoutEmpty(query); len(clean) != len(query) {
		return c.Redirect(historyURL(clean, "", ""), fiber.StatusSeeOther)
	}
	q, err := s.historyQuery(c)
	if err != nil {
		return err
	}
	rows, next, names, err := s.searchHistory(c.UserContext(), q)
	if err != nil {
		return err
	}
	d := sessionsData{Sessions: rows, Query: q, URL: query, All: !q.OwnOnly,
		PDF: s.deps.Reports != nil && s.deps.Calls != nil, CanExport: s.can(a, policy.ExportCallLog),
		From: query.Get("from"), To: query.Get("to")}
	h, err := s.deps.Org.HistorySettings(c.UserContext(), a.OrgID)
	if err != nil {
		return err
	}
	d.Outcomes, d.OutcomeNames = withOutcome(h, q.Outcome), map[string]string{}
	for _, o := range h.Outcomes {
		d.OutcomeNames[o.Key] = o.Name
	}
	export := url.Values{}
	for k, vs := range query {
		if k != "cursor" && k != "limit" {
			export[k] = vs
		}
	}
	export.Set("format", "csv")
	d.ExportCSV = APIPrefix + "/sessions/export?" + export.Encode()
	export.Set("format", "json")
	d.ExportJSON = APIPrefix + "/sessions/export?" + export.Encode()
	if next != "" {
		d.Next = historyURL(query, "cursor", next)
	}
	if len(q.LabelIDs) > 0 {
		d.Label = q.LabelIDs[0]
	}
	if len(q.SiteIDs) > 0 {
		d.Site = q.SiteIDs[0]
	}
	if d.Sites, err = s.deps.Org.Sites(c.UserContext(), a.OrgID); err != nil {
		return err
	}
	if d.All {
		if d.Users, err = s.deps.Org.Users(c.UserContext(), a.OrgID); err != nil {
			return err
		}
	}
	for _, l := range names.labels {
		d.Labels = append(d.Labels, l)
	}
	slices.SortFunc(d.Labels, func(x, y historyLabel) int { return strings.Compare(x.Name, y.Name) })
	v := s.view(c, "Sessions", "sessions")
	v.Data = d
	return s.ui.render(c, fiber.StatusOK, "sessions", v)
}

// withoutEmpty is query without its empty values.
func withoutEmpty(query url.Values) url.Values {
	out := url.Values{}
	for k, vs := range query {
		for _, v := range vs {
			if v != "" {
				out.Add(k, v)
			}
		}
	}
	return out
}
