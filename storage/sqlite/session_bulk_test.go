package sqlite

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	"siteline/storage"
	"siteline/storage/historygen"
)

// A bulk load writes exactly the rows LoadSessions writes, full-text
// index included, and leaves the same schema behind.
func TestBulkLoadWritesWhatLoadSessionsWrites(t *testing.T) {
	ctx := context.Background()
	cfg := historygen.Config{Seed: 5, Sessions: 700, Orgs: 2, SitesPerOrg: 3, UsersPerOrg: 20, LabelsPerOrg: 8, Batch: 150}
	plain, orgs := filledStore(t, cfg, func(s *Store) historygen.Loader { return s })
	bulk, _ := filledStore(t, cfg, func(s *Store) historygen.Loader {
		l, err := s.BulkLoad(ctx)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { l.Abort(ctx) })
		return l
	})
	if len(orgs) == 0 {
		t.Fatal("no organisation generated")
	}
	for _, q := range []string{
		`SELECT type, name, tbl_name, sql FROM sqlite_schema ORDER BY type, name`,
		`SELECT rowid, * FROM sessions ORDER BY rowid`,
		`SELECT rowid, * FROM session_labels ORDER BY rowid`,
		`SELECT rowid, * FROM session_participants ORDER BY rowid`,
		`SELECT rowid, * FROM session_events ORDER BY rowid`,
		`SELECT * FROM session_search_fts_vocab ORDER BY term`,
		`SELECT rowid FROM session_search_fts WHERE session_search_fts MATCH 'pump*' ORDER BY rowid`,
		`SELECT rowid FROM session_search_fts WHERE session_search_fts MATCH 'novak' ORDER BY rowid`,
		`SELECT rowid FROM session_search_fts WHERE session_search_fts MATCH 'flange' ORDER BY rowid`,
	} {
		want, got := dump(t, plain, q), dump(t, bulk, q)
		if len(want) < 2 {
			t.Fatalf("%s: the reference store has only %d rows", q, len(want))
		}
		if !slices.Equal(got, want) {
			t.Fatalf("%s: bulk load differs (%d rows, want %d)", q, len(got), len(want))
		}
	}
	if _, err := bulk.write.Exec(`INSERT INTO session_search_fts (session_search_fts) VALUES ('integrity-check')`); err != nil {
		t.Fatalf("session_search_fts after a bulk load: %v", err)
	}
	// The writer is given back as it was: synced, its page cache and its
	// temporary files in memory.
	for _, p := range []string{`PRAGMA cache_size`, `PRAGMA synchronous`, `PRAGMA temp_store`} {
		var want, got int64
		if err := plain.write.QueryRow(p).Scan(&want); err != nil {
			t.Fatal(err)
		}
		if err := bulk.write.QueryRow(p).Scan(&got); err != nil {
			t.Fatal(err)
		}
		if got != want {
			t.Errorf("%s after a bulk load: %d, want %d", p, got, want)
		}
	}
}

// A bulk load refuses a bad session with the field named, and a session
// already there like LoadSessions does.
func TestBulkLoadRefusesBadSessions(t *testing.T) {
	ctx := context.Background()
	cfg := historygen.Config{Seed: 6, Sessions: 20, Orgs: 1, Batch: 20}
	s, _ := filledStore(t, cfg, func(s *Store) historygen.Loader { return s })
	var some storage.SessionBundle
	if err := s.read.QueryRow(`SELECT id FROM sessions LIMIT 1`).Scan(&some.Session.ID); err != nil {
		t.Fatal(err)
	}
	l, err := s.BulkLoad(ctx)
	if err != nil {
		t.Fatal(err)
	}
	bad := storage.SessionBundle{}
	bad.Session.ID, bad.Session.OrgID = "x", "org-01"
	if err := l.LoadSessions(ctx, []storage.SessionBundle{bad}); err == nil || !strings.Contains(err.Error(), "site_id") {
		t.Fatalf("session without a site: %v, want an error naming site_id", err)
	}
	l.Abort(ctx)
	var n int
	if err := s.read.QueryRow(`SELECT count(*) FROM sqlite_schema WHERE type = 'index' AND name = 'sessions_org_started'`).Scan(&n); err != nil || n != 1 {
		t.Fatalf("after an aborted load the index sessions_org_started is there %d times (%v)", n, err)
	}
	if err := s.LoadSessions(ctx, nil); err != nil {
		t.Fatalf("the writer after an aborted load: %v", err)
	}
}

func filledStore(t *testing.T, cfg historygen.Config, loader func(*Store) historygen.Loader) (*Store, []historygen.Org) {
	t.Helper()
	ctx := context.Background()
	s, err := Open(ctx, t.TempDir()+"/siteline.db", nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	orgs, cmd := historygen.Orgs(cfg)
	if err := s.Apply(ctx, 1, cmd); err != nil {
		t.Fatal(err)
	}
	l := loader(s)
	if _, err := historygen.Fill(ctx, l, orgs, cfg); err != nil {
		t.Fatal(err)
	}
	if b, ok := l.(*BulkLoad); ok {
		if err := b.Finish(ctx); err != nil {
			t.Fatal(err)
		}
	}
	return s, orgs
}

// dump is every row of a query, each printed as one string.
func dump(t *testing.T, s *Store, query string) []string {
	t.Helper()
	rows, err := s.read.Query(query)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	cols, _ := rows.Columns()
	var out []string
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		out = append(out, fmt.Sprintf("%#v", vals))
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// While a bulk load runs (its secondary indexes dropped), indexing one
// session still looks its participants and chat up by index: a scan of
// either table would make the load quadratic in the sessions loaded.
func TestBulkLoadIndexesEachSessionWithoutScanning(t *testing.T) {
	ctx := context.Background()
	s, err := Open(ctx, t.TempDir()+"/siteline.db", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	l, err := s.BulkLoad(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Abort(ctx)
	rows, err := l.tx.QueryContext(ctx, `EXPLAIN QUERY PLAN SELECT text FROM session_search_text WHERE sid = 1`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var plan []string
	for rows.Next() {
		var id, parent, unused int
		var detail string
		if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
			t.Fatal(err)
		}
		plan = append(plan, detail)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	// The view reads participants as p and events as e (migration 00021).
	for _, want := range []string{"SEARCH p USING INDEX", "SEARCH e USING INDEX"} {
		if !slices.ContainsFunc(plan, func(step string) bool { return strings.HasPrefix(step, want) }) {
			t.Errorf("indexing a session during a load does not %s: %q", strings.ToLower(want), plan)
		}
	}
	for _, step := range plan {
		if strings.HasPrefix(step, "SCAN ") && !strings.HasPrefix(step, "SCAN json_each") {
			t.Errorf("indexing a session during a load scans a table (%s): %q", step, plan)
		}
	}
}
