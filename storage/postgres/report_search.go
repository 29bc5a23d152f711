package postgres

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"

	"siteline/storage"
)

// SearchServiceReports lists the reports that are not deleted and match q,
// the latest edited first, as storage/sqlite's: every word of the text
// required, each a prefix; a word holding punctuation ("pump_log",
// "v1.5") a phrase of its parts, the last a prefix, within the body or
// within the field values (migration 00009). A text search reads the GIN
// index service_reports_search; without one, service_reports_org_edited
// walks the organisation's reports newest first.
func (s *Store) SearchServiceReports(ctx context.Context, q storage.ServiceReportQuery) ([]storage.ServiceReport, error) {
	if q.OrgID == "" {
		return nil, fmt.Errorf("search service reports: %w", &storage.ValidationError{Field: "org_id", Problem: "is required"})
	}
	if q.Limit <= 0 || q.Limit > 1000 {
		return nil, fmt.Errorf("search service reports: %w", &storage.ValidationError{Field: "limit", Problem: "must be between 1 and 1000"})
	}
	args := []any{q.OrgID}
	arg := func(v any) string {
		args = append(args, v)
		return "$" + strconv.Itoa(len(args))
	}
	where := []string{"r.org_id = $1", "NOT r.deleted"}
	if words := reportWords(q.Text); len(words) > 0 {
		match, err := s.reportMatch(ctx, words)
		if err != nil {
			return nil, fmt.Errorf("search service reports: %w", err)
		}
		if match == "" {
			where = append(where, "false")
		} else {
			where = append(where, "r.search @@ "+arg(match)+"::tsquery")
		}
	}
	if len(q.Sessions) > 0 {
		where = append(where, "r.session_id = ANY("+arg(q.Sessions)+"::text[])")
	}
	if q.UserID != "" {
		u := arg(q.UserID)
		where = append(where, `r.session_id IN (SELECT id FROM sessions WHERE org_id = $1 AND (created_by = `+u+` OR owner_id = `+u+`)
			UNION SELECT session_id FROM session_participants WHERE user_id = `+u+`)`)
	}
	rows, _ := s.pool.Query(ctx, `SELECT r.version_id, r.id, r.org_id, r.site_id, r.session_id, r.version, r.fields::text, r.body,
		r.deleted, r.created_by, r.created_at, r.edited_by, r.edited_at, r.origin, COALESCE(ss.name, '')
		FROM service_reports r LEFT JOIN sessions ss ON ss.id = r.session_id
		WHERE `+strings.Join(where, " AND ")+` ORDER BY r.edited_at DESC, r.id COLLATE "C" LIMIT `+arg(q.Limit), append([]any{pgx.QueryExecModeExec}, args...)...)
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (storage.ServiceReport, error) {
		var name string
		rep, err := scanReport(r, &name)
		rep.SessionName = name
		return rep, err
	})
	if err != nil {
		return nil, fmt.Errorf("search service reports: %w", domainError(err))
	}
	return out, nil
}

// reportWords splits a report search's text into its words as
// storage/sqlite's ftsQuery does: runs of letters, digits, non-ASCII
// characters, '_', '-' and '.'.
func reportWords(text string) []string {
	return strings.FieldsFunc(text, func(r rune) bool {
		return !(r == '_' || r == '-' || r == '.' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r > 127)
	})
}

// reportMatch is the tsquery of a report search's words: each folded into
// its parts by search_words, as the index's text is; one part is a prefix,
// several a phrase whose last part is a prefix, within the body (weight A)
// or within the fields (weight B). A word with no part (punctuation
// alone) gives "", which matches nothing, as FTS5 matches nothing for it.
func (s *Store) reportMatch(ctx context.Context, words []string) (string, error) {
	rows, _ := s.pool.Query(ctx, `SELECT COALESCE(search_words(t), '{}') FROM unnest($1::text[]) WITH ORDINALITY AS u(t, n) ORDER BY n`, words)
	folded, err := pgx.CollectRows(rows, pgx.RowTo[[]string])
	if err != nil {
		return "", err
	}
	quote := strings.NewReplacer(`\`, `\\`, `'`, `''`)
	var parts []string
	for _, ws := range folded {
		if len(ws) == 0 {
			return "", nil
		}
		if len(ws) == 1 {
			parts = append(parts, `'`+quote.Replace(ws[0])+`':*`)
			continue
		}
		phrase := func(weight string) string {
			p := make([]string, len(ws))
			for i, w := range ws {
				p[i] = `'` + quote.Replace(w) + `':`
				if i == len(ws)-1 {
					p[i] += "*"
				}
				p[i] += weight
			}
			return strings.Join(p, " <-> ")
		}
		parts = append(parts, "("+phrase("A")+" | "+phrase("B")+")")
	}
	return strings.Join(parts, " & "), nil
}
