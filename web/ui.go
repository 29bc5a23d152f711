package web

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"mime"
	"net/url"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/utils"

	"siteline/policy"
	"siteline/storage"
)

// uiFiles holds the backoffice templates and static files. It is read-only;
// everything derived from it (parsed templates, versioned asset names) is
// computed by newPages and assetTable and held by their callers.
//
//go:embed ui/templates/*.html ui/static/*
var uiFiles embed.FS

const (
	templateDir = "ui/templates"
	staticDir   = "ui/static"
	// layoutFile holds the shared layout, the public shell and the icons;
	// every other template file is one page.
	layoutFile = "layout.html"
	// flashCookie carries the one-line message shown after a
	// POST-redirect-GET. __Host- keeps it to this host over HTTPS.
	flashCookie = "__Host-siteline-flash"
)

// asset is one static file, served under a name carrying its content hash so
// that browsers may cache it for a year.
type asset struct {
	name      string // "app.css"
	versioned string // "/static/app.3f2a1c9b.css"
	ctype     string
	body      []byte
}

// assetTable reads the embedded static files and names each by its hash.
func assetTable() (map[string]asset, error) {
	entries, err := fs.ReadDir(uiFiles, staticDir)
	if err != nil {
		return nil, fmt.Errorf("read static files: %w", err)
	}
	out := make(map[string]asset, len(entries))
	for _, e := range entries {
		if e.IsDir() {
			continue
		}
		body, err := uiFiles.ReadFile(path.Join(staticDir, e.Name()))
		if err != nil {
			return nil, fmt.Errorf("read static file %s: %w", e.Name(), err)
		}
		sum := sha256.Sum256(body)
		ext := path.Ext(e.Name())
		ctype := mime.TypeByExtension(ext)
		switch ext { // do not depend on the host's mime.types
		case ".css":
			ctype = "text/css; charset=utf-8"
		case ".js":
			ctype = "text/javascript; charset=utf-8"
		case ".svg":
			ctype = "image/svg+xml"
		}
		if ctype == "" {
			ctype = "application/octet-stream"
		}
		out[e.Name()] = asset{
			name:      e.Name(),
			versioned: "/static/" + strings.TrimSuffix(e.Name(), ext) + "." + hex.EncodeToString(sum[:4]) + ext,
			ctype:     ctype,
			body:      body,
		}
	}
	return out, nil
}

// mountStatic serves the static files at their versioned names with long
// cache headers, and the favicon at /favicon.ico.
func mountStatic(app *fiber.App) {
	assets, err := assetTable()
	if err != nil {
		// newPages reads the same files first and fails New; this cannot
		// happen with a binary that got this far.
		panic(err)
	}
	for _, a := range assets {
		app.Get(a.versioned, serveAsset(a, "public, max-age=31536000, immutable"))
	}
	if fav, ok := assets["favicon.svg"]; ok {
		app.Get("/favicon.ico", serveAsset(fav, "public, max-age=86400"))
	}
}

func serveAsset(a asset, cacheControl string) fiber.Handler {
	etag := `"` + strings.TrimSuffix(path.Base(a.versioned), path.Ext(a.versioned)) + `"`
	return func(c *fiber.Ctx) error {
		c.Set(fiber.HeaderCacheControl, cacheControl)
		c.Set(fiber.HeaderETag, etag)
		if c.Get(fiber.HeaderIfNoneMatch) == etag {
			return c.SendStatus(fiber.StatusNotModified)
		}
		c.Set(fiber.HeaderContentType, a.ctype)
		return c.Send(a.body)
	}
}

// pages holds the parsed backoffice templates: one template set per page,
// each the layout plus that page.
type pages struct {
	sets   map[string]*template.Template
	assets map[string]asset
}

// newPages parses every page template with the layout.
func newPages() (*pages, error) {
	assets, err := assetTable()
	if err != nil {
		return nil, err
	}
	p := &pages{sets: map[string]*template.Template{}, assets: assets}
	// The layout and the partials (files named _*.html) are shared by
	// every page.
	base, err := template.New(layoutFile).Funcs(p.funcs()).ParseFS(uiFiles,
		path.Join(templateDir, layoutFile), path.Join(templateDir, "_*.html"))
	if err != nil {
		return nil, fmt.Errorf("parse layout: %w", err)
	}
	files, err := fs.Glob(uiFiles, path.Join(templateDir, "*.html"))
	if err != nil {
		return nil, err
	}
	for _, f := range files {
		name := strings.TrimSuffix(path.Base(f), ".html")
		if path.Base(f) == layoutFile || strings.HasPrefix(path.Base(f), "_") {
			continue
		}
		set, err := base.Clone()
		if err != nil {
			return nil, err
		}
		if _, err := set.ParseFS(uiFiles, f); err != nil {
			return nil, fmt.Errorf("parse page %s: %w", name, err)
		}
		if set.Lookup("content") == nil {
			return nil, fmt.Errorf("page %s defines no \"content\" template", name)
		}
		p.sets[name] = set
	}
	return p, nil
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
		"initials":  initials,
		"when":      formatTime,
		"whenp":     func(t *time.Time) string { return formatTimePtr(t) },
		"chip":      chipStyle,
		"swatch":    func(c string) string { return normColor(c) },
		"roleClass": roleClass,
		"join":      strings.Join,
		"add":       func(a, b int) int { return a + b },
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
	set, ok := p.sets[page]
	if !ok {
		return fmt.Errorf("render: no page template %q", page)
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
	// Sessions shows the session history.
	Sessions bool
	// Invite shows the invite dialog: service requests, guests.
	Invite bool
}

// Admin reports whether any administration entry is visible.
func (n nav) Admin() bool {
	return n.Users || n.Teams || n.Labels || n.Policy || n.Audit || n.Cluster
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
		Users:    s.can(a, policy.AdminMembers),
		Teams:    s.can(a, policy.AdminTeams),
		Labels:   s.can(a, policy.AdminLabels),
		Policy:   s.can(a, policy.AdminPolicies),
		Audit:    s.can(a, policy.AdminAuditLog),
		Cluster:  s.can(a, policy.AdminFederation),
		Invite:   s.can(a, policy.InviteGuestUsers),
	}
	if c.Method() == fiber.MethodGet {
		v.Flash = takeFlash(c)
	}
	return v
}

