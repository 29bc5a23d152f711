package storagetest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"siteline/storage"
)

// Labels are the labels of the organisation data the stores of
// SessionFields must know (through whatever holds their organisation
// data): two groups of organisation o1 and one of o2.
var Labels = []storage.Label{
	{ID: "l1", OrgID: "o1", GroupID: "g1", Name: "Pump"},
	{ID: "l2", OrgID: "o1", GroupID: "g1", Name: "Valve"},
	{ID: "L3", OrgID: "o1", GroupID: "g2", Name: "Urgent"}, // sorts before l1 byte by byte
	{ID: "l9", OrgID: "o2", GroupID: "g9", Name: "Theirs"},
}

// FieldsBackend is what SessionFields drives: the setters of
// storage.SessionHistoryStore, a session's summary to read them back, and
// the outbox their changes fill.
type FieldsBackend interface {
	storage.SessionStore
	SetSessionDetails(ctx context.Context, sessionID, name, goal string, v storage.Version) (bool, error)
	SetSessionOutcome(ctx context.Context, sessionID, outcome string, solvedAt *time.Time, v storage.Version) (bool, error)
	SetSessionNotes(ctx context.Context, sessionID, notes string, v storage.Version) (bool, error)
	SetSessionLabels(ctx context.Context, sessionID string, labelIDs []string, v storage.Version) (bool, error)
	SessionSummary(ctx context.Context, orgID, id string) (storage.SessionSummary, error)
	PendingHistory(ctx context.Context, limit int) ([]storage.HistoryOutboxRow, error)
}

// SessionFields tests the setters of storage.SessionHistoryStore. open
// returns a new store for each subtest, empty but for the organisation
// data that holds Labels, closed when that subtest ends.
func SessionFields(t *testing.T, open func(t *testing.T) FieldsBackend) {
	for _, tc := range []struct {
		name string
		test func(t *testing.T, s FieldsBackend)
	}{
		{"Versions", fieldsVersions},
		{"Invalid", fieldsInvalid},
		{"Outbox", fieldsOutbox},
	} {
		t.Run(tc.name, func(t *testing.T) { tc.test(t, open(t)) })
	}
}

// version is t0 plus min minutes, changed at origin.
func version(min int, origin string) storage.Version {
	return storage.Version{At: t0.Add(time.Duration(min) * time.Minute), Origin: origin}
}

func summary(t *testing.T, s FieldsBackend, id string) storage.SessionSummary {
	t.Helper()
	ss, err := s.SessionSummary(context.Background(), "o1", id)
	if err != nil {
		t.Fatal(err)
	}
	return ss
}

