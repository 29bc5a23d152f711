package storagetest

import (
	"context"
	"errors"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"siteline/storage"
	"siteline/storage/historygen"
)

// SearchBackend is what SessionSearch drives: the session store, the
// history search and the setters of storage.SessionHistoryStore, a
// session's summary, and the history applier that brings service reports
// to headquarters.
type SearchBackend interface {
	FieldsBackend
	storage.HistoryApplier
	SearchSessions(ctx context.Context, q storage.SessionQuery) (storage.SessionPage, error)
}

// SearchSuite is how SessionSearch gets its stores.
type SearchSuite struct {
	// Open returns a new store, empty but for the organisation data that
	// holds Labels, closed when the test ends.
	Open func(t *testing.T) SearchBackend
	// Generate returns a new store holding the organisations of
	// historygen.Orgs(cfg) and the sessions historygen.Fill makes of
	// them, closed when the test ends.
	Generate func(t *testing.T, cfg historygen.Config) SearchBackend
	// CheckIndex fails t when the store's full-text index differs from
	// what its rows hold; SessionSearch calls it after writes.
	CheckIndex func(t *testing.T, s SearchBackend)
	// Vary, when set, is called before the i-th random query of
	// MatchesReference, to switch the store between its ways of running
	// a query, which must all give the same.
	Vary func(i int)
	// Short runs fewer sessions and queries (under the race detector).
	Short bool
}

// SessionSearch tests SearchSessions: every filter, sort and page against
// a reference model of the generated history, the checks of bad queries,
// the text found after each kind of write, case and diacritics, and the
// byte order of text sort keys and ties.
func SessionSearch(t *testing.T, suite SearchSuite) {
	t.Run("MatchesReference", func(t *testing.T) { searchMatchesReference(t, suite) })
	t.Run("RowContent", func(t *testing.T) { searchRowContent(t, suite) })
	t.Run("BadInput", func(t *testing.T) { searchBadInput(t, suite) })
	t.Run("FollowsWrites", func(t *testing.T) { searchFollowsWrites(t, suite) })
	t.Run("ReportText", func(t *testing.T) { searchReportText(t, suite) })
	t.Run("ListsSessionFields", func(t *testing.T) { searchListsSessionFields(t, suite.Open(t)) })
	t.Run("Words", func(t *testing.T) { searchWords(t, suite) })
	t.Run("ByteOrder", func(t *testing.T) { searchByteOrder(t, suite.Open(t)) })
}

// searchMatchesReference: random queries, every filter, sort and order
// and page size, paged to the end, give the reference model's sessions in
// its order.
func searchMatchesReference(t *testing.T, suite SearchSuite) {
	cfg, queries := TestHistory, 150
	if suite.Short {
		cfg.Sessions, queries = 600, 40
	}
	s := suite.Generate(t, cfg)
	orgs, all := generated(t, cfg)
	if suite.CheckIndex != nil {
		suite.CheckIndex(t, s)
	}
	if len(all) != cfg.Sessions {
		t.Fatalf("generated %d sessions, want %d", len(all), cfg.Sessions)
	}
	r := rand.New(rand.NewPCG(42, 1))
	nonEmpty := 0
	for i := range queries {
		q := randomQuery(r, orgs, all, cfg)
		if suite.Vary != nil {
			suite.Vary(i)
		}
		want := reference(all, q)
		rows := pageAll(t, s, q)
		got := make([]string, len(rows))
		for j, x := range rows {
			got[j] = x.ID
			if x.OrgID != q.OrgID {
				t.Fatalf("query %d %+v returned session %s of organisation %s", i, q, x.ID, x.OrgID)
			}
		}
		if !slices.Equal(got, want) {
			t.Fatalf("query %d %+v:\n got %d ids %v\nwant %d ids %v", i, q, len(got), head(got), len(want), head(want))
		}
		if len(got) > 0 {
			nonEmpty++
		}
	}
	// The combinations must exercise something: most find sessions.
	if nonEmpty < queries/2 {
		t.Fatalf("only %d of %d random queries found sessions", nonEmpty, queries)
	}
}

func head(ids []string) []string { return ids[:min(len(ids), 8)] }