// setFlash stores a message for the next page the browser shows.
func setFlash(c *fiber.Ctx, msg string) {
	c.Cookie(&fiber.Cookie{
		Name: flashCookie, Value: url.QueryEscape(msg), Path: "/",
		MaxAge: 60, Secure: true, HTTPOnly: true, SameSite: fiber.CookieSameSiteLaxMode,
	})
}

// takeFlash reads and clears the flash message.
func takeFlash(c *fiber.Ctx) string {
	raw := c.Cookies(flashCookie)
	if raw == "" {
		return ""
	}
	c.Cookie(&fiber.Cookie{
		Name: flashCookie, Value: "", Path: "/", Expires: time.Unix(1, 0),
		Secure: true, HTTPOnly: true, SameSite: fiber.CookieSameSiteLaxMode,
	})
	msg, err := url.QueryUnescape(raw)
	if err != nil {
		return ""
	}
	return truncate(msg, 300)
}

// done ends a successful form post: a flash message and a redirect (POST,
// redirect, GET).
func done(c *fiber.Ctx, to, msg string) error {
	if msg != "" {
		setFlash(c, msg)
	}
	return c.Redirect(to, fiber.StatusSeeOther)
}

// formState is a submitted form that failed: which form, what was typed
// and what was wrong, so the page can show it again with the message.
// Passwords are never kept.
type formState struct {
	Name   string
	Values map[string][]string
	Err    string
	Field  string
}

// readForm keeps the named fields of the request (copied: fiber reuses its
// buffers after the handler returns).
func readForm(c *fiber.Ctx, name string, fields ...string) *formState {
	f := &formState{Name: name, Values: map[string][]string{}}
	args := c.Request().PostArgs()
	for _, k := range fields {
		for _, v := range args.PeekMulti(k) {
			f.Values[k] = append(f.Values[k], strings.TrimSpace(string(v)))
		}
	}
	return f
}

// V returns the first value of a field.
func (f *formState) V(key string) string {
	if f == nil || len(f.Values[key]) == 0 {
		return ""
	}
	return f.Values[key][0]
}

// All returns every value of a field (checkboxes).
func (f *formState) All(key string) []string {
	if f == nil {
		return nil
	}
	return f.Values[key]
}

// Is reports whether this is the named form.
func (f *formState) Is(name string) bool { return f != nil && f.Name == name }

// Get returns a field of the named form, "" when another form failed.
func (f *formState) Get(name, key string) string {
	if !f.Is(name) {
		return ""
	}
	return f.V(key)
}

// Or returns what was typed into the named form, else def (the stored
// value that an edit form starts with).
func (f *formState) Or(name, key, def string) string {
	if !f.Is(name) {
		return def
	}
	return f.V(key)
}

// Checked tells whether a checkbox or option is on: as submitted when this
// form failed, else def.
func (f *formState) Checked(name, key, value string, def bool) bool {
	if !f.Is(name) {
		return def
	}
	for _, v := range f.Values[key] {
		if v == value {
			return true
		}
	}
	return false
}

// Bad reports whether the named form's error is about this field.
func (f *formState) Bad(name, key string) bool { return f.Is(name) && f.Field == key }

// Error returns the message of the named form's error.
func (f *formState) Error(name string) string {
	if !f.Is(name) {
		return ""
	}
	return f.Err
}

// formError tells errors a form shows to the user (bad input, a conflict,
// federation unreachable, an unknown outcome, a wrong password) from those
// that make an error page (not found, forbidden, internal).
func formError(err error) (status int, field string, ok bool) {
	var ve *storage.ValidationError
	if errors.As(err, &ve) {
		return fiber.StatusBadRequest, ve.Field, true
	}
	var tm *TooManyError
	switch {
	case errors.As(err, &tm):
		return fiber.StatusTooManyRequests, "", true
	case errors.Is(err, storage.ErrInvalid):
		return fiber.StatusBadRequest, "", true
	case errors.Is(err, storage.ErrConflict):
		return fiber.StatusConflict, "", true
	case errors.Is(err, storage.ErrFederationUnreachable): // ErrOutcomeUnknown too
		return fiber.StatusServiceUnavailable, "", true
	case errors.Is(err, storage.ErrUnauthenticated):
		return fiber.StatusBadRequest, "", true
	}
	return 0, "", false
}