// fieldsVersions: each group of fields changes only for a later version
// (a later time, or the same time and a greater origin); the same change
// twice, an earlier one, or one of the same time from a lesser origin
// changes nothing and says so. Groups keep versions of their own.
func fieldsVersions(t *testing.T, s FieldsBackend) {
	ctx := context.Background()
	if err := s.CreateSession(ctx, storage.Session{ID: "c1", OrgID: "o1", SiteID: "s1", Name: "Call", CreatedBy: "u1", StartedAt: t0}); err != nil {
		t.Fatal(err)
	}
	if got := summary(t, s, "c1"); got.Outcome != "" || got.Notes != "" || got.SolvedAt != nil || !slices.Equal(got.Labels, []string{}) {
		t.Fatalf("a new session's fields = %+v, want none and labels []", got)
	}
	apply := func(what string, ok bool, err error, want bool) {
		t.Helper()
		if err != nil || ok != want {
			t.Fatalf("%s: applied %v, %v; want applied %v", what, ok, err, want)
		}
	}

	ok, err := s.SetSessionOutcome(ctx, "c1", storage.OutcomeSolved, nil, version(10, "b"))
	apply("first outcome", ok, err, true)
	ok, err = s.SetSessionOutcome(ctx, "c1", storage.OutcomeSolved, nil, version(10, "b"))
	apply("the same change again", ok, err, false)
	ok, err = s.SetSessionOutcome(ctx, "c1", storage.OutcomeNotSolved, nil, version(5, "z"))
	apply("an earlier change", ok, err, false)
	ok, err = s.SetSessionOutcome(ctx, "c1", storage.OutcomeFollowUp, nil, version(10, "a"))
	apply("same time, lesser origin", ok, err, false)
	got := summary(t, s, "c1")
	if got.Outcome != storage.OutcomeSolved || got.SolvedAt == nil || !got.SolvedAt.Equal(t0.Add(10*time.Minute)) {
		t.Fatalf("outcome %q solved at %v, want solved at t0+10m (the version's time)", got.Outcome, got.SolvedAt)
	}
	if d, ok := got.TimeToSolve(); !ok || d != 10*time.Minute {
		t.Fatalf("time to solve %v %v, want 10m", d, ok)
	}
	ok, err = s.SetSessionOutcome(ctx, "c1", "waiting_for_parts", nil, version(10, "c"))
	apply("same time, greater origin", ok, err, true)
	if got := summary(t, s, "c1"); got.Outcome != "waiting_for_parts" || got.SolvedAt != nil {
		t.Fatalf("outcome %q solved at %v, want waiting_for_parts and no solved time", got.Outcome, got.SolvedAt)
	}
	// An organisation's own outcome that counts as solved keeps the time
	// its caller gives, to the nanosecond.
	fixed := t0.Add(25*time.Minute + time.Nanosecond)
	ok, err = s.SetSessionOutcome(ctx, "c1", "fixed_remotely", &fixed, version(30, "a"))
	apply("an outcome of the organisation's that counts as solved", ok, err, true)
	if d, ok := summary(t, s, "c1").TimeToSolve(); !ok || d != 25*time.Minute+time.Nanosecond {
		t.Fatalf("time to solve %v %v, want 25m1ns", d, ok)
	}
	// A solved time at the very start is not before it.
	ok, err = s.SetSessionOutcome(ctx, "c1", storage.OutcomeSolved, &t0, version(31, "a"))
	apply("solved as it started", ok, err, true)
	ok, err = s.SetSessionOutcome(ctx, "c1", "", nil, version(32, "a"))
	apply("clearing the outcome", ok, err, true)
	if got := summary(t, s, "c1"); got.Outcome != "" || got.SolvedAt != nil {
		t.Fatalf("cleared outcome %q solved at %v", got.Outcome, got.SolvedAt)
	}

	ok, err = s.SetSessionLabels(ctx, "c1", []string{"l2", "l1", "l2", "L3"}, version(1, "a"))
	apply("labels", ok, err, true)
	ok, err = s.SetSessionLabels(ctx, "c1", nil, version(0, "a"))
	apply("older labels", ok, err, false)
	if got := summary(t, s, "c1"); !slices.Equal(got.Labels, []string{"L3", "l1", "l2"}) {
		t.Fatalf("labels %v, want [L3 l1 l2]: each once, in byte order", got.Labels)
	}
	ok, err = s.SetSessionLabels(ctx, "c1", []string{"l1"}, version(2, "a"))
	apply("fewer labels", ok, err, true)
	if got := summary(t, s, "c1"); !slices.Equal(got.Labels, []string{"l1"}) {
		t.Fatalf("labels %v, want [l1]: a change replaces them all", got.Labels)
	}
	ok, err = s.SetSessionLabels(ctx, "c1", []string{}, version(3, "a"))
	apply("no labels", ok, err, true)
	if got := summary(t, s, "c1"); !slices.Equal(got.Labels, []string{}) {
		t.Fatalf("labels %v after clearing them", got.Labels)
	}

	ok, err = s.SetSessionNotes(ctx, "c1", "first", version(3, "a"))
	apply("notes", ok, err, true)
	ok, err = s.SetSessionDetails(ctx, "c1", "Pump", "Fix it", version(3, "a"))
	apply("details", ok, err, true)
	// Each group has its own version: notes at 3 do not hold back details
	// at 2, which the details at 3 do.
	ok, err = s.SetSessionNotes(ctx, "c1", "second", version(2, "z"))
	apply("older notes", ok, err, false)
	ok, err = s.SetSessionDetails(ctx, "c1", "Old", "", version(2, "z"))
	apply("older details", ok, err, false)
	got = summary(t, s, "c1")
	if got.Notes != "first" || got.Name != "Pump" || got.Goal != "Fix it" {
		t.Fatalf("notes %q name %q goal %q", got.Notes, got.Name, got.Goal)
	}
	if ss, err := s.Session(ctx, "c1"); err != nil || ss.Name != "Pump" || ss.Goal != "Fix it" || ss.Status != storage.SessionActive {
		t.Errorf("Session after the details = %+v %v", ss, err)
	}
	if _, err := s.SessionSummary(ctx, "o2", "c1"); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("another organisation reads the session: %v", err)
	}
	if _, err := s.SessionSummary(ctx, "o1", "nope"); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("summary of a missing session: %v", err)
	}
}

