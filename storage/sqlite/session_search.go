package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

	"siteline/storage"
)

// Search of the session history (SPEC.md section 3): one organisation's
// sessions, filtered, sorted on any column and paged by keyset: the next
// page starts after the last row's (sort key, id), so a page costs the same
// wherever it is, and rows written meanwhile neither repeat nor vanish.

// noValue is the sort key of an end, a duration or a time to solve that
// does not exist yet: after every real one.
const noValue = "9223372036854775807"

// sortKeys are the SQL sort keys, written exactly as in the indexes of
// migration 00013 so that SQLite walks an index instead of sorting.
var sortKeys = map[storage.SessionSort]string{
	storage.SortStart:       `s.started_at`,
	storage.SortEnd:         `COALESCE(s.ended_at, ` + noValue + `)`,
	storage.SortDuration:    `COALESCE(s.ended_at - s.started_at, ` + noValue + `)`,
	storage.SortTimeToSolve: `COALESCE(COALESCE(s.solved_at, s.ended_at) - s.started_at, ` + noValue + `)`,
	storage.SortName:        `lower(s.name)`,
	storage.SortSite:        `s.site_id`,
	storage.SortOwner:       `s.owner_id`,
	storage.SortOutcome:     `s.outcome`,
}

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

// searchPlan is a validated query turned into SQL.
type searchPlan struct {
	q           storage.SessionQuery
	fingerprint string
	key         string                 // SQL sort key
	terms       []string               // words of the text
	match       textMatch              // their FTS5 query, set by runSearch when there are terms
	matches     int                    // at most how many sessions match it, -1 when unknown
	after       *storage.SessionCursor // where the page starts; nil for the first
	limit       int
}

// listFilter names a filter by a list of sessions: those a user owns or
// took part in, those with a label. A long list is checked row by row
// along the sort order, where matches come soon; a short one is the
// place to start from, then sorted, as a walk would pass most rows by.
type listFilter int

const (
	listOwn listFilter = iota
	listParticipant
	listLabels
)

// shortList is how many sessions a list filter may select (of every
// organisation) for the search to start from them. Variable so that
// tests can try both ways on small data.
var shortList = 3000

// listCount is the query counting, up to a bound, the sessions of a list
// filter, and its arguments.
func (p searchPlan) listCount(f listFilter) (string, []any, bool) {
	q := p.q
	switch {
	case f == listOwn && q.OwnOnly:
		return `SELECT count(*) FROM (SELECT 1 FROM session_participants WHERE user_id = ?1
			UNION ALL SELECT 1 FROM sessions WHERE org_id = ?2 AND owner_id = ?1 LIMIT ?3)`, []any{q.ViewerID, q.OrgID}, true
	case f == listParticipant && q.ParticipantID != "":
		return `SELECT count(*) FROM (SELECT 1 FROM session_participants WHERE user_id = ?1 LIMIT ?2)`, []any{q.ParticipantID}, true
	case f == listLabels && len(q.LabelIDs) > 0:
		return `SELECT count(*) FROM (SELECT 1 FROM session_labels WHERE label_id IN (SELECT value FROM json_each(?1)) LIMIT ?2)`,
			[]any{jsonList(q.LabelIDs)}, true
	}
	return "", nil, false
}

func planSearch(q storage.SessionQuery) (searchPlan, error) {
	c, err := q.Check()
	if err != nil {
		return searchPlan{}, err
	}
	return searchPlan{q: c.Query, fingerprint: c.Fingerprint, limit: c.Limit, key: sortKeys[c.Query.Sort],
		terms: c.Words, after: c.After}, nil
}

// source is where the rows of a search come from: the matches of the
// text (text), the sessions of one list filter (list >= 0), or else the
// index of the sort key, walked in order.
type source struct {
	text bool
	list int
}

var sortOrder = source{list: -1}

// lists are the session lists of the list filters, each selecting the
// sessions' ids; the same query drives a search or filters one.
func (p searchPlan) lists() map[listFilter]func() (string, []any) {
	q := p.q
	out := map[listFilter]func() (string, []any){}
	if q.OwnOnly {
		out[listOwn] = func() (string, []any) {
			return `SELECT session_id FROM session_participants WHERE user_id = ?
				UNION SELECT id FROM sessions WHERE org_id = ? AND owner_id = ?`, []any{q.ViewerID, q.OrgID, q.ViewerID}
		}
	}
	if q.ParticipantID != "" {
		out[listParticipant] = func() (string, []any) {
			return `SELECT DISTINCT session_id FROM session_participants WHERE user_id = ?`, []any{q.ParticipantID}
		}
	}
	if len(q.LabelIDs) > 0 {
		out[listLabels] = func() (string, []any) {
			return `SELECT DISTINCT session_id FROM session_labels WHERE label_id IN (SELECT value FROM json_each(?))`,
				[]any{jsonList(q.LabelIDs)}
		}
	}
	return out
}

