package sfu

import (
	"errors"

	"siteline/media/signal"
	"siteline/storage"
)

// Errors of the SFU, wrapped with what was being done.
var (
	ErrNotStarted = errors.New("sfu not started")
	ErrClosed     = errors.New("sfu shut down")
	ErrLeft       = errors.New("participant has left")
	// ErrLimit refuses what goes over a configured limit (participants
	// of a room, messages a second); the message names the limit.
	ErrLimit = errors.New("limit reached")
)

// ErrorMessage turns err into the error message a participant is sent in
// reply to request id: a missing permission is named, malformed requests
// are bad-message, unknown things not-found, clashes conflict, and the rest
// internal.
func ErrorMessage(id string, err error) signal.Message {
	m := signal.New(signal.TypeError)
	m.ID = id
	m.Error = err.Error()
	var forbidden *storage.ForbiddenError
	switch {
	case errors.As(err, &forbidden):
		m.Code = signal.CodeForbidden
		m.Permission = forbidden.Permission
	case errors.Is(err, signal.ErrMalformed), errors.Is(err, signal.ErrInvalid),
		errors.Is(err, signal.ErrTooLarge), errors.Is(err, signal.ErrVersion),
		errors.Is(err, signal.ErrUnknownType), errors.Is(err, signal.ErrOutOfOrder),
		errors.Is(err, storage.ErrInvalid):
		m.Code = signal.CodeBadMessage
	case errors.Is(err, ErrLimit):
		m.Code = signal.CodeLimit
	case errors.Is(err, storage.ErrNotFound):
		m.Code = signal.CodeNotFound
	case errors.Is(err, storage.ErrConflict):
		m.Code = signal.CodeConflict
	default:
		m.Code = signal.CodeInternal
	}
	return m
}
