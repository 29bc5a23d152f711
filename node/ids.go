package node

import (
	"encoding/json"

	"siteline/node/internal/check"
	"siteline/node/internal/ids"
)

// newID returns a random 128-bit identifier, 26 lower-case characters.
func newID() string { return ids.New() }

func validation(field, problem string) error { return check.Invalid(field, problem) }

// payload is the JSON of a session event's payload.
func payload(v any) json.RawMessage {
	b, _ := json.Marshal(v)
	return b
}