// searchRowContent: each row lists the session as stored.
func searchRowContent(t *testing.T, suite SearchSuite) {
	cfg := historygen.Config{Seed: 3, Sessions: 200, Orgs: 1, UsersPerOrg: 10}
	s := suite.Generate(t, cfg)
	orgs, all := generated(t, cfg)
	byID := map[string]refSession{}
	for _, x := range all {
		byID[x.ID] = x
	}
	rows := pageAll(t, s, storage.SessionQuery{OrgID: orgs[0].ID, Limit: 500})
	if len(rows) != 200 {
		t.Fatalf("got %d sessions, want 200", len(rows))
	}
	for _, got := range rows {
		want := byID[got.ID]
		if got.Name != want.Name || got.Goal != want.Goal || got.Notes != want.Notes || got.Outcome != want.Outcome ||
			got.OwnerID != want.OwnerID || !got.StartedAt.Equal(want.StartedAt) || !slices.Equal(got.Labels, want.Labels) ||
			(got.SolvedAt == nil) != (want.SolvedAt == nil) || (got.EndedAt == nil) != (want.EndedAt == nil) {
			t.Fatalf("row %+v differs from the stored session %+v", got, want.SessionSummary)
		}
	}
}

// searchBadInput: each bad query is a validation error naming its field.
func searchBadInput(t *testing.T, suite SearchSuite) {
	cfg := historygen.Config{Seed: 5, Sessions: 30, Orgs: 2, UsersPerOrg: 5}
	s := suite.Generate(t, cfg)
	orgs, _ := historygen.Orgs(cfg)
	ctx := context.Background()
	org := orgs[0].ID
	first, err := s.SearchSessions(ctx, storage.SessionQuery{OrgID: org, Limit: 5})
	if err != nil || first.Next == "" {
		t.Fatalf("first page: %v, next %q", err, first.Next)
	}
	body, sum, _ := strings.Cut(first.Next, ".")
	forged := []byte(body)
	forged[3] ^= 1
	day := time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		name  string
		q     storage.SessionQuery
		field string
		says  string
	}{
		{"no organisation", storage.SessionQuery{}, "org_id", "is required"},
		{"unknown sort", storage.SessionQuery{OrgID: org, Sort: "colour"}, "sort", `"colour" is not a sortable column`},
		{"inverted dates", storage.SessionQuery{OrgID: org, From: day, To: day.Add(-time.Hour)}, "from", "is not before to"},
		{"empty date range", storage.SessionQuery{OrgID: org, From: day, To: day}, "from", "is not before to"},
		{"page too large", storage.SessionQuery{OrgID: org, Limit: 501}, "limit", "outside 0 to 500"},
		{"negative page", storage.SessionQuery{OrgID: org, Limit: -1}, "limit", "outside 0 to 500"},
		{"unknown status", storage.SessionQuery{OrgID: org, Status: "paused"}, "status", `"paused" is not ringing`},
		{"bad outcome", storage.SessionQuery{OrgID: org, Outcome: "Solved!"}, "outcome", `"Solved!" is not an outcome`},
		{"own sessions of nobody", storage.SessionQuery{OrgID: org, OwnOnly: true}, "viewer_id", "is required"},
		{"text without words", storage.SessionQuery{OrgID: org, Text: `"*"`}, "text", "has no word"},
		{"too many words", storage.SessionQuery{OrgID: org, Text: "a b c d e f g h i"}, "text", "at most 8"},
		{"malformed cursor", storage.SessionQuery{OrgID: org, Limit: 5, Cursor: "not a cursor"}, "cursor", "malformed"},
		{"forged cursor", storage.SessionQuery{OrgID: org, Limit: 5, Cursor: string(forged) + "." + sum}, "cursor", "altered"},
		{"cursor of another sort", storage.SessionQuery{OrgID: org, Limit: 5, Sort: storage.SortStart, Desc: true, Cursor: first.Next},
			"cursor", "belongs to another query"},
		{"cursor of another organisation", storage.SessionQuery{OrgID: orgs[1].ID, Limit: 5, Cursor: first.Next},
			"cursor", "belongs to another query"},
		{"cursor of another filter", storage.SessionQuery{OrgID: org, Limit: 5, Status: storage.SessionEnded, Cursor: first.Next},
			"cursor", "belongs to another query"},
	} {
		_, err := s.SearchSessions(ctx, c.q)
		var ve *storage.ValidationError
		if !errors.As(err, &ve) || ve.Field != c.field || !strings.Contains(ve.Problem, c.says) {
			t.Errorf("%s: got %v, want a validation error of %s saying %q", c.name, err, c.field, c.says)
		}
		if !errors.Is(err, storage.ErrInvalid) {
			t.Errorf("%s: %v is not storage.ErrInvalid", c.name, err)
		}
	}
	// The same query with another page size keeps its cursor, and goes on
	// after the first page.
	next, err := s.SearchSessions(ctx, storage.SessionQuery{OrgID: org, Limit: 7, Cursor: first.Next})
	if err != nil {
		t.Fatalf("next page with another size: %v", err)
	}
	if len(next.Sessions) != 7 || next.Sessions[0].StartedAt.Before(first.Sessions[4].StartedAt) {
		t.Errorf("next page with another size: %d rows from %v, after %v", len(next.Sessions), next.Sessions, first.Sessions[4].StartedAt)
	}
	// The default page is 50 rows.
	all, err := s.SearchSessions(ctx, storage.SessionQuery{OrgID: org})
	if err != nil {
		t.Fatal(err)
	}
	if n := len(pageAll(t, s, storage.SessionQuery{OrgID: org, Limit: 500})); len(all.Sessions) != min(n, 50) || (n > 50) != (all.Next != "") {
		t.Errorf("default page: %d rows, next %q, of %d", len(all.Sessions), all.Next, n)
	}
}