// sql is the query of the plan. Driven by a rare term or a short list, the
// rows come from its sessions and are sorted after; otherwise SQLite walks
// the index of the sort key and checks every row, the fast way when
// matches are common. A list that does not drive is checked with a unary
// plus on s.id, which keeps SQLite from starting from it.
func (p searchPlan) sql(d source) (string, []any) {
	q := p.q
	var w strings.Builder
	var args []any
	// The page's rowids first, then their rows: when SQLite sorts, it
	// then sorts keys read from an index, not every matching row read
	// from the table.
	w.WriteString(`SELECT s.id, s.org_id, s.site_id, s.kind, s.name, s.goal, s.status, s.created_by, s.owner_id,
		s.outcome, s.notes, s.started_at, s.ended_at, s.solved_at, k.key
	FROM (SELECT s.rowid AS r, s.id AS id, ` + p.key + ` AS key FROM `)
	lists := p.lists()
	switch {
	case d.text:
		set, sargs := p.match.set()
		w.WriteString(`(` + set + `) m CROSS JOIN sessions s ON s.rowid = m.sid`)
		args = append(args, sargs...)
	case d.list >= 0:
		list, largs := lists[listFilter(d.list)]()
		w.WriteString(`(` + list + `) m CROSS JOIN sessions s ON s.id = m.session_id`)
		args = append(args, largs...)
	default:
		w.WriteString(`sessions s`)
	}
	w.WriteString(` WHERE s.org_id = ?`)
	args = append(args, q.OrgID)
	and := func(cond string, more ...any) {
		w.WriteString("\n\tAND " + cond)
		args = append(args, more...)
	}
	if !q.From.IsZero() {
		and(`s.started_at >= ?`, nanos(q.From))
	}
	if !q.To.IsZero() {
		and(`s.started_at < ?`, nanos(q.To))
	}
	if q.TeamID != "" {
		and(`s.team_id = ?`, q.TeamID)
	}
	if q.OwnerID != "" {
		and(`s.owner_id = ?`, q.OwnerID)
	}
	// A list that does not drive is checked per row: a participant or a
	// label by looking the row's session up in the list's index; one's
	// own sessions, two lists in one, against the list built once.
	if q.OwnOnly && d.list != int(listOwn) {
		list, largs := lists[listOwn]()
		and(`+s.id IN (`+list+`)`, largs...)
	}
	if q.ParticipantID != "" && d.list != int(listParticipant) {
		and(`EXISTS (SELECT 1 FROM session_participants WHERE user_id = ? AND session_id = s.id)`, q.ParticipantID)
	}
	if len(q.LabelIDs) > 0 && d.list != int(listLabels) {
		and(`EXISTS (SELECT 1 FROM session_labels WHERE session_id = s.id AND label_id IN (SELECT value FROM json_each(?)))`,
			jsonList(q.LabelIDs))
	}
	if len(q.SiteIDs) > 0 {
		and(`s.site_id IN (`+placeholders(len(q.SiteIDs))+`)`, anys(q.SiteIDs)...)
	}
	if q.Status != "" {
		and(`s.status = ?`, q.Status)
	}
	if q.Outcome != "" {
		and(`s.outcome = ?`, q.Outcome)
	}
	if len(p.terms) > 0 && !d.text {
		// Checked along the sort order: against the matches built once
		// when they are few enough, where probing the index row by row
		// would pass many rows by; else row by row, where matches come
		// soon.
		if p.matches >= 0 && p.matches <= setMatches {
			set, sargs := p.match.set()
			and(`+s.rowid IN (`+set+`)`, sargs...)
		} else {
			row, rargs := p.match.row()
			and(row, rargs...)
		}
	}
	cmp, dir := ">", "ASC"
	if q.Desc {
		cmp, dir = "<", "DESC"
	}
	if p.after != nil {
		and(`(`+p.key+`, s.id) `+cmp+` (?, ?)`, p.after.Key(), p.after.ID)
	}
	fmt.Fprintf(&w, "\nORDER BY %s %s, s.id %s LIMIT ?) k CROSS JOIN sessions s ON s.rowid = k.r\nORDER BY k.key %s, k.id %s",
		p.key, dir, dir, dir, dir)
	args = append(args, p.limit+1)
	return w.String(), args
}

