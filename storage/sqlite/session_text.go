package sqlite

import (
	"context"
	"database/sql"
	"strings"
)

// Full-text matching of the session search. Each session has one row in
// session_search_fts (migration 00021) holding all its words: name, goal,
// notes, participants, chat and service reports. The words of a search
// are one FTS5 query, every word required, each a word prefix.
//
// FTS5 answers a prefix of 2 or 3 characters from its prefix indexes, but
// a longer one by merging the lists of every word with that prefix into a
// new one, on every query: checked row by row along the sort order, a
// common term would build that list once per row. So a longer term is
// first spelled out as the words of the table's vocabulary it is a prefix
// of ("flang" as "flange" OR "flanges"), which FTS5 looks up row by row in
// their own lists.

// maxSpelledOut is how many words a term may stand for to be spelled out;
// beyond, it stays a prefix query.
const maxSpelledOut = 64

// textMatch is the FTS5 query of a search's words; "" when one of them is
// no word's prefix, so that nothing matches.
type textMatch string

// matchText makes the FTS5 query of the words of a search, and bounds how
// many sessions it matches: at most the fewest sessions any one spelled-out
// term is in, by the vocabulary's document counts, which the lookup that
// spells a term out reads anyway; -1 when no term was spelled out.
func (s *Store) matchText(ctx context.Context, terms []string) (textMatch, int, error) {
	parts := make([]string, len(terms))
	bound := -1
	for i, t := range terms {
		m, docs, err := s.spellOut(ctx, t)
		if err != nil || m == "" {
			return "", 0, err
		}
		parts[i] = m
		if docs >= 0 && (bound < 0 || docs < bound) {
			bound = docs
		}
	}
	return textMatch(strings.Join(parts, " AND ")), bound, nil
}

// spellOut makes the FTS5 query of one search term, "" when the index
// holds no word it is a prefix of, and counts the sessions its words are
// in (-1 when it is not spelled out: a short, non-ASCII or common prefix).
func (s *Store) spellOut(ctx context.Context, t string) (string, int, error) {
	if len(t) <= 3 || strings.IndexFunc(t, notASCIIWord) >= 0 {
		// Short: FTS5's prefix indexes answer it. Not ASCII: the
		// vocabulary holds words without their diacritics, which only
		// FTS5's tokenizer knows how to take off.
		return ftsMatch(t), -1, nil
	}
	type word struct {
		term string
		docs int
	}
	words, err := collect(ctx, s.read, func(r *sql.Rows) (word, error) {
		var w word
		err := r.Scan(&w.term, &w.docs)
		return w, err
	}, `SELECT term, doc FROM session_search_fts_vocab
		WHERE term >= ?1 AND term <= ?1 || char(1114111) LIMIT ?2`, t, maxSpelledOut+1)
	switch {
	case err != nil || len(words) == 0:
		return "", 0, err
	case len(words) > maxSpelledOut:
		return ftsMatch(t), -1, nil
	}
	quoted, docs := make([]string, len(words)), 0
	for j, w := range words {
		quoted[j] = `"` + strings.ReplaceAll(w.term, `"`, `""`) + `"`
		docs += w.docs
	}
	return "(" + strings.Join(quoted, " OR ") + ")", docs, nil
}

func notASCIIWord(r rune) bool { return !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9') }

func scanString(r *sql.Rows) (string, error) {
	var v string
	err := r.Scan(&v)
	return v, err
}

// set is the query of the sessions' rowids (sid) that match.
func (m textMatch) set() (string, []any) {
	if m == "" {
		return `SELECT NULL AS sid WHERE 0`, nil
	}
	return `SELECT rowid AS sid FROM session_search_fts WHERE session_search_fts MATCH ?`, []any{string(m)}
}

// row is the condition that session s matches: one lookup of its row.
func (m textMatch) row() (string, []any) {
	if m == "" {
		return `0`, nil
	}
	return `EXISTS (SELECT 1 FROM session_search_fts WHERE session_search_fts MATCH ? AND rowid = s.rowid)`, []any{string(m)}
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
