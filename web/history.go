package web

import (
	"bufio"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"siteline/policy"
	"siteline/storage"
)

// The session history: one query (storage.SessionQuery) read from the URL,
// so that a view of the history can be bookmarked and shared, served as a
// page, as JSON one page at a time, and exported whole as CSV or JSON.

// historyQuery reads the history's query from the URL, scoped to what the
// actor may see: every session of the organisation with
// see-all-call-logs, else the ones they own or took part in
// (see-own-call-logs), else 403.
func (s *Server) historyQuery(c *fiber.Ctx) (storage.SessionQuery, error) {
	a, _ := actorOf(c)
	q := storage.SessionQuery{OrgID: a.OrgID, ViewerID: a.UserID, Sort: storage.SortStart, Desc: true, Limit: sessionPageSize}
	switch {
	case s.can(a, policy.SeeAllCallLogs):
	case s.can(a, policy.SeeOwnCallLogs):
		q.OwnOnly = true
	default:
		return q, &storage.ForbiddenError{Permission: policy.SeeOwnCallLogs}
	}
	args := c.Context().QueryArgs()
	bad := func(field, problem string) error { return &storage.ValidationError{Field: field, Problem: problem} }
	q.Text = strings.TrimSpace(c.Query("q"))
	if len(q.Text) > 200 {
		return q, bad("q", "must be at most 200 characters")
	}
	var err error
	if q.From, err = historyTime(c.Query("from"), false); err != nil {
		return q, bad("from", err.Error())
	}
	if q.To, err = historyTime(c.Query("to"), true); err != nil {
		return q, bad("to", err.Error())
	}
	if b := c.Query("before"); b != "" { // the list's first parameter, kept
		if q.To, err = time.Parse(time.RFC3339, b); err != nil {
			return q, bad("before", "must be an RFC 3339 time, such as 2025-03-01T08:00:00Z")
		}
	}
	if !q.From.IsZero() && !q.To.IsZero() && !q.From.Before(q.To) {
		return q, bad("from", "must be before to")
	}
	q.OwnerID, q.ParticipantID, q.TeamID = c.Query("owner"), c.Query("participant"), c.Query("team")
	for _, v := range args.PeekMulti("label") {
		if id := strings.TrimSpace(string(v)); id != "" {
			q.LabelIDs = append(q.LabelIDs, id)
		}
	}
	for _, v := range args.PeekMulti("site") {
		id := strings.TrimSpace(string(v))
		if id == "" {
			continue
		}
		if _, err := s.deps.Org.Site(c.UserContext(), a.OrgID, id); err != nil {
			return q, bad("site", "is not a site of this organisation")
		}
		q.SiteIDs = append(q.SiteIDs, id)
	}
	switch st := c.Query("status"); st {
	case "", storage.SessionRinging, storage.SessionActive, storage.SessionEnded:
		q.Status = st
	default:
		return q, bad("status", "must be ringing, active or ended")
	}
	if q.Outcome = c.Query("outcome"); !storage.ValidOutcome(q.Outcome) {
		return q, bad("outcome", "must be lower-case letters, digits and underscores")
	}
	if so := c.Query("sort"); so != "" {
		if !slices.Contains(storage.SessionSorts, storage.SessionSort(so)) {
			return q, bad("sort", fmt.Sprintf("must be one of %v", storage.SessionSorts))
		}
		q.Sort = storage.SessionSort(so)
	}
	switch c.Query("order") {
	case "", "desc":
	case "asc":
		q.Desc = false
	default:
		return q, bad("order", "must be asc or desc")
	}
	if l := c.Query("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 1 || n > 500 {
			return q, bad("limit", "must be a number from 1 to 500")
		}
		q.Limit = n
	}
	q.Cursor = c.Query("cursor")
	return q, nil
}

// historyTime reads a date (2006-01-02, the whole day) or an RFC 3339 time;
// end takes a date's next midnight, so that to=the day includes it.
func historyTime(v string, end bool) (time.Time, error) {
	if v == "" {
		return time.Time{}, nil
	}
	if d, err := time.Parse(time.DateOnly, v); err == nil {
		if end {
			d = d.AddDate(0, 0, 1)
		}
		return d, nil
	}
	t, err := time.Parse(time.RFC3339, v)
	if err != nil {
		return t, fmt.Errorf("must be a date (2025-03-01) or an RFC 3339 time")
	}
	return t, nil
}

// historyRow is a session as the history lists it, with the names of its
// site, owner and labels.
type historyRow struct {
	storage.SessionSummary
	SiteName          string         `json:"site_name"`
	OwnerName         string         `json:"owner_name"`
	DurationSec       *int64         `json:"duration_seconds,omitempty"`
	TimeToSolveSec    *int64         `json:"time_to_solve_seconds,omitempty"`
	LabelsNamed       []historyLabel `json:"labels_named"`
	Duration, ToSolve string         `json:"-"`
}

