package storagetest

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"siteline/storage"
)

// ReportSearchBackend is what ReportSearch drives: the session store, the
// history applier that brings service reports to headquarters, and the
// reports' search.
type ReportSearchBackend interface {
	storage.SessionStore
	storage.HistoryApplier
	SearchServiceReports(ctx context.Context, q storage.ServiceReportQuery) ([]storage.ServiceReport, error)
}

// ReportSearch tests SearchServiceReports on the reports a store applied
// from the history: the standing text of reports that are not deleted,
// every word required, each a prefix, a word holding punctuation a phrase
// of its parts, case and diacritics ignored, the sessions and user
// filters, the latest edited first, the limit and bad queries. open
// returns a new, empty store, closed when the test ends.
func ReportSearch(t *testing.T, open func(t *testing.T) ReportSearchBackend) {
	s := open(t)
	ctx := context.Background()
	for _, ss := range []storage.Session{
		{ID: "c1", OrgID: "o1", CreatedBy: "u1", Name: "Pump check"},
		{ID: "c2", OrgID: "o1", CreatedBy: "u2", Name: "Line stop"},
		{ID: "c3", OrgID: "o2", CreatedBy: "u1", Name: "Theirs"},
	} {
		ss.SiteID, ss.StartedAt = "plant", t0
		if err := s.CreateSession(ctx, ss); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.RecordJoin(ctx, storage.SessionParticipant{ID: "p1", SessionID: "c2", UserID: "u3", DisplayName: "Ann", JoinedAt: t0},
		storage.SessionEvent{ID: "e1", SessionID: "c2", At: t0, Kind: storage.EventJoined}); err != nil {
		t.Fatal(err)
	}
	seq := int64(0)
	apply := func(r storage.ServiceReport) {
		t.Helper()
		ss, err := s.Session(ctx, r.SessionID)
		if err != nil {
			t.Fatal(err)
		}
		seq++
		r.OrgID, r.SiteID, r.Origin = ss.OrgID, ss.SiteID, "node-a"
		r.CreatedBy, r.EditedBy, r.CreatedAt = "u1", "u1", t0
		res, err := s.ApplyHistory(ctx, []storage.HistoryMessage{reportMessage(t, ss, seq, r)})
		if err != nil || len(res.Rejected) != 0 {
			t.Fatalf("apply report version %s: %+v, %v", r.VersionID, res, err)
		}
	}
	at := func(min int) time.Time { return t0.Add(time.Duration(min) * time.Minute) }
	apply(storage.ServiceReport{ID: "r1", VersionID: "r1-v1", SessionID: "c1", Version: 1, EditedAt: at(1),
		Body: "Seal replaced on the flange", Fields: map[string]string{"asset": "Pump 4", "parts": "gasket DN50"}})
	apply(storage.ServiceReport{ID: "r1", VersionID: "r1-v2", SessionID: "c1", Version: 2, EditedAt: at(2),
		Body: "Impeller worn, seal replaced", Fields: map[string]string{"asset": "Pump 4", "parts": "impeller"}})
	apply(storage.ServiceReport{ID: "r2", VersionID: "r2-v1", SessionID: "c2", Version: 1, EditedAt: at(3),
		Body: "Café CRÈME v1.5 in pump_log.txt", Fields: map[string]string{"x": "Ölwechsel", "y": "nut\x00bolt"}})
	apply(storage.ServiceReport{ID: "r3", VersionID: "r3-v1", SessionID: "c3", Version: 1, EditedAt: at(4),
		Body: "impeller", Fields: map[string]string{}})
	apply(storage.ServiceReport{ID: "r4", VersionID: "r4-v1", SessionID: "c2", Version: 1, EditedAt: at(5),
		Body: "impeller gone", Fields: map[string]string{}})
	apply(storage.ServiceReport{ID: "r4", VersionID: "r4-v2", SessionID: "c2", Version: 2, EditedAt: at(6), Deleted: true})

	search := func(q storage.ServiceReportQuery) []string {
		t.Helper()
		if q.OrgID == "" {
			q.OrgID = "o1"
		}
		if q.Limit == 0 {
			q.Limit = 10
		}
		rs, err := s.SearchServiceReports(ctx, q)
		if err != nil {
			t.Fatalf("search %+v: %v", q, err)
		}
		var ids []string
		for _, r := range rs {
			ids = append(ids, r.VersionID)
		}
		return ids
	}
	for _, c := range []struct {
		text string
		want []string
	}{
		{"", []string{"r2-v1", "r1-v2"}}, // the latest edited first; not the deleted r4
		{"impel", []string{"r1-v2"}},     // a prefix of the standing text
		{"pump impell", []string{"r1-v2"}},
		{"pump", []string{"r2-v1", "r1-v2"}}, // a field's value, a part of pump_log
		{"IMPELLER", []string{"r1-v2"}},
		{"worn seal", []string{"r1-v2"}}, // every word, in any order
		{"flange", nil},                  // only in version 1
		{"gasket", nil},                  // a field value of version 1
		{"gone", nil},                    // a deleted report
		{`"asset" OR x`, nil},            // no FTS5 syntax from the user
		{"cafe", []string{"r2-v1"}},
		{"creme", []string{"r2-v1"}},
		{"ölw", []string{"r2-v1"}},
		{"olwechsel", []string{"r2-v1"}},
		{"bolt", []string{"r2-v1"}},     // after a NUL, a field value's break between words
		{"pump_log", []string{"r2-v1"}}, // a phrase of its parts
		{"pump_l", []string{"r2-v1"}},
		{"log_pump", nil}, // in that order only
		{"v1.5", []string{"r2-v1"}},
		{"in.pump", []string{"r2-v1"}},
		{"4-impeller", []string{"r1-v2"}}, // across two field values
		{"replaced-pump", nil},            // not across the body and the fields
		{"4", []string{"r1-v2"}},          // a prefix, even of one character
		{"s", []string{"r1-v2"}},          // seal
		{"theirs", nil},                   // the session's name is not the report's
		{"...", nil},                      // a word of punctuation alone matches nothing
	} {
		if got := search(storage.ServiceReportQuery{Text: c.text}); !slices.Equal(got, c.want) {
			t.Errorf("search %q = %v, want %v", c.text, got, c.want)
		}
	}
	for _, c := range []struct {
		name string
		q    storage.ServiceReportQuery
		want []string
	}{
		{"another organisation", storage.ServiceReportQuery{OrgID: "o2", Text: "impeller"}, []string{"r3-v1"}},
		{"of one session", storage.ServiceReportQuery{Sessions: []string{"c2"}}, []string{"r2-v1"}},
		{"of sessions", storage.ServiceReportQuery{Sessions: []string{"c2", "c1", "c3"}, Text: "pump"}, []string{"r2-v1", "r1-v2"}},
		{"of the creator's sessions", storage.ServiceReportQuery{UserID: "u1"}, []string{"r1-v2"}},
		{"of the owner's sessions", storage.ServiceReportQuery{UserID: "u2"}, []string{"r2-v1"}},
		{"of a participant's sessions", storage.ServiceReportQuery{UserID: "u3"}, []string{"r2-v1"}},
		{"of a stranger's sessions", storage.ServiceReportQuery{UserID: "u9"}, nil},
		{"limited", storage.ServiceReportQuery{Limit: 1}, []string{"r2-v1"}},
	} {
		if got := search(c.q); !slices.Equal(got, c.want) {
			t.Errorf("%s: %v, want %v", c.name, got, c.want)
		}
	}
	rs, err := s.SearchServiceReports(ctx, storage.ServiceReportQuery{OrgID: "o1", Text: "seal", Limit: 5})
	if err != nil || len(rs) != 1 || rs[0].SessionName != "Pump check" || rs[0].Body != "Impeller worn, seal replaced" ||
		rs[0].Fields["parts"] != "impeller" || !rs[0].EditedAt.Equal(at(2)) || rs[0].Origin != "node-a" || rs[0].Version != 2 {
		t.Errorf("search seal: %+v, %v", rs, err)
	}
	for _, c := range []struct {
		q     storage.ServiceReportQuery
		field string
	}{
		{storage.ServiceReportQuery{Limit: 5}, "org_id"},
		{storage.ServiceReportQuery{OrgID: "o1"}, "limit"},
		{storage.ServiceReportQuery{OrgID: "o1", Limit: 1001}, "limit"},
	} {
		_, err := s.SearchServiceReports(ctx, c.q)
		var ve *storage.ValidationError
		if !errors.As(err, &ve) || ve.Field != c.field || !strings.Contains(err.Error(), "search service reports") {
			t.Errorf("%+v: %v, want a validation error of %s", c.q, err, c.field)
		}
	}
}
