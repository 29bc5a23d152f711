package web

import (
	"bytes"
	"fmt"
	"html/template"
	"io/fs"
	"path"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/utils"

	"siteline/policy"
	"siteline/storage"
)

// Rendering the backoffice: the parsed templates, the layout data every
// page receives (view), and the error page.

// pages holds the backoffice templates: the layout with the partials,
// parsed at start, and one template set per page, the layout plus that
// page, parsed the first time the page is rendered. A page's set copies
// the layout's parse trees (about 150 KB each, some forty pages); a node
// that serves calls and few backoffice pages keeps only those it showed.
// The templates are embedded, so a page that does not parse is a defect
// of the build, which TestPagesParse finds for every page.
type pages struct {
	base   *template.Template // layout and partials; cloned, never executed
	files  map[string]string  // page name to its file
	assets map[string]asset

	mu   sync.Mutex
	sets map[string]*template.Template
}

// newPages parses the layout and lists the page templates.
func newPages() (*pages, error) {
	assets, err := assetTable()
	if err != nil {
		return nil, err
	}
	p := &pages{files: map[string]string{}, sets: map[string]*template.Template{}, assets: assets}
	// The layout and the partials (files named _*.html) are shared by
	// every page.
	p.base, err = template.New(layoutFile).Funcs(p.funcs()).ParseFS(uiFiles,
		path.Join(templateDir, layoutFile), path.Join(templateDir, "_*.html"))
	if err != nil {
		return nil, fmt.Errorf("parse layout: %w", err)
	}
	files, err := fs.Glob(uiFiles, path.Join(templateDir, "*.html"))
	if err != nil {
		return nil, err
	}
	for _, f := range files {
		if path.Base(f) == layoutFile || strings.HasPrefix(path.Base(f), "_") {
			continue
		}
		p.files[strings.TrimSuffix(path.Base(f), ".html")] = f
	}
	return p, nil
}

// set returns the template set of page, parsing it on first use.
func (p *pages) set(page string) (*template.Template, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if set, ok := p.sets[page]; ok {
		return set, nil
	}
	f, ok := p.files[page]
	if !ok {
		return nil, fmt.Errorf("no page template %q", page)
	}
	set, err := p.base.Clone()
	if err != nil {
		return nil, fmt.Errorf("parse page %s: %w", page, err)
	}
	if _, err := set.ParseFS(uiFiles, f); err != nil {
		return nil, fmt.Errorf("parse page %s: %w", page, err)
	}
	if set.Lookup("content") == nil {
		return nil, fmt.Errorf("page %s defines no \"content\" template", page)
	}
	p.sets[page] = set
	return set, nil
}

func (p *pages) funcs() template.FuncMap {
	return template.FuncMap{
		"asset": func(name string) (string, error) {
			a, ok := p.assets[name]
			if !ok {
				return "", fmt.Errorf("no static file %q", name)
			}
			return a.versioned, nil
		},
		"initials":   initials,
		"when":       formatTime,
		"whenp":      func(t *time.Time) string { return formatTimePtr(t) },
		"chip":       chipStyle,
		"swatch":     func(c string) string { return normColor(c) },
		"roleClass":  roleClass,
		"join":       strings.Join,
		"add":        func(a, b int) int { return a + b },
		"historyURL": historyURL,
		"sortURL":    sortURL,
		"sortMark":   sortMark,
		"reportValues": func(h storage.HistorySettings, values map[string]string) []storage.FieldValue {
			return h.FieldValues(values)
		},
		"contactForm": func(f *formState, name string, users []storage.User) contactFieldsData {
			return contactFieldsData{F: f, Name: name, Users: users}
		},
		"contactEdit": func(f *formState, c storage.Contact, users []storage.User) contactFieldsData {
			return contactFieldsData{F: f, Name: "edit", Users: users, Def: map[string]string{
				"name": c.Name, "company": c.Company, "email": c.Email, "phone": c.Phone, "notes": c.Notes, "user_id": c.UserID,
			}}
		},
		"plural": func(n int, one, many string) string {
			if n == 1 {
				return "1 " + one
			}
			return strconv.Itoa(n) + " " + many
		},
		"title": func(s string) string {
			s = strings.ReplaceAll(s, "_", " ")
			if s == "" {
				return s
			}
			return strings.ToUpper(s[:1]) + s[1:]
		},
	}
}

// render executes a page into the response.
func (p *pages) render(c *fiber.Ctx, status int, page string, v *view) error {
	set, err := p.set(page)
	if err != nil {
		return fmt.Errorf("render: %w", err)
	}
	layout := "layout"
	if !v.LoggedIn {
		layout = "shell"
	}
	var buf bytes.Buffer
	if err := set.ExecuteTemplate(&buf, layout, v); err != nil {
		return fmt.Errorf("render page %s: %w", page, err)
	}
	c.Set(fiber.HeaderCacheControl, "no-store")
	c.Set(fiber.HeaderContentType, fiber.MIMETextHTMLCharsetUTF8)
	return c.Status(status).Send(buf.Bytes())
}

