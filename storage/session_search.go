package storage

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"unicode"
)

// What every store's SearchSessions accepts and answers alike: the
// checks of a SessionQuery, the words of its text, and the keyset cursor
// of the next page (a cursor of one store reads on the other).

// Limits of a session search.
const (
	DefaultSessionPage = 50  // rows of a page when the query names none
	MaxSessionPage     = 500 // rows of a page at the most
	MaxSearchWords     = 8   // words of the text searched at the most
)

// SessionSearch is a SessionQuery checked, with its defaults filled in:
// what a store turns into its own SQL.
type SessionSearch struct {
	// Query is the query, its Sort set.
	Query SessionQuery
	// Limit is the page's size.
	Limit int
	// Words are the words of Query.Text (SearchWords).
	Words []string
	// Fingerprint identifies the query but its page (SessionFingerprint).
	Fingerprint string
	// After is where the page starts; nil for the first.
	After *SessionCursor
}

// Check checks q as every store's SearchSessions does: bad input (no
// organisation, an unknown sort, a page size out of range, an inverted
// date range, one's own sessions without a viewer, an unknown status or
// outcome, a text without a word or with too many, a malformed cursor or
// one of another query) is a *ValidationError naming the field.
func (q SessionQuery) Check() (SessionSearch, error) {
	bad := func(field, problem string) error { return &ValidationError{Field: field, Problem: problem} }
	if q.OrgID == "" {
		return SessionSearch{}, bad("org_id", "is required")
	}
	if q.Sort == "" {
		q.Sort = SortStart
	}
	known := false
	names := make([]string, len(SessionSorts))
	for i, s := range SessionSorts {
		names[i] = string(s)
		known = known || s == q.Sort
	}
	if !known {
		return SessionSearch{}, bad("sort", fmt.Sprintf("%q is not a sortable column (one of %s)", q.Sort, strings.Join(names, ", ")))
	}
	limit := q.Limit
	switch {
	case limit < 0 || limit > MaxSessionPage:
		return SessionSearch{}, bad("limit", fmt.Sprintf("%d is outside 0 to %d", limit, MaxSessionPage))
	case limit == 0:
		limit = DefaultSessionPage
	}
	if !q.From.IsZero() && !q.To.IsZero() && !q.From.Before(q.To) {
		return SessionSearch{}, bad("from", fmt.Sprintf("%s is not before to %s", q.From.Format("2006-01-02T15:04:05Z07:00"), q.To.Format("2006-01-02T15:04:05Z07:00")))
	}
	if q.OwnOnly && q.ViewerID == "" {
		return SessionSearch{}, bad("viewer_id", "is required for one's own sessions")
	}
	switch q.Status {
	case "", SessionRinging, SessionActive, SessionEnded:
	default:
		return SessionSearch{}, bad("status", fmt.Sprintf("%q is not ringing, active or ended", q.Status))
	}
	if !ValidOutcome(q.Outcome) {
		return SessionSearch{}, bad("outcome", fmt.Sprintf("%q is not an outcome", q.Outcome))
	}
	words := SearchWords(q.Text)
	if strings.TrimSpace(q.Text) != "" && len(words) == 0 {
		return SessionSearch{}, bad("text", fmt.Sprintf("%q has no word to search for", q.Text))
	}
	if len(words) > MaxSearchWords {
		return SessionSearch{}, bad("text", fmt.Sprintf("has %d words, at most %d are searched", len(words), MaxSearchWords))
	}
	s := SessionSearch{Query: q, Limit: limit, Words: words, Fingerprint: SessionFingerprint(q)}
	if q.Cursor != "" {
		c, err := DecodeSessionCursor(q.Cursor, s.Fingerprint, TextSort(q.Sort))
		if err != nil {
			return SessionSearch{}, err
		}
		s.After = &c
	}
	return s, nil
}

// TextSort reports whether a sort's key is text (else a number).
func TextSort(s SessionSort) bool {
	switch s {
	case SortName, SortSite, SortOwner, SortOutcome:
		return true
	}
	return false
}

// SearchWords splits a search's text into its words, lower-cased: runs of
// letters and digits, every other character a break.
func SearchWords(text string) []string {
	return strings.FieldsFunc(strings.ToLower(text), func(r rune) bool {
		return !unicode.IsLetter(r) && !unicode.IsDigit(r)
	})
}

// SessionCursor is where the next page of a search starts: the sort key
// of the last row shown (a number or a text) and its session id, bound to
// its query by the fingerprint. It is base64 JSON with a checksum, which
// catches a cursor cut short or edited by hand; it is not secret, and
// needs not be: a cursor only says where in the query's own results to
// start, and the query's scope is enforced whatever it says.
type SessionCursor struct {
	F  string  `json:"f"`
	N  *int64  `json:"n,omitempty"`
	S  *string `json:"s,omitempty"`
	ID string  `json:"id"`
}

// Key is the sort key of the row the cursor names: an int64 or a string.
func (c SessionCursor) Key() any {
	if c.S != nil {
		return *c.S
	}
	return *c.N
}

// EncodeSessionCursor makes the cursor of the page after the row of
// session id whose sort key is key (an int64, a string or its bytes).
func EncodeSessionCursor(fingerprint string, key any, id string) string {
	c := SessionCursor{F: fingerprint, ID: id}
	switch k := key.(type) {
	case int64:
		c.N = &k
	case string:
		c.S = &k
	case []byte:
		s := string(k)
		c.S = &s
	}
	data, _ := json.Marshal(c) // plain fields cannot fail
	return base64.RawURLEncoding.EncodeToString(data) + "." + cursorChecksum(data)
}

// DecodeSessionCursor reads a cursor of the query whose fingerprint is
// given and whose sort key is text or not.
func DecodeSessionCursor(s, fingerprint string, text bool) (SessionCursor, error) {
	bad := &ValidationError{Field: "cursor", Problem: "is malformed or was altered"}
	body, sum, ok := strings.Cut(s, ".")
	if !ok {
		return SessionCursor{}, bad
	}
	data, err := base64.RawURLEncoding.DecodeString(body)
	if err != nil || sum != cursorChecksum(data) {
		return SessionCursor{}, bad
	}
	var c SessionCursor
	if err := json.Unmarshal(data, &c); err != nil || c.ID == "" || (c.N == nil) == (c.S == nil) || (c.S != nil) != text {
		return SessionCursor{}, bad
	}
	if c.F != fingerprint {
		return SessionCursor{}, &ValidationError{Field: "cursor", Problem: "belongs to another query (its filters, sort or order differ)"}
	}
	return c, nil
}

func cursorChecksum(data []byte) string {
	h := sha256.Sum256(append([]byte("siteline.session-cursor\x00"), data...))
	return base64.RawURLEncoding.EncodeToString(h[:9])
}

// SessionFingerprint identifies everything of a query but its page: the
// cursor and the page size.
func SessionFingerprint(q SessionQuery) string {
	q.Cursor, q.Limit = "", 0
	data, err := json.Marshal(q)
	if err != nil {
		panic(errors.New("session query does not encode: " + err.Error()))
	}
	h := sha256.Sum256(data)
	return hex.EncodeToString(h[:12])
}
