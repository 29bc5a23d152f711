package web

import (
	"context"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"siteline/policy"
	"siteline/storage"
)

// SessionHistory lists sessions: a plant's own and, at headquarters, every
// plant's as forwarded there (each keeps its site). The node's store
// implements it.
type SessionHistory interface {
	ListSessions(ctx context.Context, f storage.SessionFilter) ([]storage.Session, error)
}

const (
	sessionPageSize = 100
	sessionMaxLimit = 1000
)

// sessionOut is a session with the name of its site.
type sessionOut struct {
	storage.Session
	SiteName string `json:"site_name"`
}

func (s *Server) sessionRoutes() []route {
	return []route{
		{method: "GET", path: APIPrefix + "/sessions", perm: policy.CallLogs,
			summary: "Session history, newest first (?site=&status=&before=RFC3339&limit=n): every site's with see-all-call-logs, else the caller's own",
			out:     []sessionOut{}, handler: s.apiSessions},
		{method: "GET", path: "/sessions", perm: policy.CallLogs, page: true, summary: "Session history", handler: s.uiSessions},
	}
}

// sessionFilter reads the query into a filter the actor may use: all the
// organisation's sessions with see-all-call-logs, else only the ones the
// actor created or took part in (see-own-call-logs), else 403.
func (s *Server) sessionFilter(c *fiber.Ctx) (storage.SessionFilter, error) {
	a, _ := actorOf(c)
	f := storage.SessionFilter{OrgID: a.OrgID, Limit: sessionPageSize}
	switch {
	case s.can(a, policy.SeeAllCallLogs):
	case s.can(a, policy.SeeOwnCallLogs):
		f.UserID = a.UserID
	default:
		return f, &storage.ForbiddenError{Permission: policy.SeeOwnCallLogs}
	}
	if site := strings.TrimSpace(c.Query("site")); site != "" {
		st, err := s.deps.Org.Site(c.UserContext(), a.OrgID, site)
		if err != nil {
			return f, &storage.ValidationError{Field: "site", Problem: "is not a site of this organisation"}
		}
		f.SiteID = st.ID
	}
	switch st := c.Query("status"); st {
	case "", storage.SessionRinging, storage.SessionActive, storage.SessionEnded:
		f.Status = st
	default:
		return f, &storage.ValidationError{Field: "status", Problem: "must be ringing, active or ended"}
	}
	if b := c.Query("before"); b != "" {
		t, err := time.Parse(time.RFC3339, b)
		if err != nil {
			return f, &storage.ValidationError{Field: "before", Problem: "must be an RFC 3339 time, such as 2025-03-01T08:00:00Z"}
		}
		f.Before = t
	}
	if l := c.Query("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 1 || n > sessionMaxLimit {
			return f, &storage.ValidationError{Field: "limit", Problem: "must be a number from 1 to " + strconv.Itoa(sessionMaxLimit)}
		}
		f.Limit = n
	}
	return f, nil
}

// listSessions lists what the filter selects, with site names.
func (s *Server) listSessions(c *fiber.Ctx, f storage.SessionFilter) ([]sessionOut, []storage.Site, error) {
	list, err := s.deps.History.ListSessions(c.UserContext(), f)
	if err != nil {
		return nil, nil, err
	}
	sites, err := s.deps.Org.Sites(c.UserContext(), f.OrgID)
	if err != nil {
		return nil, nil, err
	}
	names := map[string]string{}
	for _, st := range sites {
		names[st.ID] = st.Name
	}
	out := make([]sessionOut, len(list))
	for i, ss := range list {
		out[i] = sessionOut{Session: ss, SiteName: names[ss.SiteID]}
		if out[i].SiteName == "" {
			out[i].SiteName = ss.SiteID
		}
	}
	return out, sites, nil
}

func (s *Server) apiSessions(c *fiber.Ctx) error {
	f, err := s.sessionFilter(c)
	if err != nil {
		return err
	}
	out, _, err := s.listSessions(c, f)
	if err != nil {
		return err
	}
	return c.JSON(out)
}

type sessionsData struct {
	Sessions []sessionOut
	Sites    []storage.Site
	Site     string
	Status   string
	All      bool // the actor sees every session of the organisation
	Limit    int
	PDF      bool // each session's PDF report can be downloaded
}

func (s *Server) uiSessions(c *fiber.Ctx) error {
	f, err := s.sessionFilter(c)
	if err != nil {
		return err
	}
	out, sites, err := s.listSessions(c, f)
	if err != nil {
		return err
	}
	v := s.view(c, "Sessions", "sessions")
	v.Data = sessionsData{Sessions: out, Sites: sites, Site: f.SiteID, Status: f.Status, All: f.UserID == "", Limit: f.Limit,
		PDF: s.deps.Reports != nil && s.deps.Calls != nil}
	return s.ui.render(c, fiber.StatusOK, "sessions", v)
}