// renderError answers a failed page request: the status, the message and,
// for 403, the permission that is missing, inside the normal layout when
// someone is logged in.
func (p *pages) renderError(c *fiber.Ctx, s *Server, he *Error) error {
	if _, ok := actorOf(c); !ok {
		// Requests no route matched never went through authenticate;
		// resolve the session here so a logged-in user keeps the layout.
		if v := c.Cookies(SessionCookie); v != "" {
			if a, sess, ok := s.sessionActor(c, v); ok {
				c.Locals(localActor, a)
				c.Locals(localSession, sess)
			}
		}
	}
	v := s.view(c, statusTitle(he.Status), "")
	d := errorData{Status: he.Status, Message: he.Message, Permission: he.Permission, Code: he.Code}
	if p, ok := policy.Lookup(he.Permission); ok {
		d.Meaning = p.Area + " · " + p.FeatureSet + ": " + p.Meaning
	}
	v.Data = d
	if err := p.render(c, he.Status, "error", v); err != nil {
		s.log.Error("render error page", "err", err)
		return c.Status(he.Status).SendString(he.Message)
	}
	return nil
}

type errorData struct {
	Status     int
	Code       string
	Message    string
	Permission string
	Meaning    string // what the missing permission allows, from the catalogue
}

func statusTitle(status int) string {
	switch status {
	case fiber.StatusUnauthorized:
		return "Please log in"
	case fiber.StatusForbidden:
		return "Access denied"
	case fiber.StatusNotFound:
		return "Not found"
	case fiber.StatusGone:
		return "No longer available"
	case fiber.StatusTooManyRequests:
		return "Too many attempts"
	case fiber.StatusServiceUnavailable:
		return "Temporarily unavailable"
	}
	if t := utils.StatusMessage(status); t != "" {
		return t
	}
	return "Error"
}

// view is what every page template receives: the layout's data and the
// page's own in Data.
type view struct {
	Title    string
	Section  string // the navigation entry to highlight
	LoggedIn bool
	Actor    Actor
	OrgName  string
	Nav      nav
	CSRF     string
	Flash    string
	Form     *formState
	Version  string
	Data     any
}

// nav says which navigation entries the actor may see.
type nav struct {
	Home, Contacts, Users, Teams, Labels, Policy, Audit, Cluster bool
	// Sessions shows the session history; Reports the service reports.
	Sessions, Reports bool
	// Invite shows the invite dialog: service requests, guests.
	Invite bool
	// InviteSMS offers SMS in it: the node has an SMS provider.
	InviteSMS bool
	// Supervision shows the live team dashboard.
	Supervision bool
	// SSO shows the single sign-on settings.
	SSO bool
	// Dashboard shows the dashboards.
	Dashboard bool
}

// SMSChannel is implemented by the Invites of a node that can tell
// whether it sends SMS; the invite dialog offers SMS only when it does.
type SMSChannel interface {
	// SMSConfigured says why no SMS can be sent, nil when they can.
	SMSConfigured() error
}

// smsConfigured tells whether invitations can go by SMS.
func (s *Server) smsConfigured() bool {
	sc, ok := s.deps.Invites.(SMSChannel)
	return ok && sc.SMSConfigured() == nil
}

// Admin reports whether any administration entry is visible.
func (n nav) Admin() bool {
	return n.Users || n.Teams || n.Labels || n.Policy || n.Audit || n.Cluster || n.SSO
}

// view builds the layout data for the request's actor.
func (s *Server) view(c *fiber.Ctx, title, section string) *view {
	v := &view{Title: title, Section: section, Version: s.deps.Version, Form: &formState{}}
	a, ok := actorOf(c)
	if !ok {
		return v
	}
	v.LoggedIn = true
	v.Actor = a
	if sess, ok := sessionOf(c); ok {
		v.CSRF = sess.CSRFToken
	}
	if org, err := s.deps.Org.Org(c.UserContext(), a.OrgID); err == nil {
		v.OrgName = org.Name
	}
	v.Nav = nav{
		Home:     s.can(a, policy.HomeDashboardAccess),
		Contacts: s.can(a, policy.ContactList),
		Sessions: s.can(a, policy.CallLogs),
		Reports:  s.deps.Reports != nil && s.deps.Calls != nil && s.can(a, policy.ServiceReports),
		Users:    s.can(a, policy.AdminMembers),
		Teams:    s.can(a, policy.AdminTeams),
		Labels:   s.can(a, policy.AdminLabels),
		Policy:   s.can(a, policy.AdminPolicies),
		Audit:    s.can(a, policy.AdminAuditLog),
		Cluster:  s.can(a, policy.AdminFederation),
		Invite:   s.can(a, policy.InviteGuestUsers),

		Supervision: s.deps.Supervision != nil && s.can(a, policy.TeamDashboard),
		SSO:         s.deps.SSOAdmin != nil && s.can(a, policy.AdminSSO),
		Dashboard:   s.deps.Dashboards != nil && s.can(a, policy.XAssistDashboard),
	}
	v.Nav.InviteSMS = s.smsConfigured()
	if c.Method() == fiber.MethodGet {
		v.Flash = takeFlash(c)
	}
	return v
}
