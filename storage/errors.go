package storage

import (
	"errors"
	"fmt"
)

// Domain errors shared by every layer. Wrap them with what was being done
// (fmt.Errorf("get user %s: %w", id, ErrNotFound)); only web maps them to
// HTTP statuses.
var (
	// ErrNotFound: the record asked for does not exist.
	ErrNotFound = errors.New("not found")
	// ErrConflict: the change collides with existing data (a duplicate
	// e-mail, a name already taken).
	ErrConflict = errors.New("conflict")
	// ErrInvalid: the input is malformed. Prefer *ValidationError, which
	// names the field.
	ErrInvalid = errors.New("invalid input")
	// ErrFederationUnreachable: organisation data cannot be changed here
	// because this node cannot reach the Raft leader. Reads still work.
	ErrFederationUnreachable = errors.New("federation unreachable")
	// ErrOutcomeUnknown: the change left this node for the replicated log
	// but no answer came back (leadership was lost while committing it, the
	// caller stopped waiting, the leader did not answer), so it may still be
	// applied. It wraps ErrFederationUnreachable, so code that only knows
	// that error keeps working; callers that would retry must check first.
	ErrOutcomeUnknown = fmt.Errorf("%w: outcome unknown, the change may still be applied; check before retrying", ErrFederationUnreachable)
	// ErrUnauthenticated: no valid credentials came with the request.
	ErrUnauthenticated = errors.New("not authenticated")
	// ErrUnsupported: the input is well formed but asks for what this
	// server cannot do (an SDP offer in codecs it does not take).
	ErrUnsupported = errors.New("not supported")
)

// ValidationError names the field at fault and what is wrong with it.
type ValidationError struct {
	Field   string
	Problem string
}

func (e *ValidationError) Error() string { return fmt.Sprintf("%s %s", e.Field, e.Problem) }

// Is makes errors.Is(err, ErrInvalid) true for every ValidationError.
func (e *ValidationError) Is(target error) bool { return target == ErrInvalid }

// ForbiddenError says which permission the caller lacks.
type ForbiddenError struct {
	Permission string
}

func (e *ForbiddenError) Error() string {
	return fmt.Sprintf("permission %s is required", e.Permission)
}
