package web

import (
	"errors"
	"fmt"
	"strings"

	"github.com/gofiber/fiber/v2"

	"siteline/storage"
)

// Errors become HTTP answers here. Services return the domain errors of
// storage/errors.go (and the web layer its own: *Error, *TooManyError,
// *DeadLinkError); toHTTP gives each its status and machine-readable code
// once, and handleError answers with JSON on the API and with a page in the
// backoffice.

// Error is an HTTP error with a machine-readable code.
type Error struct {
	Status     int
	Code       string
	Message    string
	Permission string
}

func (e *Error) Error() string { return e.Message }

// ErrorBody is the JSON every API error answers with.
type ErrorBody struct {
	Error      string `json:"error"`
	Code       string `json:"code"`
	Permission string `json:"permission,omitempty"`
}

var fiberCodes = map[int]string{
	fiber.StatusBadRequest:            "invalid",
	fiber.StatusNotFound:              "not_found",
	fiber.StatusMethodNotAllowed:      "method_not_allowed",
	fiber.StatusRequestEntityTooLarge: "too_large",
	fiber.StatusInternalServerError:   "internal",
}

// toHTTP maps an error to the status and code it is answered with. It is
// the only place that does: the API's JSON error, the backoffice's error
// page and a form shown again with its message (formError) all take their
// status from here.
func toHTTP(err error) *Error {
	var (
		he *Error
		fe *fiber.Error
	)
	if errors.As(err, &he) {
		return he
	}
	if de := domainError(err); de != nil {
		return de
	}
	if errors.As(err, &fe) {
		msg := err.Error()
		code, ok := fiberCodes[fe.Code]
		if !ok {
			code = fmt.Sprintf("http_%d", fe.Code)
		}
		if fe.Code == fiber.StatusRequestEntityTooLarge {
			msg = "request body is larger than this server accepts"
		}
		return &Error{Status: fe.Code, Code: code, Message: msg}
	}
	return &Error{Status: fiber.StatusInternalServerError, Code: "internal", Message: "internal error"}
}

// domainError maps the domain errors (storage/errors.go) and the web
// layer's own refusals; nil for any other error.
func domainError(err error) *Error {
	var (
		fb  *storage.ForbiddenError
		tm  *TooManyError
		dl  *DeadLinkError
		msg = err.Error()
	)
	switch {
	case errors.As(err, &fb):
		return &Error{Status: fiber.StatusForbidden, Code: "forbidden", Message: msg, Permission: fb.Permission}
	case errors.As(err, &tm):
		return &Error{Status: fiber.StatusTooManyRequests, Code: "rate_limited", Message: msg}
	case errors.As(err, &dl):
		return &Error{Status: dl.Status(), Code: "link_" + dl.Reason, Message: dl.Message}
	case errors.Is(err, storage.ErrUnauthenticated):
		return &Error{Status: fiber.StatusUnauthorized, Code: "unauthenticated", Message: msg}
	case errors.Is(err, storage.ErrInvalid):
		return &Error{Status: fiber.StatusBadRequest, Code: "invalid", Message: msg}
	case errors.Is(err, storage.ErrUnsupported):
		return &Error{Status: fiber.StatusUnprocessableEntity, Code: "unsupported", Message: msg}
	case errors.Is(err, storage.ErrNotFound):
		return &Error{Status: fiber.StatusNotFound, Code: "not_found", Message: msg}
	case errors.Is(err, storage.ErrConflict):
		return &Error{Status: fiber.StatusConflict, Code: "conflict", Message: msg}
	case errors.Is(err, storage.ErrOutcomeUnknown): // before ErrFederationUnreachable, which it wraps
		return &Error{Status: fiber.StatusServiceUnavailable, Code: "outcome_unknown", Message: outcomeUnknownMessage}
	case errors.Is(err, storage.ErrFederationUnreachable):
		return &Error{Status: fiber.StatusServiceUnavailable, Code: "federation_unreachable", Message: unreachableMessage}
	}
	return nil
}

// What people are told when organisation data cannot be changed; the
// cause (no Raft leader, a leader that did not answer) goes to the log.
const (
	unreachableMessage = "Headquarters cannot be reached from here, so organisation data (users, contacts, teams, permissions) " +
		"cannot be changed right now. Calls, logins and history keep working; try again once the connection is back."
	outcomeUnknownMessage = "Headquarters did not confirm this change before the connection was lost: it may still be applied. " +
		"Check whether it was before trying again."
)

// handleError answers every error of every route: JSON for the API, a page
// for the backoffice.
func (s *Server) handleError(c *fiber.Ctx, err error) error {
	he := toHTTP(err)
	if errors.Is(err, fiber.ErrRequestEntityTooLarge) {
		he.Message = s.bodyTooLarge(c) // body_limit.go
	}
	setRetryAfter(c, err) // limit.go
	switch {
	case he.Status >= 500 && he.Code == "internal":
		s.log.Error("request failed", "method", c.Method(), "path", c.Path(), "err", err)
	case errors.Is(err, storage.ErrFederationUnreachable):
		s.log.Warn("organisation change refused", "method", c.Method(), "path", c.Path(), "err", err)
	}
	if wantsPage(c) {
		return s.ui.renderError(c, s, he)
	}
	return c.Status(he.Status).JSON(ErrorBody{Error: he.Message, Code: he.Code, Permission: he.Permission})
}

// wantsPage tells browser navigation from API calls. The bytes of media
// and recordings are opened in the browser from the session page: their
// errors (410 once deleted) get a page there too.
func wantsPage(c *fiber.Ctx) bool {
	if strings.HasPrefix(c.Path(), "/api/") {
		return c.Method() == fiber.MethodGet && strings.Contains(c.Get(fiber.HeaderAccept), "text/html") &&
			(strings.HasPrefix(c.Path(), APIPrefix+"/media/") || strings.HasPrefix(c.Path(), APIPrefix+"/recordings/"))
	}
	return strings.Contains(c.Get(fiber.HeaderAccept), "text/html") || c.Get(fiber.HeaderContentType) == fiber.MIMEApplicationForm
}
