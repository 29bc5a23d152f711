package storagetest

import (
	"context"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"siteline/storage"
)

// AuditBackend is what Audit drives: the audit log and the history
// outbox its appends fill.
type AuditBackend interface {
	AppendAudit(ctx context.Context, e storage.AuditEvent) error
	Audit(ctx context.Context, f storage.AuditFilter) ([]storage.AuditEvent, error)
	PendingHistory(ctx context.Context, limit int) ([]storage.HistoryOutboxRow, error)
}

// Audit tests the audit log of storage.SiteStore (AppendAudit, Audit).
// open returns a new, empty store for each subtest, closed when that
// subtest ends.
func Audit(t *testing.T, open func(t *testing.T) AuditBackend) {
	for _, tc := range []struct {
		name string
		test func(t *testing.T, s AuditBackend)
	}{
		{"Filters", auditFilters},
		{"Outbox", auditOutbox},
		{"Invalid", auditInvalid},
	} {
		t.Run(tc.name, func(t *testing.T) { tc.test(t, open(t)) })
	}
}

// auditFilters: events list newest first (ties broken by id, in byte
// order), filtered by organisation, a literal case-sensitive action
// prefix, a time bound and a limit; each reads back as it was written.
func auditFilters(t *testing.T, s AuditBackend) {
	ctx := context.Background()
	events := []storage.AuditEvent{
		{ID: "a1", OrgID: "o1", SiteID: "s1", At: t0, ActorID: "u1", Action: "user.create", Target: "u2", Detail: `{"name":"Bob"}`},
		{ID: "a2", OrgID: "o1", SiteID: "s1", At: t0.Add(time.Minute), ActorID: "u1", Action: "policy.grant", Target: "regular"},
		{ID: "a3", OrgID: "o2", SiteID: "s9", At: t0.Add(2 * time.Minute), ActorID: "cli", Action: "user.delete", Target: "u9"},
		{ID: "a4", OrgID: "o1", SiteID: "s1", At: t0.Add(3 * time.Minute), ActorID: "system", Action: "userXdelete"},
		// Same time as a4: the id breaks the tie, upper case before
		// lower case as bytes compare (a locale's collation would not).
		{ID: "B5", OrgID: "o1", SiteID: "s1", At: t0.Add(3 * time.Minute), ActorID: "system", Action: "user%delete"},
		{ID: "a6", OrgID: "o1", SiteID: "s1", At: t0.Add(4 * time.Minute), ActorID: "u1", Action: "user_delete",
			Detail: "Zoë — « détail » 🔧\n"},
	}
	for _, e := range events {
		if err := s.AppendAudit(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	// Appending an event again (a forwarded replay) is a no-op, even when
	// it differs: the first one stays.
	replay := events[0]
	replay.Detail = "changed"
	if err := s.AppendAudit(ctx, replay); err != nil {
		t.Errorf("replayed AppendAudit: %v", err)
	}

	for _, tt := range []struct {
		name   string
		filter storage.AuditFilter
		want   string
	}{
		{"all, newest first", storage.AuditFilter{}, "a6,a4,B5,a3,a2,a1"},
		{"one org", storage.AuditFilter{OrgID: "o1"}, "a6,a4,B5,a2,a1"},
		{"no org of that id", storage.AuditFilter{OrgID: "o9"}, ""},
		{"action prefix is literal", storage.AuditFilter{Action: "user."}, "a3,a1"},
		{"underscore is no wildcard", storage.AuditFilter{Action: "user_"}, "a6"},
		{"percent is no wildcard", storage.AuditFilter{Action: "user%"}, "B5"},
		{"prefix is case-sensitive", storage.AuditFilter{Action: "USER."}, ""},
		{"whole action", storage.AuditFilter{Action: "user.create"}, "a1"},
		{"before", storage.AuditFilter{Before: t0.Add(2 * time.Minute)}, "a2,a1"},
		{"before is exclusive", storage.AuditFilter{Before: t0}, ""},
		{"limit", storage.AuditFilter{OrgID: "o1", Limit: 2}, "a6,a4"},
		{"limit splits a tie", storage.AuditFilter{OrgID: "o1", Limit: 3}, "a6,a4,B5"},
		{"page", storage.AuditFilter{OrgID: "o1", Limit: 2, Before: t0.Add(time.Minute)}, "a1"},
		{"everything filtered", storage.AuditFilter{OrgID: "o2", Action: "user.", Before: t0.Add(3 * time.Minute), Limit: 1}, "a3"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, err := s.Audit(ctx, tt.filter)
			if err != nil {
				t.Fatal(err)
			}
			var ids []string
			for _, e := range got {
				ids = append(ids, e.ID)
			}
			if strings.Join(ids, ",") != tt.want {
				t.Errorf("Audit(%+v) = %v, want %s", tt.filter, ids, tt.want)
			}
		})
	}
	got, err := s.Audit(ctx, storage.AuditFilter{})
	if err != nil {
		t.Fatal(err)
	}
	byID := map[string]storage.AuditEvent{}
	for _, e := range got {
		byID[e.ID] = e
	}
	for _, want := range events {
		if got := byID[want.ID]; !reflect.DeepEqual(got, want) {
			t.Errorf("event read back %+v, want %+v", got, want)
		}
	}
}

// auditOutbox: an appended event adds its audit record, carrying the
// event, to the outbox; a replay adds none.
func auditOutbox(t *testing.T, s AuditBackend) {
	ctx := context.Background()
	e := storage.AuditEvent{ID: "a1", OrgID: "o1", SiteID: "s1", At: t0, ActorID: "u1", Action: "call.start", Target: "c1", Detail: `{"x":1}`}
	for range 2 {
		if err := s.AppendAudit(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	rows, err := s.PendingHistory(ctx, 100)
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 1 {
		t.Fatalf("outbox holds %d records after an append and its replay, want 1: %+v", len(rows), rows)
	}
	row := rows[0]
	if row.ID != "a1" || row.Kind != storage.HistoryAudit || !row.CreatedAt.Equal(t0) {
		t.Errorf("record = %s %s at %s, want a1 audit at %s", row.ID, row.Kind, row.CreatedAt, t0)
	}
	var rec storage.HistoryRecord
	if err := json.Unmarshal(row.Record, &rec); err != nil {
		t.Fatal(err)
	}
	if rec.ID != "a1" || rec.Kind != storage.HistoryAudit || rec.Audit == nil || *rec.Audit != e || rec.Session != nil {
		t.Errorf("record = %+v (audit %+v), want it to carry %+v alone", rec, rec.Audit, e)
	}
}

// auditInvalid: an event without what it needs is refused with a
// ValidationError naming the field, and neither stored nor forwarded.
func auditInvalid(t *testing.T, s AuditBackend) {
	ctx := context.Background()
	ok := storage.AuditEvent{ID: "a9", OrgID: "o1", SiteID: "s1", At: t0, ActorID: "u1", Action: "x"}
	far := time.Date(2300, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name, field string
		change      func(e *storage.AuditEvent)
	}{
		{"without id", "audit.id", func(e *storage.AuditEvent) { e.ID = "" }},
		{"without org", "audit.org_id", func(e *storage.AuditEvent) { e.OrgID = "" }},
		{"without actor", "audit.actor_id", func(e *storage.AuditEvent) { e.ActorID = "" }},
		{"without action", "audit.action", func(e *storage.AuditEvent) { e.Action = "" }},
		{"without time", "audit.at", func(e *storage.AuditEvent) { e.At = time.Time{} }},
		{"out of range", "time", func(e *storage.AuditEvent) { e.At = far }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := ok
			tc.change(&e)
			err := s.AppendAudit(ctx, e)
			var ve *storage.ValidationError
			if !errors.Is(err, storage.ErrInvalid) || !errors.As(err, &ve) || ve.Field != tc.field {
				t.Errorf("err = %v, want a ValidationError of field %s", err, tc.field)
			}
		})
	}
	if got, err := s.Audit(ctx, storage.AuditFilter{}); err != nil || len(got) != 0 {
		t.Errorf("refused events were stored: %+v %v", got, err)
	}
	if rows, err := s.PendingHistory(ctx, 100); err != nil || len(rows) != 0 {
		t.Errorf("refused events were forwarded: %+v %v", rows, err)
	}
}
