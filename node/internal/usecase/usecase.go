// Package usecase holds the small rules every use case of the node shares:
// identifiers, validation errors, the characters a name may hold, who an
// actor is in the records, and the audit log.
package usecase

import (
	"context"
	"crypto/rand"
	"encoding/base32"
	"encoding/json"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"siteline/storage"
	"siteline/web"
)

var idEncoding = base32.StdEncoding.WithPadding(base32.NoPadding)

// NewID returns a random 128-bit identifier, 26 lower-case characters.
func NewID() string {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand does not fail on supported platforms
	}
	return strings.ToLower(idEncoding.EncodeToString(b))
}

// Invalid is the error of bad input: field and what is wrong with it.
func Invalid(field, problem string) error {
	return &storage.ValidationError{Field: field, Problem: problem}
}

// CheckNameChars refuses, in any name a person gives (users, teams, label
// groups, labels, contacts, tokens, calls, invitees and guests, files),
// what would let it pass for something else on screen: bytes that are not
// UTF-8, NUL and the other C0 and C1 control characters, and the
// bidirectional embeddings, overrides and isolates (U+202A to U+202E,
// U+2066 to U+2069), which make "exe.pdf" read as "fdp.exe". Every entry
// point that takes a name calls it.
func CheckNameChars(field, s string) error {
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

// ActorID is who the records name for an actor: "cli" for the local
// operator.
func ActorID(a web.Actor) string {
	if a.Local {
		return "cli"
	}
	return a.UserID
}

// IsGuest tells a guest, whose access ends at their own call: anything
// else is outside the call, whether it exists or not.
func IsGuest(a web.Actor) bool {
	return a.CallID != "" || strings.HasPrefix(a.UserID, web.GuestIDPrefix)
}

// AuditAppender is the store method the audit log is written with.
type AuditAppender interface {
	AppendAudit(ctx context.Context, e storage.AuditEvent) error
}

// Auditor appends events to the node's local audit log, on disk before
// the request is answered.
type Auditor struct {
	Store         AuditAppender
	OrgID, SiteID string
	Now           func() time.Time
}

// Audit appends one event; detail, when not nil, is kept as JSON.
func (au Auditor) Audit(ctx context.Context, actor, action, target string, detail any) error {
	var b []byte
	if detail != nil {
		var err error
		if b, err = json.Marshal(detail); err != nil {
			return fmt.Errorf("audit %s: %w", action, err)
		}
	}
	e := storage.AuditEvent{
		ID: NewID(), OrgID: au.OrgID, SiteID: au.SiteID, At: au.Now().UTC(),
		ActorID: actor, Action: action, Target: target, Detail: string(b),
	}
	if err := au.Store.AppendAudit(ctx, e); err != nil {
		return fmt.Errorf("audit %s: %w", action, err)
	}
	return nil
}

// Payload is the JSON of an event's details.
func Payload(v any) json.RawMessage {
	b, _ := json.Marshal(v)
	return b
}