type historyLabel struct {
	ID    string `json:"id"`
	Name  string `json:"name"`
	Color string `json:"color"`
}

// historyNames holds the names the rows show, read once per request.
type historyNames struct {
	sites  map[string]string
	users  map[string]string
	labels map[string]historyLabel
}

func (s *Server) historyNames(ctx context.Context, orgID string) (historyNames, error) {
	n := historyNames{sites: map[string]string{}, users: map[string]string{}, labels: map[string]historyLabel{}}
	sites, err := s.deps.Org.Sites(ctx, orgID)
	if err != nil {
		return n, err
	}
	for _, st := range sites {
		n.sites[st.ID] = st.Name
	}
	users, err := s.deps.Org.Users(ctx, orgID)
	if err != nil {
		return n, err
	}
	for _, u := range users {
		n.users[u.ID] = u.Name
	}
	groups, err := s.deps.Org.LabelGroups(ctx, orgID)
	if err != nil {
		return n, err
	}
	colors := map[string]string{}
	for _, g := range groups {
		colors[g.ID] = g.Color
	}
	labels, err := s.deps.Org.Labels(ctx, orgID)
	if err != nil {
		return n, err
	}
	for _, l := range labels {
		n.labels[l.ID] = historyLabel{ID: l.ID, Name: l.Name, Color: colors[l.GroupID]}
	}
	return n, nil
}

func (n historyNames) row(ss storage.SessionSummary) historyRow {
	r := historyRow{SessionSummary: ss, SiteName: n.sites[ss.SiteID], OwnerName: n.users[ss.OwnerID], LabelsNamed: []historyLabel{}}
	if r.SiteName == "" {
		r.SiteName = ss.SiteID
	}
	if d, ok := ss.Duration(); ok {
		sec := int64(d / time.Second)
		r.DurationSec, r.Duration = &sec, humanDuration(d)
	}
	if d, ok := ss.TimeToSolve(); ok {
		sec := int64(d / time.Second)
		r.TimeToSolveSec, r.ToSolve = &sec, humanDuration(d)
	}
	for _, id := range ss.Labels {
		if l, ok := n.labels[id]; ok {
			r.LabelsNamed = append(r.LabelsNamed, l)
		}
	}
	return r
}

// searchHistory runs q and names its rows.
func (s *Server) searchHistory(ctx context.Context, q storage.SessionQuery) ([]historyRow, string, historyNames, error) {
	page, err := s.deps.History.SearchSessions(ctx, q)
	if err != nil {
		return nil, "", historyNames{}, err
	}
	names, err := s.historyNames(ctx, q.OrgID)
	if err != nil {
		return nil, "", names, err
	}
	rows := make([]historyRow, len(page.Sessions))
	for i, ss := range page.Sessions {
		rows[i] = names.row(ss)
	}
	return rows, page.Next, names, nil
}

// NextCursorHeader carries, on a page of the history API, the cursor of
// the next page (absent on the last one).
const NextCursorHeader = "Siteline-Next-Cursor"

func (s *Server) apiSessions(c *fiber.Ctx) error {
	q, err := s.historyQuery(c)
	if err != nil {
		return err
	}
	rows, next, _, err := s.searchHistory(c.UserContext(), q)
	if err != nil {
		return err
	}
	if next != "" {
		c.Set(NextCursorHeader, next)
	}
	return c.JSON(rows)
}

// exportPage is the size of the pages an export reads.
const exportPage = 500

// csvHeader is the first line of a CSV export.
var csvHeader = []string{"id", "name", "goal", "site", "owner", "status", "started_at", "ended_at",
	"duration_seconds", "time_to_solve_seconds", "outcome", "labels", "notes"}