// find is the ids of the first page of o1's sessions matching text.
func find(t *testing.T, s SearchBackend, text string) []string {
	t.Helper()
	page, err := s.SearchSessions(context.Background(), storage.SessionQuery{OrgID: "o1", Text: text})
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, x := range page.Sessions {
		ids = append(ids, x.ID)
	}
	return ids
}

// searchFollowsWrites: the full-text index changes with the rows written
// through the ordinary store methods.
func searchFollowsWrites(t *testing.T, suite SearchSuite) {
	s := suite.Open(t)
	ctx := context.Background()
	if err := s.CreateSession(ctx, storage.Session{ID: "c1", OrgID: "o1", SiteID: "s1", Name: "Gearbox noise",
		CreatedBy: "u1", StartedAt: t0}); err != nil {
		t.Fatal(err)
	}
	expect := func(text string, want ...string) {
		t.Helper()
		if suite.CheckIndex != nil {
			suite.CheckIndex(t, s)
		}
		if got := find(t, s, text); !slices.Equal(got, want) {
			t.Errorf("search %q: got %v, want %v", text, got, want)
		}
	}
	expect("gearbox", "c1")
	expect("Zanzibar")
	if err := s.RecordJoin(ctx, storage.SessionParticipant{ID: "p1", SessionID: "c1", UserID: "u2", DisplayName: "Zanzibar Bob",
		JoinedAt: t0}, storage.SessionEvent{ID: "e1", SessionID: "c1", At: t0, Kind: storage.EventJoined}); err != nil {
		t.Fatal(err)
	}
	expect("zanzi", "c1")
	if err := s.AppendSessionEvent(ctx, storage.SessionEvent{ID: "e2", SessionID: "c1", At: t0, Kind: storage.EventChat,
		Payload: []byte(`{"text":"the coupling is cracked"}`)}); err != nil {
		t.Fatal(err)
	}
	expect("coupling cracked", "c1")
	expect("coupling intact")
	// An escaped NUL in a chat line, which PostgreSQL text cannot hold,
	// breaks words and stops nothing.
	if err := s.AppendSessionEvent(ctx, storage.SessionEvent{ID: "e4", SessionID: "c1", At: t0, Kind: storage.EventChat,
		Payload: []byte(`{"text":"gland\u0000seized"}`)}); err != nil {
		t.Fatal(err)
	}
	expect("gland seized", "c1")
	// Another event's text is not the chat's.
	if err := s.AppendSessionEvent(ctx, storage.SessionEvent{ID: "e3", SessionID: "c1", At: t0, Kind: storage.EventSnapshot,
		Payload: []byte(`{"text":"quasar"}`)}); err != nil {
		t.Fatal(err)
	}
	expect("quasar")
	v := storage.Version{At: t0.Add(time.Hour), Origin: "n1"}
	if _, err := s.SetSessionNotes(ctx, "c1", "Ordered a new flange", v); err != nil {
		t.Fatal(err)
	}
	if _, err := s.SetSessionDetails(ctx, "c1", "Conveyor stop", "Restart the line", v); err != nil {
		t.Fatal(err)
	}
	expect("flange", "c1")
	expect("gearbox")
	expect("conveyor restart", "c1")
	// Labels' names are not searched.
	if _, err := s.SetSessionLabels(ctx, "c1", []string{"l2"}, v); err != nil {
		t.Fatal(err)
	}
	expect("valve")
	// Another organisation's search never sees it.
	page, err := s.SearchSessions(ctx, storage.SessionQuery{OrgID: "o2", Text: "conveyor"})
	if err != nil || len(page.Sessions) != 0 {
		t.Errorf("organisation o2 found %v, %v", page.Sessions, err)
	}
}

