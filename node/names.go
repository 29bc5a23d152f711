package node

import "siteline/node/internal/check"

// checkNameChars refuses what would let a name pass for something else on
// screen (check.NameChars). Every entry point that takes a name calls it.
func checkNameChars(field, s string) error { return check.NameChars(field, s) }
