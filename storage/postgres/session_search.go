package postgres

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"

	"siteline/storage"
)

// Search of the session history (SPEC.md section 3), as storage/sqlite's
// session_search.go: one organisation's sessions, filtered, sorted on any
// column and paged by keyset, the next page starting after the last row's
// (sort key, id). The checks of a query, its errors, its page sizes and
// its cursors are SQLite's, so that a client sees one behaviour.
//
// SQLite picks by hand where the rows come from (the text's matches, a
// list filter's sessions or the sort order) by counting first; here
// PostgreSQL's planner makes that choice from its statistics, among the
// indexes of migrations 00001, 00003 and 00008. EXPLAIN ANALYZE on
// 1,000,000 sessions of three organisations (pages of 50):
//   - newest first, a date range, an outcome, one or two sites:
//     sessions_org_started_id walked backwards, the filter checked per
//     row, LIMIT stopping the walk (under 1 ms);
//   - sorted by name, end or site: sessions_org_name, sessions_org_ended,
//     sessions_org_site, the same way;
//   - a rare word: a bitmap scan of sessions_search (GIN), its matches
//     sorted (0.1 ms); a common one: sessions_org_started_id walked, the
//     document checked per row;
//   - a label: session_labels_label, a semi-join on sessions_pkey, the
//     matches sorted;
//   - a participant or one's own sessions: sessions_org_started_id walked,
//     session_participants_user_session probed per row (or read once,
//     hashed).
// The weak case is SQLite's too: a word or a user common in the whole
// table and rare in the organisation makes the planner walk the
// organisation's sort index (about 1 s for 333,000 sessions).

// noValue is the sort key of an end, a duration or a time to solve that
// does not exist yet: after every real one.
const noValue = "9223372036854775807"

// sortKeys are the SQL sort keys, written exactly as in the indexes of
// migration 00008 so that PostgreSQL walks an index instead of sorting.
// Text keys are COLLATE "C" (byte order, SQLite's BINARY); the name is
// lower-cased in ASCII only, as SQLite's lower().
var sortKeys = map[storage.SessionSort]string{
	storage.SortStart:       `s.started_at`,
	storage.SortEnd:         `COALESCE(s.ended_at, ` + noValue + `)`,
	storage.SortDuration:    `COALESCE(s.ended_at - s.started_at, ` + noValue + `)`,
	storage.SortTimeToSolve: `COALESCE(COALESCE(s.solved_at, s.ended_at) - s.started_at, ` + noValue + `)`,
	storage.SortName:        `(translate(s.name, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz') COLLATE "C")`,
	storage.SortSite:        `(s.site_id COLLATE "C")`,
	storage.SortOwner:       `(s.owner_id COLLATE "C")`,
	storage.SortOutcome:     `(s.outcome COLLATE "C")`,
}

// idKey is the id that breaks ties, in byte order.
const idKey = `(s.id COLLATE "C")`

// SearchSessions returns one page of an organisation's sessions matching
// q. Bad input (no organisation, an unknown sort, an inverted date range, a
// malformed cursor or one of another query) is a *storage.ValidationError
// naming the field.
func (s *Store) SearchSessions(ctx context.Context, q storage.SessionQuery) (storage.SessionPage, error) {
	plan, err := planSearch(q)
	if err != nil {
		return storage.SessionPage{}, fmt.Errorf("search sessions: %w", err)
	}
	page, err := s.runSearch(ctx, plan)
	if err != nil {
		return storage.SessionPage{}, fmt.Errorf("search sessions of %s: %w", q.OrgID, err)
	}
	return page, nil
}

// searchPlan is a validated query.
type searchPlan struct {
	q           storage.SessionQuery
	fingerprint string
	key         string                 // SQL sort key
	terms       []string               // words of the text
	after       *storage.SessionCursor // where the page starts; nil for the first
	limit       int
}

func planSearch(q storage.SessionQuery) (searchPlan, error) {
	c, err := q.Check()
	if err != nil {
		return searchPlan{}, err
	}
	return searchPlan{q: c.Query, fingerprint: c.Fingerprint, limit: c.Limit, key: sortKeys[c.Query.Sort],
		terms: c.Words, after: c.After}, nil
}