// fieldsInvalid: a change that is not well formed, or names a label of
// another organisation, is refused with an error naming the problem and
// changes nothing; a change to a missing session is not found.
func fieldsInvalid(t *testing.T, s FieldsBackend) {
	ctx := context.Background()
	if err := s.CreateSession(ctx, storage.Session{ID: "c1", OrgID: "o1", SiteID: "s1", CreatedBy: "u1", StartedAt: t0}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.SetSessionOutcome(ctx, "c1", "fixed_remotely", nil, version(1, "a")); err != nil {
		t.Fatal(err)
	}
	if _, err := s.SetSessionLabels(ctx, "c1", []string{"l1", "l2"}, version(1, "a")); err != nil {
		t.Fatal(err)
	}
	if _, err := s.SetSessionNotes(ctx, "c1", "first", version(1, "a")); err != nil {
		t.Fatal(err)
	}
	before := summary(t, s, "c1")
	outbox, err := s.PendingHistory(ctx, 100)
	if err != nil {
		t.Fatal(err)
	}
	second := func(_ bool, err error) error { return err }
	far := time.Date(2300, 1, 1, 0, 0, 0, 0, time.UTC)
	early := t0.Add(-time.Nanosecond)
	for _, c := range []struct {
		name string
		err  error
		want string
	}{
		{"label of another organisation", second(s.SetSessionLabels(ctx, "c1", []string{"l1", "l9"}, version(20, "a"))), `"l9" is not a label of organisation o1`},
		{"label of no organisation", second(s.SetSessionLabels(ctx, "c1", []string{"nope"}, version(20, "a"))), `"nope" is not a label of organisation o1`},
		{"bad outcome", second(s.SetSessionOutcome(ctx, "c1", "Solved!", nil, version(20, "a"))), "outcome"},
		{"outcome too long", second(s.SetSessionOutcome(ctx, "c1", strings.Repeat("x", 65), nil, version(20, "a"))), "outcome"},
		{"solved time with no outcome", second(s.SetSessionOutcome(ctx, "c1", "", &t0, version(20, "a"))), "outcome"},
		{"solved before start", second(s.SetSessionOutcome(ctx, "c1", storage.OutcomeSolved, &early, version(20, "a"))), "before the session started"},
		{"solved out of range", second(s.SetSessionOutcome(ctx, "c1", storage.OutcomeSolved, &far, version(20, "a"))), "time"},
		{"no version", second(s.SetSessionNotes(ctx, "c1", "x", storage.Version{})), "version.at"},
		{"version out of range", second(s.SetSessionNotes(ctx, "c1", "x", storage.Version{At: far, Origin: "a"})), "time"},
		{"details without version", second(s.SetSessionDetails(ctx, "c1", "x", "y", storage.Version{Origin: "a"})), "version.at"},
		{"labels without version", second(s.SetSessionLabels(ctx, "c1", nil, storage.Version{Origin: "a"})), "version.at"},
	} {
		if !errors.Is(c.err, storage.ErrInvalid) || !strings.Contains(c.err.Error(), c.want) {
			t.Errorf("%s: got %v, want an invalid-input error naming %q", c.name, c.err, c.want)
		}
	}
	if got := summary(t, s, "c1"); !reflect.DeepEqual(got, before) {
		t.Errorf("a refused change changed the session:\n %+v, was\n %+v", got, before)
	}
	if after, err := s.PendingHistory(ctx, 100); err != nil || !reflect.DeepEqual(after, outbox) {
		t.Errorf("a refused change reached the outbox: %d records, was %d (%v)", len(after), len(outbox), err)
	}
	for name, err := range map[string]error{
		"details":   second(s.SetSessionDetails(ctx, "nope", "x", "", version(1, "a"))),
		"outcome":   second(s.SetSessionOutcome(ctx, "nope", storage.OutcomeSolved, nil, version(1, "a"))),
		"notes":     second(s.SetSessionNotes(ctx, "nope", "x", version(1, "a"))),
		"labels":    second(s.SetSessionLabels(ctx, "nope", []string{"l1"}, version(1, "a"))),
		"no labels": second(s.SetSessionLabels(ctx, "nope", nil, version(1, "a"))),
	} {
		if !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("%s of a missing session: %v, want not found", name, err)
		}
	}
}