// apiExport streams the whole history the query selects, as CSV
// (?format=csv, the default) or JSON: page after page from the store,
// written as they come, so that an export of any size starts at once and
// holds one page in memory.
func (s *Server) apiExport(c *fiber.Ctx) error {
	q, err := s.historyQuery(c)
	if err != nil {
		return err
	}
	format := c.Query("format", "csv")
	if format != "csv" && format != "json" {
		return &storage.ValidationError{Field: "format", Problem: "must be csv or json"}
	}
	q.Limit, q.Cursor = exportPage, ""
	// The first page is read before answering, so that a bad query is an
	// error, not a broken download.
	ctx := c.UserContext()
	page, err := s.deps.History.SearchSessions(ctx, q)
	if err != nil {
		return err
	}
	names, err := s.historyNames(ctx, q.OrgID)
	if err != nil {
		return err
	}
	stamp := s.now().UTC().Format("2006-01-02")
	c.Set(fiber.HeaderContentDisposition, fmt.Sprintf(`attachment; filename="sessions-%s.%s"`, stamp, format))
	c.Set(fiber.HeaderCacheControl, "no-store")
	if format == "csv" {
		c.Set(fiber.HeaderContentType, "text/csv; charset=utf-8")
	} else {
		c.Set(fiber.HeaderContentType, fiber.MIMEApplicationJSONCharsetUTF8)
	}
	log := s.log
	c.Context().SetBodyStreamWriter(func(w *bufio.Writer) {
		ew := newExportWriter(w, format)
		for {
			for _, ss := range page.Sessions {
				if err := ew.row(names.row(ss)); err != nil {
					log.Warn("history export: the client went away", "err", err)
					return
				}
			}
			if err := w.Flush(); err != nil {
				return
			}
			if page.Next == "" {
				break
			}
			q.Cursor = page.Next
			if page, err = s.deps.History.SearchSessions(ctx, q); err != nil {
				log.Error("history export cut short", "err", err)
				return
			}
		}
		if err := ew.end(); err == nil {
			_ = w.Flush()
		}
	})
	return nil
}

// exportWriter writes rows as CSV or as one JSON array.
type exportWriter struct {
	w      *bufio.Writer
	csv    *csv.Writer
	enc    *json.Encoder
	first  bool
	format string
}

func newExportWriter(w *bufio.Writer, format string) *exportWriter {
	ew := &exportWriter{w: w, format: format, first: true}
	if format == "csv" {
		ew.csv = csv.NewWriter(w)
	} else {
		ew.enc = json.NewEncoder(w)
	}
	return ew
}

func (ew *exportWriter) row(r historyRow) error {
	if ew.format == "csv" {
		if ew.first {
			ew.first = false
			if err := ew.csv.Write(csvHeader); err != nil {
				return err
			}
		}
		var labels []string
		for _, l := range r.LabelsNamed {
			labels = append(labels, l.Name)
		}
		ew.csv.Write([]string{r.ID, csvSafe(r.Name), csvSafe(r.Goal), csvSafe(r.SiteName), csvSafe(r.OwnerName), r.Status,
			r.StartedAt.UTC().Format(time.RFC3339), optRFC3339(r.EndedAt), optSeconds(r.DurationSec),
			optSeconds(r.TimeToSolveSec), r.Outcome, csvSafe(strings.Join(labels, "; ")), csvSafe(r.Notes)})
		ew.csv.Flush()
		return ew.csv.Error()
	}
	sep := ","
	if ew.first {
		ew.first, sep = false, "["
	}
	if _, err := ew.w.WriteString(sep); err != nil {
		return err
	}
	return ew.enc.Encode(r)
}

// end closes the export: the header of an empty CSV, the JSON array.
func (ew *exportWriter) end() error {
	if ew.format == "csv" {
		if ew.first {
			ew.csv.Write(csvHeader)
			ew.csv.Flush()
		}
		return ew.csv.Error()
	}
	if ew.first {
		_, err := ew.w.WriteString("[]\n")
		return err
	}
	_, err := ew.w.WriteString("]\n")
	return err
}

// csvSafe keeps a spreadsheet from reading a cell as a formula.
func csvSafe(v string) string {
	if v != "" && strings.ContainsRune("=+-@\t\r", rune(v[0])) {
		return "'" + v
	}
	return v
}

func optRFC3339(t *time.Time) string {
	if t == nil {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

func optSeconds(s *int64) string {
	if s == nil {
		return ""
	}
	return strconv.FormatInt(*s, 10)
}

// historyURL is the history page's URL for q with one parameter changed
// (set) or removed (value "").
func historyURL(base url.Values, key, value string) string {
	v := url.Values{}
	for k, vs := range base {
		v[k] = slices.Clone(vs)
	}
	switch {
	case key == "":
	case value == "":
		v.Del(key)
	default:
		v.Set(key, value)
	}
	if key != "cursor" {
		v.Del("cursor")
	}
	if len(v) == 0 {
		return "/sessions"
	}
	return "/sessions?" + v.Encode()
}

// sortURL is the history page's URL sorted on col: descending first, the
// other way round when it is the column sorted on already.
func sortURL(base url.Values, col string, q storage.SessionQuery) string {
	order := "desc"
	if string(q.Sort) == col && q.Desc {
		order = "asc"
	}
	v := url.Values{}
	for k, vs := range base {
		v[k] = slices.Clone(vs)
	}
	v.Del("cursor")
	v.Set("sort", col)
	v.Set("order", order)
	return "/sessions?" + v.Encode()
}

// sortMark is "asc" or "desc" for the column sorted on, "" for the others.
func sortMark(q storage.SessionQuery, col string) string {
	switch {
	case string(q.Sort) != col:
		return ""
	case q.Desc:
		return "desc"
	}
	return "asc"
}
