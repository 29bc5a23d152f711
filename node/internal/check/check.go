// Package check holds the input checks shared by the node's use cases:
// the refusal naming a field, and the characters no name may hold.
package check

import (
	"fmt"
	"unicode/utf8"

	"siteline/storage"
)

// Invalid is the refusal of a field's value: a *storage.ValidationError.
func Invalid(field, problem string) error {
	return &storage.ValidationError{Field: field, Problem: problem}
}

// NameChars refuses, in any name a person gives (users, teams, label
// groups, labels, contacts, tokens, calls, invitees and guests, files),
// what would let it pass for something else on screen: bytes that are not
// UTF-8, NUL and the other C0 and C1 control characters, and the
// bidirectional embeddings, overrides and isolates (U+202A to U+202E,
// U+2066 to U+2069), which make "exe.pdf" read as "fdp.exe". Every entry
// point that takes a name calls it.
func NameChars(field, s string) error {
	for i, r := range s {
		var what string
		switch {
		case r == utf8.RuneError && !validRuneAt(s, i):
			return Invalid(field, fmt.Sprintf("is not valid UTF-8 (at byte %d)", i))
		case r == '\r' || r == '\n':
			return Invalid(field, "must be a single line")
		case r < 0x20 || (r >= 0x7f && r < 0xa0):
			what = "a control character"
		case (r >= 0x202a && r <= 0x202e) || (r >= 0x2066 && r <= 0x2069):
			what = "a bidirectional override"
		default:
			continue
		}
		return Invalid(field, fmt.Sprintf("holds %U, %s, at byte %d: names must not hold control characters or bidirectional overrides", r, what, i))
	}
	return nil
}

// validRuneAt reports whether s holds a real U+FFFD at byte i, not an
// invalid byte decoded as one.
func validRuneAt(s string, i int) bool {
	_, size := utf8.DecodeRuneInString(s[i:])
	return size == 3
}
