package node

import (
	"siteline/node/internal/check"
	"siteline/node/internal/ids"
)

// newID returns a random 128-bit identifier, 26 lower-case characters.
func newID() string { return ids.New() }

func validation(field, problem string) error { return check.Invalid(field, problem) }
