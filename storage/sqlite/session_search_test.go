package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"math"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"siteline/storage"
	"siteline/storage/historygen"
	"siteline/storage/storagetest"
)

// historyStore is a store filled by the generator through a bulk load,
// with its orgs.
func historyStore(t testing.TB, cfg historygen.Config) (*Store, []historygen.Org) {
	t.Helper()
	s, err := Open(context.Background(), t.TempDir()+"/siteline.db", nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	orgs, cmd := historygen.Orgs(cfg)
	if err := s.Apply(context.Background(), 1, cmd); err != nil {
		t.Fatalf("apply generated orgs: %v", err)
	}
	load, err := s.BulkLoad(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := historygen.Fill(context.Background(), load, orgs, cfg); err != nil {
		t.Fatal(err)
	}
	if err := load.Finish(context.Background()); err != nil {
		t.Fatal(err)
	}
	return s, orgs
}

// refSession is a session as the reference model sees it, read by plain
// SQL without the search's indexes, FTS tables or sort keys.
type refSession struct {
	storage.SessionSummary
	participants []string // user ids
	words        []string // every word of name, goal, notes, participants' names, chat, reports
}

func loadReference(t *testing.T, s *Store) []refSession {
	t.Helper()
	ctx := context.Background()
	all, err := collect(ctx, s.read, func(r *sql.Rows) (refSession, error) {
		var x refSession
		err := r.Scan(&x.ID, &x.OrgID, &x.SiteID, &x.Name, &x.Goal, &x.Status, &x.OwnerID, &x.Outcome, &x.Notes,
			timeDest{&x.StartedAt}, optTimeDest{&x.EndedAt}, optTimeDest{&x.SolvedAt})
		return x, err
	}, `SELECT id, org_id, site_id, name, goal, status, owner_id, outcome, notes, started_at, ended_at, solved_at FROM sessions`)
	if err != nil {
		t.Fatal(err)
	}
	byID := map[string]*refSession{}
	for i := range all {
		all[i].Labels = []string{}
		all[i].words = searchTerms(all[i].Name + " " + all[i].Goal + " " + all[i].Notes)
		byID[all[i].ID] = &all[i]
	}
	pairs := func(q string) [][2]string {
		out, err := collect(ctx, s.read, func(r *sql.Rows) ([2]string, error) {
			var p [2]string
			err := r.Scan(&p[0], stringDest{&p[1]})
			return p, err
		}, q)
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	for _, p := range pairs(`SELECT session_id, user_id FROM session_participants`) {
		byID[p[0]].participants = append(byID[p[0]].participants, p[1])
	}
	for _, p := range pairs(`SELECT session_id, display_name FROM session_participants`) {
		byID[p[0]].words = append(byID[p[0]].words, searchTerms(p[1])...)
	}
	for _, p := range pairs(`SELECT session_id, json_extract(payload, '$.text') FROM session_events WHERE kind = 'chat'`) {
		byID[p[0]].words = append(byID[p[0]].words, searchTerms(p[1])...)
	}
	for _, p := range pairs(`SELECT r.session_id, r.body || ' ' || (SELECT group_concat(value, ' ') FROM json_each(r.fields))
		FROM service_reports r WHERE NOT r.deleted`) {
		byID[p[0]].words = append(byID[p[0]].words, searchTerms(p[1])...)
	}
	for _, p := range pairs(`SELECT session_id, label_id FROM session_labels ORDER BY label_id`) {
		byID[p[0]].Labels = append(byID[p[0]].Labels, p[1])
	}
	return all
}

// refKey is the sort key as defined in package storage.
func refKey(x refSession, sort storage.SessionSort) (int64, string) {
	dur := func(d time.Duration, ok bool) int64 {
		if !ok {
			return math.MaxInt64
		}
		return int64(d)
	}
	switch sort {
	case storage.SortEnd:
		if x.EndedAt == nil {
			return math.MaxInt64, ""
		}
		return x.EndedAt.UnixNano(), ""
	case storage.SortDuration:
		return dur(x.Duration()), ""
	case storage.SortTimeToSolve:
		return dur(x.TimeToSolve()), ""
	case storage.SortName:
		return 0, strings.Map(func(r rune) rune {
			if r >= 'A' && r <= 'Z' {
				return r + 'a' - 'A'
			}
			return r
		}, x.Name)
	case storage.SortSite:
		return 0, x.SiteID
	case storage.SortOwner:
		return 0, x.OwnerID
	case storage.SortOutcome:
		return 0, x.Outcome
	}
	return x.StartedAt.UnixNano(), ""
}

// reference answers q from the model: the ids in order.
func reference(all []refSession, q storage.SessionQuery) []string {
	var out []refSession
	has := func(list []string, v string) bool { return slices.Contains(list, v) }
	for _, x := range all {
		switch {
		case x.OrgID != q.OrgID,
			!q.From.IsZero() && x.StartedAt.Before(q.From),
			!q.To.IsZero() && !x.StartedAt.Before(q.To),
			q.OwnerID != "" && x.OwnerID != q.OwnerID,
			q.ParticipantID != "" && !has(x.participants, q.ParticipantID),
			q.OwnOnly && x.OwnerID != q.ViewerID && !has(x.participants, q.ViewerID),
			len(q.LabelIDs) > 0 && !slices.ContainsFunc(q.LabelIDs, func(l string) bool { return has(x.Labels, l) }),
			len(q.SiteIDs) > 0 && !has(q.SiteIDs, x.SiteID),
			q.Status != "" && x.Status != q.Status,
			q.Outcome != "" && x.Outcome != q.Outcome:
			continue
		}
		match := true
		for _, term := range searchTerms(q.Text) {
			if !slices.ContainsFunc(x.words, func(w string) bool {
				return w == term || len(term) > 1 && strings.HasPrefix(w, term)
			}) {
				match = false
			}
		}
		if match {
			out = append(out, x)
		}
	}
	sort := q.Sort
	if sort == "" {
		sort = storage.SortStart
	}
	slices.SortFunc(out, func(a, b refSession) int {
		an, as := refKey(a, sort)
		bn, bs := refKey(b, sort)
		c := cmpInt(an, bn)
		if c == 0 {
			c = strings.Compare(as, bs)
		}
		if c == 0 {
			c = strings.Compare(a.ID, b.ID)
		}
		if q.Desc {
			return -c
		}
		return c
	})
	ids := make([]string, len(out))
	for i, x := range out {
		ids[i] = x.ID
	}
	return ids
}

func cmpInt(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// pageAll pages through q with its cursor and returns every row.
func pageAll(t *testing.T, s *Store, q storage.SessionQuery) []storage.SessionSummary {
	t.Helper()
	var out []storage.SessionSummary
	for pages := 0; ; pages++ {
		if pages > 10000 {
			t.Fatalf("%+v: paging does not end", q)
		}
		page, err := s.SearchSessions(context.Background(), q)
		if err != nil {
			t.Fatalf("SearchSessions(%+v): %v", q, err)
		}
		if len(page.Sessions) > max(q.Limit, 1) || (page.Next != "" && len(page.Sessions) != q.Limit) {
			t.Fatalf("%+v: page of %d rows, next %q", q, len(page.Sessions), page.Next)
		}
		out = append(out, page.Sessions...)
		if page.Next == "" {
			return out
		}
		q.Cursor = page.Next
	}
}

func randomQuery(r *rand.Rand, orgs []historygen.Org, all []refSession, cfg historygen.Config) storage.SessionQuery {
	o := orgs[r.IntN(len(orgs))]
	q := storage.SessionQuery{OrgID: o.ID, Limit: 10 + r.IntN(90),
		Sort: storage.SessionSorts[r.IntN(len(storage.SessionSorts))], Desc: r.IntN(2) == 0}
	user := func() string { return o.Users[r.IntN(len(o.Users))].ID }
	// Filters are each present about a third of the time.
	if r.IntN(3) == 0 {
		q.From = cfg.End.Add(-time.Duration(r.Int64N(int64(cfg.Span))))
		if r.IntN(2) == 0 {
			q.To = q.From.Add(time.Duration(r.Int64N(int64(cfg.Span / 3))))
		}
	} else if r.IntN(4) == 0 {
		q.To = cfg.End.Add(-time.Duration(r.Int64N(int64(cfg.Span))))
	}
	if r.IntN(6) == 0 {
		q.OwnerID = user()
	}
	if r.IntN(6) == 0 {
		q.ParticipantID = user()
	}
	if r.IntN(4) == 0 {
		q.OwnOnly, q.ViewerID = true, user()
	}
	if r.IntN(3) == 0 {
		for range 1 + r.IntN(2) {
			q.LabelIDs = append(q.LabelIDs, o.Labels[r.IntN(len(o.Labels))])
		}
	}
	if r.IntN(3) == 0 {
		for range 1 + r.IntN(2) {
			q.SiteIDs = append(q.SiteIDs, o.Sites[r.IntN(len(o.Sites))])
		}
	}
	if r.IntN(4) == 0 {
		q.Status = []string{storage.SessionEnded, storage.SessionActive}[r.IntN(2)]
	}
	if r.IntN(4) == 0 {
		q.Outcome = []string{"", storage.OutcomeSolved, storage.OutcomeNotSolved, storage.OutcomeFollowUp, "spare_part_ordered"}[r.IntN(5)]
	}
	if r.IntN(3) == 0 {
		// Words of some session, whole or a prefix, one or two of them.
		x := all[r.IntN(len(all))]
		var words []string
		for range 1 + r.IntN(2) {
			w := x.words[r.IntN(len(x.words))]
			if len(w) > 2 && r.IntN(2) == 0 {
				w = w[:1+r.IntN(len(w)-1)]
			}
			words = append(words, w)
		}
		q.Text = strings.Join(words, " ")
		if r.IntN(4) == 0 {
			q.Text = strings.ToUpper(q.Text) + "!"
		}
	}
	return q
}

var testHistory = historygen.Config{Seed: 7, Sessions: 3000, Orgs: 3, SitesPerOrg: 4, UsersPerOrg: 30, LabelsPerOrg: 10, Batch: 500,
	End: time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC), Span: 90 * 24 * time.Hour}

func TestSearchSessionsMatchesReference(t *testing.T) {
	cfg, queries := testHistory, 150
	if raceEnabled {
		cfg.Sessions, queries = 600, 40
	}
	s, orgs := historyStore(t, cfg)
	all := loadReference(t, s)
	checkSearchIndex(t, s)
	if len(all) != cfg.Sessions {
		t.Fatalf("generated %d sessions, want %d", len(all), cfg.Sessions)
	}
	r := rand.New(rand.NewPCG(42, 1))
	nonEmpty := 0
	defer func(n, l, m int) { rareMatches, shortList, setMatches = n, l, m }(rareMatches, shortList, setMatches)
	for i := range queries {
		q := randomQuery(r, orgs, all, cfg)
		// Searches start from a term's matches, from a list filter's
		// sessions or from the sort order, by turns: all must give the
		// same.
		rareMatches = []int{0, 4000}[i%2]
		shortList = []int{0, 1 << 30}[i/2%2]
		setMatches = []int{-1, 1 << 30}[i/4%2] // text checked row by row, or against its matches
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

func TestSearchSessionsRowContent(t *testing.T) {
	s, orgs := historyStore(t, historygen.Config{Seed: 3, Sessions: 200, Orgs: 1, UsersPerOrg: 10})
	all := loadReference(t, s)
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

func TestSearchSessionsBadInput(t *testing.T) {
	s, orgs := historyStore(t, historygen.Config{Seed: 5, Sessions: 30, Orgs: 2, UsersPerOrg: 5})
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
		{"unknown status", storage.SessionQuery{OrgID: org, Status: "paused"}, "status", `"paused" is not ringing`},
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
	}
	// The same query with another page size keeps its cursor.
	if _, err := s.SearchSessions(ctx, storage.SessionQuery{OrgID: org, Limit: 7, Cursor: first.Next}); err != nil {
		t.Fatalf("next page with another size: %v", err)
	}
}

// TestSearchFollowsWrites checks the full-text index changes with the rows
// written through the ordinary store methods.
func TestSearchFollowsWrites(t *testing.T) {
	s, _ := openTestStore(t)
	ctx := context.Background()
	mustApply(t, s, 1, seed())
	if err := s.CreateSession(ctx, storage.Session{ID: "c1", OrgID: "o1", SiteID: "s1", Name: "Gearbox noise",
		CreatedBy: "u1", StartedAt: t0}); err != nil {
		t.Fatal(err)
	}
	find := func(text string) []string {
		t.Helper()
		page, err := s.SearchSessions(ctx, storage.SessionQuery{OrgID: "o1", Text: text})
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, x := range page.Sessions {
			ids = append(ids, x.ID)
		}
		return ids
	}
	expect := func(text string, want ...string) {
		t.Helper()
		checkSearchIndex(t, s)
		if got := find(text); !slices.Equal(got, want) {
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
	// Another organisation's search never sees it.
	page, err := s.SearchSessions(ctx, storage.SessionQuery{OrgID: "o2", Text: "conveyor"})
	if err != nil || len(page.Sessions) != 0 {
		t.Errorf("organisation o2 found %v, %v", page.Sessions, err)
	}
}

// TestSearchListsSessionFields: the history's list shows a session's
// fields as the setters left them, as SessionSummary does. The setters'
// behaviour is storagetest.SessionFields' (TestSessionFields).
func TestSearchListsSessionFields(t *testing.T) {
	s, _ := openTestStore(t)
	ctx := context.Background()
	mustApply(t, s, 1, labelsCommand(storagetest.Labels))
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