// fieldsOutbox: a change that applied adds one session.fields record,
// named after the change and carrying it with the session; a change that
// did not apply adds none.
func fieldsOutbox(t *testing.T, s FieldsBackend) {
	ctx := context.Background()
	if err := s.CreateSession(ctx, storage.Session{ID: "call", OrgID: "o1", SiteID: "s1", Name: "Call by Alice", CreatedBy: "u1", StartedAt: t0}); err != nil {
		t.Fatal(err)
	}
	solved := t0.Add(40 * time.Minute)
	changes := []storage.SessionFields{
		{Group: storage.FieldsDetails, Version: version(1, "plant"), Name: "Press 7 jam", Goal: "restart it"},
		{Group: storage.FieldsOutcome, Version: version(2, "plant"), Outcome: storage.OutcomeFollowUp},
		{Group: storage.FieldsLabels, Version: version(3, "plant"), Labels: []string{"l1"}},
		{Group: storage.FieldsNotes, Version: version(4, "plant"), Notes: "order a new belt"},
		{Group: storage.FieldsOutcome, Version: version(5, "plant"), Outcome: storage.OutcomeSolved, SolvedAt: &solved},
		{Group: storage.FieldsLabels, Version: version(6, "plant"), Labels: []string{"l2", "l1"}},
	}
	for _, f := range changes {
		if ok, err := set(ctx, s, "call", f); err != nil || !ok {
			t.Fatalf("set %s: %v, %v", f.Group, ok, err)
		}
	}
	// A change older than the one standing is refused and not forwarded.
	if ok, err := s.SetSessionNotes(ctx, "call", "stale", version(3, "plant")); err != nil || ok {
		t.Fatalf("an older change applied: %v, %v", ok, err)
	}
	rows, err := s.PendingHistory(ctx, 100)
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 1+len(changes) {
		t.Fatalf("%d records in the outbox, want the session's and the %d changes that applied", len(rows), len(changes))
	}
	for i, f := range changes {
		row := rows[i+1]
		wantID := fmt.Sprintf("call/%s/%d/plant", f.Group, f.Version.At.UnixNano())
		if row.ID != wantID || row.Kind != storage.HistoryFields || !row.CreatedAt.Equal(f.Version.At) {
			t.Errorf("record %d = %s %s at %s, want %s session.fields at %s", i+1, row.ID, row.Kind, row.CreatedAt, wantID, f.Version.At)
		}
		var rec storage.HistoryRecord
		if err := json.Unmarshal(row.Record, &rec); err != nil {
			t.Fatal(err)
		}
		if rec.ID != wantID || rec.Fields == nil || rec.Session == nil || rec.Session.ID != "call" {
			t.Errorf("record %s = %+v", row.ID, rec)
			continue
		}
		if !reflect.DeepEqual(*rec.Fields, withUTC(f)) {
			t.Errorf("record %s carries %+v, want %+v", row.ID, *rec.Fields, withUTC(f))
		}
	}
	// The details change's record carries the session as it stood after it.
	var rec storage.HistoryRecord
	if err := json.Unmarshal(rows[1].Record, &rec); err != nil || rec.Session.Name != "Press 7 jam" || rec.Session.Goal != "restart it" {
		t.Errorf("the details record carries session %+v (%v)", rec.Session, err)
	}
	got := summary(t, s, "call")
	if got.Name != "Press 7 jam" || got.Outcome != storage.OutcomeSolved || got.Notes != "order a new belt" ||
		!slices.Equal(got.Labels, []string{"l1", "l2"}) || got.SolvedAt == nil || !got.SolvedAt.Equal(solved) {
		t.Errorf("the session's fields: %+v", got)
	}
}

// set applies change f through the setter of its group.
func set(ctx context.Context, s FieldsBackend, sessionID string, f storage.SessionFields) (bool, error) {
	switch f.Group {
	case storage.FieldsDetails:
		return s.SetSessionDetails(ctx, sessionID, f.Name, f.Goal, f.Version)
	case storage.FieldsOutcome:
		return s.SetSessionOutcome(ctx, sessionID, f.Outcome, f.SolvedAt, f.Version)
	case storage.FieldsNotes:
		return s.SetSessionNotes(ctx, sessionID, f.Notes, f.Version)
	case storage.FieldsLabels:
		return s.SetSessionLabels(ctx, sessionID, f.Labels, f.Version)
	}
	panic("unknown group " + f.Group)
}

// withUTC is f as it reads back from JSON: times in UTC.
func withUTC(f storage.SessionFields) storage.SessionFields {
	f.Version.At = f.Version.At.UTC()
	if f.SolvedAt != nil {
		t := f.SolvedAt.UTC()
		f.SolvedAt = &t
	}
	return f
}