// failed shows a form again with the error, or passes errors that are not
// about the input on to the error page.
func failed(c *fiber.Ctx, f *formState, err error, show func(*fiber.Ctx, int, *formState) error) error {
	status, field, ok := formError(err)
	if !ok {
		return err
	}
	var ve *storage.ValidationError
	switch {
	case errors.As(err, &ve):
		f.Err = fieldLabel(ve.Field) + " " + ve.Problem
	case errors.Is(err, storage.ErrOutcomeUnknown):
		f.Err = "The change was sent but no answer came back: it may still be applied. Reload the page to check before trying again."
	default:
		f.Err = sentence(err.Error())
	}
	if f.Field == "" {
		f.Field = field
	}
	return show(c, status, f)
}

// fieldLabel names a form field the way its label on the page does.
func fieldLabel(field string) string {
	switch field {
	case "email":
		return "E-mail"
	case "current":
		return "The password you typed"
	case "new", "password":
		return "The new password"
	case "confirm":
		return "The repeated password"
	case "ttl":
		return "The expiry"
	case "user_id":
		return "The user"
	case "group_id":
		return "The group"
	case "color":
		return "The colour"
	case "roles", "role":
		return "The role"
	}
	return sentence(strings.ReplaceAll(field, "_", " "))
}

// invalid is a form error found by the page itself.
func invalid(field, problem string) error {
	return &storage.ValidationError{Field: field, Problem: problem}
}

// sentence capitalises a message for display and drops the name of the
// error kind that wrapping leaves at its end ("...: conflict").
func sentence(s string) string {
	for _, kind := range []error{storage.ErrConflict, storage.ErrInvalid, storage.ErrNotFound} {
		s = strings.TrimSuffix(s, ": "+kind.Error())
	}
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// localPath accepts a redirect target only when it stays on this site: a
// path beginning with one "/" (not "//", not "/\").
func localPath(next string) (string, bool) {
	if !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") || strings.ContainsAny(next, "\\\r\n\t") {
		return "", false
	}
	u, err := url.Parse(next)
	if err != nil || u.Scheme != "" || u.Host != "" {
		return "", false
	}
	return next, true
}

func initials(name string) string {
	var out []rune
	for _, w := range strings.Fields(name) {
		for _, r := range w {
			out = append(out, r)
			break
		}
		if len(out) == 2 {
			break
		}
	}
	if len(out) == 0 {
		return "?"
	}
	return strings.ToUpper(string(out))
}

func formatTime(t time.Time) string {
	if t.IsZero() {
		return "—"
	}
	return t.Local().Format("2 Jan 2006 15:04")
}

func formatTimePtr(t *time.Time) string {
	if t == nil {
		return "never"
	}
	return formatTime(*t)
}

// normColor returns a #rrggbb colour, or a neutral grey for anything else.
func normColor(c string) string {
	c = strings.TrimSpace(c)
	if len(c) == 4 && c[0] == '#' {
		c = "#" + strings.Repeat(c[1:2], 2) + strings.Repeat(c[2:3], 2) + strings.Repeat(c[3:4], 2)
	}
	if !storage.ValidColor(c) {
		return "#64748b"
	}
	return strings.ToLower(c)
}

// chipStyle colours a label chip with its group's colour and a readable
// text colour on it.
func chipStyle(color string) template.CSS {
	c := normColor(color)
	r, _ := strconv.ParseUint(c[1:3], 16, 8)
	g, _ := strconv.ParseUint(c[3:5], 16, 8)
	b, _ := strconv.ParseUint(c[5:7], 16, 8)
	fg := "#ffffff"
	if 0.299*float64(r)+0.587*float64(g)+0.114*float64(b) > 160 {
		fg = "#111827"
	}
	// c is validated above: only # and hex digits reach the style.
	return template.CSS("--chip:" + c + ";--chip-fg:" + fg)
}

// roleClass picks a badge colour for a role name.
func roleClass(role string) string {
	switch role {
	case "administrator":
		return "badge-admin"
	case "regular":
		return "badge-regular"
	case "team_member", "team_lead", "team_manager", "member", "lead", "manager":
		return "badge-team"
	case "guest_app", "guest_mobile", "guest_desktop":
		return "badge-guest"
	}
	return "badge-neutral"
}

// contactFieldsData feeds the contact form fields shared by the add and
// edit forms.
type contactFieldsData struct {
	F     *formState
	Name  string
	Def   map[string]string
	Users []storage.User
}

// V is what a field shows: as typed when this form failed, else the stored
// value.
func (d contactFieldsData) V(key string) string { return d.F.Or(d.Name, key, d.Def[key]) }

// Bad reports whether the form's error is about this field.
func (d contactFieldsData) Bad(key string) bool { return d.F.Bad(d.Name, key) }
