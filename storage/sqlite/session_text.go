package sqlite

import (
	"context"
	"database/sql"
	"strings"
)

// Full-text matching of the session search. A term is a word prefix; the
// four full-text tables of migrations 00013 and 00018 hold the session's
// words. FTS5 answers a prefix query of 2 or 3 characters from its prefix
// indexes, but a longer one by merging the lists of every word with that
// prefix into a new one, on every query: checked row by row along the
// sort order, a common term would build that list once per row. So a
// longer term is first spelled out, per table, as the words of that
// table's vocabulary it is a prefix of ("flang" as "flange" OR
// "flanges"), which FTS5 looks up row by row in their own lists.

// ftsTable is one full-text table of the session's words: how its rows
// give sessions (rowid AS sid) and how one session's rows are checked
// (EXISTS, correlated to s). CROSS JOIN keeps SQLite from scanning every
// match of the term for each session checked: the session's few rows
// come first, each then looked up in the index by rowid.
type ftsTable struct {
	name, vocab string
	set         string // SELECT sid FROM ... WHERE ... MATCH ?
	row         string // EXISTS (... MATCH ?), of session s
}

var ftsTables = [4]ftsTable{
	{name: "session_fts", vocab: "session_fts_vocab",
		set: `SELECT rowid AS sid FROM session_fts WHERE session_fts MATCH ?`,
		row: `EXISTS (SELECT 1 FROM session_fts WHERE session_fts MATCH ? AND rowid = s.rowid)`},
	{name: "session_people_fts", vocab: "session_people_fts_vocab",
		set: `SELECT sid FROM session_people_fts WHERE session_people_fts MATCH ?`,
		row: `EXISTS (SELECT 1 FROM session_participants p CROSS JOIN session_people_fts f ON f.rowid = p.rowid
			WHERE p.session_id = s.id AND f.session_people_fts MATCH ?)`},
	{name: "session_chat_fts", vocab: "session_chat_fts_vocab",
		set: `SELECT sid FROM session_chat_fts WHERE session_chat_fts MATCH ?`,
		row: `EXISTS (SELECT 1 FROM session_events e CROSS JOIN session_chat_fts f ON f.rowid = e.rowid
			WHERE e.session_id = s.id AND e.kind = 'chat' AND f.session_chat_fts MATCH ?)`},
	{name: "session_report_fts", vocab: "session_report_fts_vocab",
		set: `SELECT sid FROM session_report_fts WHERE session_report_fts MATCH ?`,
		row: `EXISTS (SELECT 1 FROM service_reports r CROSS JOIN session_report_fts f ON f.rowid = r.rowid
			WHERE r.session_id = s.id AND f.session_report_fts MATCH ?)`},
}

// maxSpelledOut is how many words a term may stand for in one table to be
// spelled out; beyond, the table gets the prefix query.
const maxSpelledOut = 64

// termMatch is a term's FTS5 query per table of ftsTables; "" where the
// table holds no word the term is a prefix of.
type termMatch [len(ftsTables)]string

// spellOut makes the termMatch of a search term.
func (s *Store) spellOut(ctx context.Context, t string) (termMatch, error) {
	var m termMatch
	if len(t) <= 3 || strings.IndexFunc(t, notASCIIWord) >= 0 {
		// Short: FTS5's prefix indexes answer it. Not ASCII: the
		// vocabulary holds words without their diacritics, which only
		// FTS5's tokenizer knows how to take off.
		for i := range m {
			m[i] = ftsMatch(t)
		}
		return m, nil
	}
	for i, tab := range ftsTables {
		words, err := collect(ctx, s.read, scanString, `SELECT term FROM `+tab.vocab+`
			WHERE term >= ?1 AND term <= ?1 || char(1114111) LIMIT ?2`, t, maxSpelledOut+1)
		if err != nil {
			return m, err
		}
		switch {
		case len(words) > maxSpelledOut:
			m[i] = ftsMatch(t)
		case len(words) > 0:
			for j, w := range words {
				words[j] = `"` + strings.ReplaceAll(w, `"`, `""`) + `"`
			}
			m[i] = strings.Join(words, " OR ")
		}
	}
	return m, nil
}

func notASCIIWord(r rune) bool { return !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9') }

func scanString(r *sql.Rows) (string, error) {
	var v string
	err := r.Scan(&v)
	return v, err
}

// set is the query of the sessions' rowids (sid) the term matches, each
// once.
func (m termMatch) set() (string, []any) {
	var parts []string
	var args []any
	for i, tab := range ftsTables {
		if m[i] != "" {
			parts = append(parts, tab.set)
			args = append(args, m[i])
		}
	}
	switch len(parts) {
	case 0:
		return `SELECT NULL AS sid WHERE 0`, nil
	case 1: // a session may have several participants or lines matching
		return `SELECT DISTINCT sid FROM (` + parts[0] + `)`, args
	}
	return strings.Join(parts, "\n\tUNION "), args
}

// row is the condition that the term matches session s.
func (m termMatch) row() (string, []any) {
	var parts []string
	var args []any
	for i, tab := range ftsTables {
		if m[i] != "" {
			parts = append(parts, tab.row)
			args = append(args, m[i])
		}
	}
	if len(parts) == 0 {
		return `0`, nil
	}
	return `(` + strings.Join(parts, "\n\t\tOR ") + `)`, args
}

// ftsMatch is the FTS5 query of one search term: a quoted string, and a
// prefix when it has two characters or more (a single letter or digit
// stays a whole word).
func ftsMatch(t string) string {
	m := `"` + t + `"`
	if len([]rune(t)) > 1 {
		m += "*"
	}
	return m
}
