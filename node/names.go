package node

import "siteline/node/internal/usecase"

// checkNameChars refuses what would let a name pass for something else on
// screen (usecase.CheckNameChars). Every entry point that takes a name
// calls it.
func checkNameChars(field, s string) error { return usecase.CheckNameChars(field, s) }
