package sqlite

import (
	"context"
	"fmt"
	"slices"
	"testing"
)

// checkSearchIndex fails t unless session_search_fts holds exactly the
// words of session_search_text: every word of a fresh index built from
// the view matches the same sessions in the store's index, and no other
// word matches any.
func checkSearchIndex(t *testing.T, s *Store) {
	t.Helper()
	if err := searchIndexMismatch(s); err != nil {
		t.Fatal(err)
	}
}

func searchIndexMismatch(s *Store) error {
	ctx := context.Background()
	conn, err := s.write.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	for _, q := range []string{
		`DROP TABLE IF EXISTS temp.fresh_vocab`,
		`DROP TABLE IF EXISTS temp.fresh`,
		`CREATE VIRTUAL TABLE temp.fresh USING fts5(text, tokenize = 'unicode61 remove_diacritics 2')`,
		`CREATE VIRTUAL TABLE temp.fresh_vocab USING fts5vocab(temp, fresh, 'row')`,
		`INSERT INTO temp.fresh (rowid, text) SELECT sid, text FROM session_search_text`,
		`INSERT INTO session_search_fts (session_search_fts) VALUES ('integrity-check')`,
	} {
		if _, err := conn.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("%s: %w", q, err)
		}
	}
	defer conn.ExecContext(ctx, `DROP TABLE temp.fresh_vocab; DROP TABLE temp.fresh`)
	ids := func(q, term string) ([]int64, error) {
		rows, err := conn.QueryContext(ctx, q, `"`+term+`"`)
		if err != nil {
			return nil, err
		}
		defer rows.Close()
		var out []int64
		for rows.Next() {
			var id int64
			if err := rows.Scan(&id); err != nil {
				return nil, err
			}
			out = append(out, id)
		}
		return out, rows.Err()
	}
	terms := func(q string) ([]string, error) {
		rows, err := conn.QueryContext(ctx, q)
		if err != nil {
			return nil, err
		}
		defer rows.Close()
		var out []string
		for rows.Next() {
			var v string
			if err := rows.Scan(&v); err != nil {
				return nil, err
			}
			out = append(out, v)
		}
		return out, rows.Err()
	}
	want, err := terms(`SELECT term FROM temp.fresh_vocab`)
	if err != nil {
		return err
	}
	all, err := terms(`SELECT term FROM session_search_fts_vocab`)
	if err != nil {
		return err
	}
	for _, term := range append(want, all...) {
		w, err := ids(`SELECT rowid FROM temp.fresh WHERE fresh MATCH ? ORDER BY rowid`, term)
		if err != nil {
			return err
		}
		g, err := ids(`SELECT rowid FROM session_search_fts WHERE session_search_fts MATCH ? ORDER BY rowid`, term)
		if err != nil {
			return err
		}
		if !slices.Equal(g, w) {
			return fmt.Errorf("word %q: the index matches sessions %v, the text %v", term, g, w)
		}
	}
	return nil
}
