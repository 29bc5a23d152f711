package web

import (
	"errors"
	"net/url"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"siteline/storage"
)

// Forms of the backoffice: a form that failed is shown again with what was
// typed and what was wrong (formState); one that succeeded redirects with a
// flash message (POST, redirect, GET).

// flashCookie carries the one-line message shown after a
// POST-redirect-GET. __Host- keeps it to this host over HTTPS.
const flashCookie = "__Host-siteline-flash"

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
// too many attempts, federation unreachable, an unknown outcome, a wrong
// password) from those that make an error page (not found, forbidden,
// internal). The status is toHTTP's, but for a wrong password, which is
// bad input on a form (the login page answers 401 itself).
func formError(err error) (status int, field string, ok bool) {
	he := domainError(err) // errors.go
	if he == nil {
		return 0, "", false
	}
	switch he.Code {
	case "invalid", "conflict", "rate_limited", "federation_unreachable", "outcome_unknown":
	case "unauthenticated":
		he.Status = fiber.StatusBadRequest
	default:
		return 0, "", false
	}
	var ve *storage.ValidationError
	if errors.As(err, &ve) {
		field = ve.Field
	}
	return he.Status, field, true
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
	case errors.Is(err, storage.ErrFederationUnreachable):
		f.Err = unreachableMessage
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
	case "csv":
		return "In the CSV file,"
	case "roles", "role":
		return "The role"
	}
	if key, ok := strings.CutPrefix(field, "fields."); ok {
		return "The field " + key
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
