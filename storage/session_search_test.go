package storage

import (
	"errors"
	"strings"
	"testing"
	"time"
)

// TestSessionQueryCheck: a query's defaults are filled in, and each kind
// of bad input names its field.
func TestSessionQueryCheck(t *testing.T) {
	c, err := SessionQuery{OrgID: "o1", Text: "Pump-7 leak"}.Check()
	if err != nil || c.Query.Sort != SortStart || c.Limit != DefaultSessionPage || strings.Join(c.Words, " ") != "pump 7 leak" || c.After != nil {
		t.Fatalf("Check = %+v, %v", c, err)
	}
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for field, q := range map[string]SessionQuery{
		"org_id":    {},
		"sort":      {OrgID: "o1", Sort: "colour"},
		"limit":     {OrgID: "o1", Limit: MaxSessionPage + 1},
		"from":      {OrgID: "o1", From: t0, To: t0},
		"viewer_id": {OrgID: "o1", OwnOnly: true},
		"status":    {OrgID: "o1", Status: "lost"},
		"outcome":   {OrgID: "o1", Outcome: "Not a key!"},
		"text":      {OrgID: "o1", Text: "— !"},
		"cursor":    {OrgID: "o1", Cursor: "nonsense"},
	} {
		_, err := q.Check()
		var v *ValidationError
		if !errors.As(err, &v) || v.Field != field {
			t.Errorf("%s: Check = %v, want a validation error naming it", field, err)
		}
	}
	if _, err := (SessionQuery{OrgID: "o1", Text: strings.Repeat("w ", MaxSearchWords+1)}).Check(); err == nil {
		t.Errorf("a text of %d words passed", MaxSearchWords+1)
	}
}

// TestSessionCursor: a cursor reads back for its own query only, and not
// once altered.
func TestSessionCursor(t *testing.T) {
	q := SessionQuery{OrgID: "o1", Sort: SortName}
	fp := SessionFingerprint(q)
	cur := EncodeSessionCursor(fp, []byte("pump"), "s1")
	q.Cursor, q.Limit = cur, 10
	c, err := q.Check()
	if err != nil || c.After == nil || c.After.Key() != "pump" || c.After.ID != "s1" || c.Fingerprint != fp {
		t.Fatalf("Check with a cursor = %+v, %v", c, err)
	}
	n := EncodeSessionCursor(SessionFingerprint(SessionQuery{OrgID: "o1", Sort: SortStart}), int64(42), "s2")
	if c, err := (SessionQuery{OrgID: "o1", Cursor: n}).Check(); err != nil || c.After.Key() != int64(42) {
		t.Errorf("a number cursor = %+v, %v", c, err)
	}
	for name, q := range map[string]SessionQuery{
		"another query":                {OrgID: "o1", Sort: SortName, Desc: true, Cursor: cur},
		"altered":                      {OrgID: "o1", Sort: SortName, Cursor: strings.Replace(cur, cur[:3], "eyK", 1)},
		"a number key for a text sort": {OrgID: "o1", Sort: SortName, Cursor: EncodeSessionCursor(fp, int64(1), "s1")},
	} {
		if _, err := q.Check(); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