// searchReportText: at headquarters, a session is found by the text of
// its service report that stands (body and field values), not by a
// version an edit replaced or one that lost to a later edit, and no
// longer once the report is deleted.
func searchReportText(t *testing.T, suite SearchSuite) {
	s := suite.Open(t)
	ctx := context.Background()
	for _, id := range []string{"c1", "c2"} {
		if err := s.CreateSession(ctx, storage.Session{ID: id, OrgID: "o1", SiteID: "plant", CreatedBy: "u1", Name: "pump check", StartedAt: t0}); err != nil {
			t.Fatal(err)
		}
	}
	ss, err := s.Session(ctx, "c1")
	if err != nil {
		t.Fatal(err)
	}
	apply := func(seq int64, r storage.ServiceReport) {
		t.Helper()
		res, err := s.ApplyHistory(ctx, []storage.HistoryMessage{reportMessage(t, ss, seq, r)})
		if err != nil || len(res.Rejected) != 0 {
			t.Fatalf("apply report version %s: %+v, %v", r.VersionID, res, err)
		}
	}
	expect := func(step, text string, want ...string) {
		t.Helper()
		if suite.CheckIndex != nil {
			suite.CheckIndex(t, s)
		}
		if got := find(t, s, text); !slices.Equal(got, want) {
			t.Errorf("%s: search %q: got %v, want %v", step, text, got, want)
		}
	}
	at := t0.Add(time.Hour)
	apply(1, reportVersion(1, "node-a", at, "Gearbox coupling worn"))
	expect("written", "gearbox", "c1")
	expect("written", "coupl", "c1")
	expect("written", "p", "c1") // the field asset's "P-7"
	expect("written", "pump gearbox", "c1")
	expect("written", "pump", "c1", "c2")

	apply(2, reportVersion(2, "node-a", at.Add(time.Minute), "Shaft realigned"))
	// As late as node-a's v2, but "node-a" > "Node-b": v2 stands.
	apply(1, reportVersion(1, "Node-b", at.Add(time.Minute), "Bearing noise"))
	expect("edited", "gearbox")
	expect("edited", "bearing")
	expect("edited", "shaft", "c1")

	deleted := reportVersion(3, "node-a", at.Add(2*time.Minute), "Shaft realigned")
	deleted.Deleted, deleted.Fields = true, nil
	apply(3, deleted)
	expect("deleted", "shaft")
	expect("deleted", "text")
	expect("deleted", "pump", "c1", "c2")
}

// searchWords: how text splits into words and which term finds which
// word, the same on every store: case and diacritics ignored on both
// sides, every character that is neither a letter nor a digit a break
// (an e-mail address, a file name and a decimal number are several
// words), a term of two characters or more a word prefix, a single one a
// whole word, every term required.
func searchWords(t *testing.T, suite SearchSuite) {
	s := suite.Open(t)
	ctx := context.Background()
	for _, ss := range []storage.Session{
		{ID: "w1", Name: "Café Müller", Goal: "ask bob@example.com about v1.5 in pump_log.txt"},
		{ID: "w2", Name: "CAFE ÉCLAIR", Goal: "Ölwechsel, 2 Filter; x-ray"},
		{ID: "w3", Name: "Straße naïve", Goal: "a b"},
		// A word longer than a PostgreSQL lexeme may be does not stop
		// the others being found.
		{ID: "w4", Name: strings.Repeat("q", 3000) + " yak"},
	} {
		ss.OrgID, ss.SiteID, ss.CreatedBy, ss.StartedAt = "o1", "s1", "u1", t0
		if err := s.CreateSession(ctx, ss); err != nil {
			t.Fatal(err)
		}
	}
	if suite.CheckIndex != nil {
		suite.CheckIndex(t, s)
	}
	for _, c := range []struct {
		text string
		want []string
	}{
		{"cafe", []string{"w1", "w2"}},
		{"CAFÉ", []string{"w1", "w2"}},
		{"caf", []string{"w1", "w2"}},
		{"muller", []string{"w1"}},
		{"müll", []string{"w1"}},
		{"eclair", []string{"w2"}},
		{"olwechsel", []string{"w2"}},
		{"example", []string{"w1"}},
		{"com", []string{"w1"}},
		{"bob@example.com", []string{"w1"}},
		{"5", []string{"w1"}},
		{"v1", []string{"w1"}},
		{"1", nil}, // a single character is a whole word: "v1" is not "1"
		{"txt", []string{"w1"}},
		{"log", []string{"w1"}},
		{"pump_log", []string{"w1"}},
		{"2", []string{"w2"}},
		{"ray", []string{"w2"}},
		{"x", []string{"w2"}},
		{"a", []string{"w3"}}, // "ask" and "about" are not "a"
		{"b", []string{"w3"}},
		{"naive", []string{"w3"}},
		{"straße", []string{"w3"}},
		{"cafe muller", []string{"w1"}},
		{"cafe pump", []string{"w1"}},
		{"cafe zebra", nil},
		{"ample", nil}, // a prefix, not a substring
		{"yak", []string{"w4"}},
	} {
		got := find(t, s, c.text)
		slices.Sort(got)
		if !slices.Equal(got, c.want) {
			t.Errorf("search %q: got %v, want %v", c.text, got, c.want)
		}
	}
}

