package org

import (
	"fmt"
	"regexp"

	"siteline/node/internal/check"
	"siteline/storage"
)

// logPosition matches what the replicated log and the store say of where a
// command stood ("apply index 42: ", "change 0 (user.put): "): useful in
// the node's log, meaningless to whoever made the change.
var logPosition = regexp.MustCompile(`(apply index|decode command at index|store failed at index) \d+: |change \d+ \([a-z_.]+\): `)

// lagging matches a read barrier's account of how far this node's store
// lags, in log indexes.
var lagging = regexp.MustCompile(`this node's store has applied index \d+ of the leader's \d+`)

// userError is err without log indexes and change ordinals in its message;
// errors.Is and errors.As still see err.
func userError(err error) error {
	if err == nil {
		return nil
	}
	msg := logPosition.ReplaceAllString(err.Error(), "")
	msg = lagging.ReplaceAllString(msg, "this node's store lags behind the leader's")
	if msg == err.Error() {
		return err
	}
	return &cleanError{msg: msg, err: err}
}

type cleanError struct {
	msg string
	err error
}

func (e *cleanError) Error() string { return e.msg }
func (e *cleanError) Unwrap() error { return e.err }

// notFound is the refusal of a record that does not exist, or not in the
// caller's organisation: the two are not told apart.
func notFound(kind, id string) error {
	return fmt.Errorf("%s %s: %w", kind, id, storage.ErrNotFound)
}

func validation(field, problem string) error { return check.Invalid(field, problem) }