// rareMatches is how many sessions the text may match for the search to
// start from its matches rather than from the sort order. A variable so
// that tests can try both ways on small data.
var rareMatches = 4000

// setMatches is how many sessions the text may match to be checked, along
// the sort order, against its matches listed once rather than by looking
// each row up in the full-text index. Listing costs about 0.3 ms per
// thousand matches; looking up, about 0.1 ms per row passed by, and rows
// pass by in inverse proportion to how common the text is (figures on
// 1,000,000 sessions, docs/benchmarks.md). A variable for tests.
var setMatches = 150000

// source picks where the rows come from: the text's matches when they
// are at most rareMatches sessions (of every organisation), or the
// shortest list filter when it selects at most shortList, whichever has
// fewer; else the sort order.
func (s *Store) source(ctx context.Context, p searchPlan) (source, error) {
	best, fewest := sortOrder, rareMatches+1
	if len(p.terms) > 0 {
		set, args := p.match.set()
		var n int
		if err := s.read.QueryRowContext(ctx, `SELECT count(*) FROM (`+set+` LIMIT ?)`, append(args, fewest)...).Scan(&n); err != nil {
			return best, err
		}
		if n < fewest {
			best, fewest = source{text: true, list: -1}, n
		}
	}
	fewest = min(fewest, shortList+1)
	for _, f := range []listFilter{listOwn, listParticipant, listLabels} {
		query, args, ok := p.listCount(f)
		if !ok {
			continue
		}
		var n int
		if err := s.read.QueryRowContext(ctx, query, append(args, fewest)...).Scan(&n); err != nil {
			return best, err
		}
		if n < fewest {
			best, fewest = source{list: int(f)}, n
		}
	}
	return best, nil
}

func (s *Store) runSearch(ctx context.Context, p searchPlan) (storage.SessionPage, error) {
	if len(p.terms) > 0 {
		m, n, err := s.matchText(ctx, p.terms)
		if err != nil {
			return storage.SessionPage{}, err
		}
		p.match, p.matches = m, n
	}
	from, err := s.source(ctx, p)
	if err != nil {
		return storage.SessionPage{}, err
	}
	query, args := p.sql(from)
	type row struct {
		ss  storage.SessionSummary
		key any
	}
	rows, err := collect(ctx, s.read, func(r *sql.Rows) (row, error) {
		var x row
		ss := &x.ss
		err := r.Scan(&ss.ID, &ss.OrgID, &ss.SiteID, &ss.Kind, &ss.Name, &ss.Goal, &ss.Status, &ss.CreatedBy, &ss.OwnerID,
			&ss.Outcome, &ss.Notes, timeDest{&ss.StartedAt}, optTimeDest{&ss.EndedAt}, optTimeDest{&ss.SolvedAt}, &x.key)
		return x, err
	}, query, args...)
	if err != nil {
		return storage.SessionPage{}, err
	}
	page := storage.SessionPage{Sessions: make([]storage.SessionSummary, 0, len(rows))}
	for i, r := range rows {
		if i == p.limit {
			last := rows[i-1]
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

// fillLabels sets the label ids of a page of sessions with one query.
func (s *Store) fillLabels(ctx context.Context, page []storage.SessionSummary) error {
	if len(page) == 0 {
		return nil
	}
	at := make(map[string]int, len(page))
	ids := make([]any, len(page))
	for i := range page {
		at[page[i].ID] = i
		ids[i] = page[i].ID
		page[i].Labels = []string{}
	}
	rows, err := s.read.QueryContext(ctx, `SELECT session_id, label_id FROM session_labels
		WHERE session_id IN (`+placeholders(len(ids))+`) ORDER BY session_id, label_id`, ids...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var sid, lid string
		if err := rows.Scan(&sid, &lid); err != nil {
			return err
		}
		page[at[sid]].Labels = append(page[at[sid]].Labels, lid)
	}
	return rows.Err()
}

func placeholders(n int) string {
	return strings.TrimSuffix(strings.Repeat("?,", n), ",")
}

func anys(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}
