package node

import "siteline/node/internal/usecase"

// newID returns a random 128-bit identifier, 26 lower-case characters.
func newID() string { return usecase.NewID() }

func validation(field, problem string) error { return usecase.Invalid(field, problem) }