// searchByteOrder: text sort keys and the ids that break ties compare
// byte by byte, whatever the database's locale; the name ignores ASCII
// case only.
func searchByteOrder(t *testing.T, s SearchBackend) {
	ctx := context.Background()
	for _, ss := range []storage.Session{
		{ID: "b", Name: "apple", SiteID: "site-b"},
		{ID: "B", Name: "Apple", SiteID: "Site-a"},
		{ID: "a", Name: "Éclair", SiteID: "site-a"},
		{ID: "_", Name: "banana", SiteID: "site_a"},
		{ID: "A", Name: "Zebra", SiteID: "site-b"},
		{ID: "e1", Name: "Ézra", SiteID: "site-c"}, // not lower-cased: "Ézra" < "éa" byte by byte
		{ID: "e2", Name: "éa", SiteID: "site-c"},
	} {
		ss.OrgID, ss.CreatedBy, ss.StartedAt = "o1", "u1", t0
		if err := s.CreateSession(ctx, ss); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range []struct {
		sort storage.SessionSort
		desc bool
		want []string
	}{
		{storage.SortStart, false, []string{"A", "B", "_", "a", "b", "e1", "e2"}},
		{storage.SortStart, true, []string{"e2", "e1", "b", "a", "_", "B", "A"}},
		{storage.SortName, false, []string{"B", "b", "_", "A", "a", "e1", "e2"}},
		{storage.SortName, true, []string{"e2", "e1", "a", "A", "_", "b", "B"}},
		{storage.SortSite, false, []string{"B", "a", "A", "b", "e1", "e2", "_"}},
	} {
		for _, limit := range []int{1, 2, 500} {
			rows := pageAll(t, s, storage.SessionQuery{OrgID: "o1", Sort: c.sort, Desc: c.desc, Limit: limit})
			var got []string
			for _, x := range rows {
				got = append(got, x.ID)
			}
			if !slices.Equal(got, c.want) {
				t.Errorf("sort %s desc %v pages of %d: got %v, want %v", c.sort, c.desc, limit, got, c.want)
			}
		}
	}
}

// searchListsSessionFields: the history's list shows a session's fields
// as the setters left them, as SessionSummary does.
func searchListsSessionFields(t *testing.T, s SearchBackend) {
	ctx := context.Background()
	if err := s.CreateSession(ctx, storage.Session{ID: "c1", OrgID: "o1", SiteID: "s1", CreatedBy: "u1", StartedAt: t0}); err != nil {
		t.Fatal(err)
	}
	v := func(min int) storage.Version {
		return storage.Version{At: t0.Add(time.Duration(min) * time.Minute), Origin: "a"}
	}
	fixed := t0.Add(25 * time.Minute)
	for _, err := range []error{
		second(s.SetSessionOutcome(ctx, "c1", "fixed_remotely", &fixed, v(30))),
		second(s.SetSessionLabels(ctx, "c1", []string{"l2", "l1", "l2"}, v(1))),
		second(s.SetSessionNotes(ctx, "c1", "first", v(3))),
		second(s.SetSessionDetails(ctx, "c1", "Pump", "Fix it", v(3))),
	} {
		if err != nil {
			t.Fatal(err)
		}
	}
	page, err := s.SearchSessions(ctx, storage.SessionQuery{OrgID: "o1"})
	if err != nil || len(page.Sessions) != 1 {
		t.Fatalf("search: %v, %d rows", err, len(page.Sessions))
	}
	got := page.Sessions[0]
	if d, ok := got.TimeToSolve(); !ok || d != 25*time.Minute || got.Outcome != "fixed_remotely" ||
		!slices.Equal(got.Labels, []string{"l1", "l2"}) || got.Notes != "first" || got.Name != "Pump" || got.Goal != "Fix it" {
		t.Errorf("the history lists %+v", got)
	}
	if one, err := s.SessionSummary(ctx, "o1", "c1"); err != nil || !reflect.DeepEqual(one, got) {
		t.Errorf("SessionSummary = %+v, %v; the history lists %+v", one, err, got)
	}
}

func second(_ bool, err error) error { return err }
