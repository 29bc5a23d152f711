package policy

import (
	"fmt"
	"strings"
	"unicode"

	"siteline/storage"
)

// ParseCheckQuery reads the question "can USER do PERMISSION?" as the
// backoffice's search field and the CLI take it: "USER PERMISSION", with
// an optional leading "can", an optional "do" between and an optional
// trailing "?". USER is a user id or e-mail address; PERMISSION is
// returned as typed (the caller resolves aliases and unknown ids).
func ParseCheckQuery(q string) (user, permission string, err error) {
	bad := func(problem string) error { return &storage.ValidationError{Field: "query", Problem: problem} }
	if len(q) > 1024 {
		return "", "", bad("is longer than 1024 bytes")
	}
	q = strings.TrimRightFunc(strings.TrimSpace(q), func(r rune) bool { return r == '?' || unicode.IsSpace(r) })
	f := strings.Fields(q)
	if len(f) > 2 && strings.EqualFold(f[0], "can") {
		f = f[1:]
	}
	if len(f) == 3 && strings.EqualFold(f[1], "do") {
		f = []string{f[0], f[2]}
	}
	if len(f) != 2 {
		return "", "", bad(fmt.Sprintf("%q is not of the form \"USER PERMISSION\" (or \"can USER do PERMISSION?\")", q))
	}
	for i, what := range []string{"user", "permission"} {
		if msg := checkToken(what, f[i]); msg != "" {
			return "", "", bad(msg)
		}
	}
	return f[0], f[1], nil
}
