package node

import (
	"crypto/rand"
	"encoding/base32"
	"strings"

	"siteline/storage"
)

var idEncoding = base32.StdEncoding.WithPadding(base32.NoPadding)

// newID returns a random 128-bit identifier, 26 lower-case characters.
func newID() string {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand does not fail on supported platforms
	}
	return strings.ToLower(idEncoding.EncodeToString(b))
}

func validation(field, problem string) error {
	return &storage.ValidationError{Field: field, Problem: problem}
}