// textQuery is the tsquery of a search's words, every one required, each
// a prefix when it has two characters or more (SQLite's "word"*; a single
// letter or digit stays a whole word). Each word goes through the
// database's search_words, as the indexed text does, so that case and
// diacritics fold the same on both sides. A term that folds to nothing
// (only marks) gives "", which matches nothing, as FTS5 matches nothing
// for a term without a word.
func (s *Store) textQuery(ctx context.Context, terms []string) (string, error) {
	rows, _ := s.pool.Query(ctx, `SELECT COALESCE(search_words(t), '{}') FROM unnest($1::text[]) WITH ORDINALITY AS u(t, n) ORDER BY n`, terms)
	folded, err := pgx.CollectRows(rows, pgx.RowTo[[]string])
	if err != nil {
		return "", err
	}
	var parts []string
	for i, words := range folded {
		if len(words) == 0 {
			return "", nil
		}
		for _, w := range words {
			part := `'` + strings.NewReplacer(`\`, `\\`, `'`, `''`).Replace(w) + `'`
			if len([]rune(terms[i])) > 1 {
				part += ":*"
			}
			parts = append(parts, part)
		}
	}
	return strings.Join(parts, " & "), nil
}

// sql is the query of one page (one row more than the page, to tell
// whether another follows).
func (p searchPlan) sql(tsquery string) (string, []any) {
	q := p.q
	var w strings.Builder
	args := []any{q.OrgID}
	arg := func(v any) string {
		args = append(args, v)
		return "$" + strconv.Itoa(len(args))
	}
	w.WriteString(`SELECT s.id, s.org_id, s.site_id, s.kind, s.name, s.goal, s.status, s.created_by, s.owner_id,
		s.outcome, s.notes, s.started_at, s.ended_at, s.solved_at, ` + p.key + ` AS key
	FROM sessions s WHERE s.org_id = $1`)
	and := func(cond string) { w.WriteString("\n\tAND " + cond) }
	if !q.From.IsZero() {
		and(`s.started_at >= ` + arg(nanos(q.From)))
	}
	if !q.To.IsZero() {
		and(`s.started_at < ` + arg(nanos(q.To)))
	}
	if q.TeamID != "" {
		and(`s.team_id = ` + arg(q.TeamID))
	}
	if q.OwnerID != "" {
		and(`s.owner_id = ` + arg(q.OwnerID))
	}
	if q.OwnOnly {
		v := arg(q.ViewerID)
		// One list of the viewer's sessions, owned or taken part in, not
		// "owner OR EXISTS (...)": the planner cannot estimate an OR of a
		// subquery (it takes half the organisation), and walks the
		// organisation's start index with a heap fetch per row to check
		// the owner (200 ms at 20,000 sessions, against 27 ms for the
		// list; docs/benchmarks.md).
		and(`s.id IN (SELECT p.session_id FROM session_participants p WHERE p.user_id = ` + v + `
			UNION ALL SELECT o.id FROM sessions o WHERE o.owner_id = ` + v + `)`)
	}
	if q.ParticipantID != "" {
		and(`EXISTS (SELECT 1 FROM session_participants p WHERE p.user_id = ` + arg(q.ParticipantID) + ` AND p.session_id = s.id)`)
	}
	if len(q.LabelIDs) > 0 {
		and(`EXISTS (SELECT 1 FROM session_labels l WHERE l.label_id = ANY(` + arg(q.LabelIDs) + `::text[]) AND l.session_id = s.id)`)
	}
	if len(q.SiteIDs) > 0 {
		and(`s.site_id = ANY(` + arg(q.SiteIDs) + `::text[])`)
	}
	if q.Status != "" {
		and(`s.status = ` + arg(q.Status))
	}
	if q.Outcome != "" {
		and(`s.outcome = ` + arg(q.Outcome))
	}
	if len(p.terms) > 0 {
		if tsquery == "" {
			and(`false`)
		} else {
			and(`s.search @@ ` + arg(tsquery) + `::tsquery`)
		}
	}
	cmp, dir := ">", "ASC"
	if q.Desc {
		cmp, dir = "<", "DESC"
	}
	if p.after != nil {
		typ := "bigint"
		if p.after.S != nil {
			typ = "text"
		}
		and(`(` + p.key + `, ` + idKey + `) ` + cmp + ` (` + arg(p.after.Key()) + `::` + typ + `, ` + arg(p.after.ID) + `::text)`)
	}
	fmt.Fprintf(&w, "\nORDER BY %s %s, %s %s LIMIT %s", p.key, dir, idKey, dir, arg(p.limit+1))
	return w.String(), args
}

func (s *Store) runSearch(ctx context.Context, p searchPlan) (storage.SessionPage, error) {
	var tsquery string
	if len(p.terms) > 0 {
		var err error
		if tsquery, err = s.textQuery(ctx, p.terms); err != nil {
			return storage.SessionPage{}, err
		}
	}
	query, args := p.sql(tsquery)
	type row struct {
		ss  storage.SessionSummary
		key any
	}
	// An unnamed statement (QueryExecModeExec) is planned for its values
	// each time: a cached statement's generic plan would choose one way
	// for a rare word and a common one alike.
	rows, _ := s.pool.Query(ctx, query, append([]any{pgx.QueryExecModeExec}, args...)...)
	found, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (row, error) {
		var x row
		var started, ended, solved *int64
		ss := &x.ss
		err := r.Scan(&ss.ID, &ss.OrgID, &ss.SiteID, &ss.Kind, &ss.Name, &ss.Goal, &ss.Status, &ss.CreatedBy, &ss.OwnerID,
			&ss.Outcome, &ss.Notes, &started, &ended, &solved, &x.key)
		ss.StartedAt, ss.EndedAt, ss.SolvedAt = timeOf(started), optTimeOf(ended), optTimeOf(solved)
		return x, err
	})
	if err != nil {
		return storage.SessionPage{}, domainError(err)
	}
	page := storage.SessionPage{Sessions: make([]storage.SessionSummary, 0, len(found))}
	for i, r := range found {
		if i == p.limit {
			last := found[i-1]
			page.Next = storage.EncodeSessionCursor(p.fingerprint, last.key, last.ss.ID)
			break
		}
		page.Sessions = append(page.Sessions, r.ss)
	}
	if err := s.fillLabels(ctx, page.Sessions); err != nil {
		return storage.SessionPage{}, err
	}
	return page, nil
}

// fillLabels sets the label ids of a page of sessions with one query,
// each session's in byte order.
func (s *Store) fillLabels(ctx context.Context, page []storage.SessionSummary) error {
	if len(page) == 0 {
		return nil
	}
	at := make(map[string]int, len(page))
	ids := make([]string, len(page))
	for i := range page {
		at[page[i].ID] = i
		ids[i] = page[i].ID
		page[i].Labels = []string{}
	}
	rows, _ := s.pool.Query(ctx, `SELECT session_id, label_id FROM session_labels
		WHERE session_id = ANY($1::text[]) ORDER BY session_id, label_id`, ids)
	var sid, lid string
	_, err := pgx.ForEachRow(rows, []any{&sid, &lid}, func() error {
		page[at[sid]].Labels = append(page[at[sid]].Labels, lid)
		return nil
	})
	return err
}
