package pgmigrate

import (
	"fmt"
	"strings"
)

// kind is how a column's value is read on each side and written to
// PostgreSQL. Values travel as nil, int64, string, bool or []byte: what a
// column holds once mapped to PostgreSQL's types, the same from either
// side, so that one encoding checksums both.
type kind int

const (
	text     kind = iota // TEXT NOT NULL on both sides
	integer              // INTEGER / BIGINT NOT NULL
	optInt               // a time not set yet: NULL on both sides
	boolean              // INTEGER 0/1 in SQLite, BOOLEAN in PostgreSQL
	jsonText             // TEXT checked by json_valid in SQLite, json (kept as written) in PostgreSQL
	optJSON              // TEXT where '' is none in SQLite, json NULL for none in PostgreSQL
	blob                 // BLOB / BYTEA
)

type column struct {
	name string
	kind kind
}

// table is one table both schemas hold, with the columns copied: every
// column of the SQLite table, by the same name in PostgreSQL. Columns only
// PostgreSQL has (the search documents, which its triggers and generated
// columns make) are left to it.
type table struct {
	name string
	key  []string // the primary key's columns, in its order
	cols []column
}

// tables lists what is copied, parents first: sessions before the rows
// that refer to them by foreign key (participants, events, labels, media,
// recordings, service reports), and a session's search document is whole
// once the last of its rows is in, whichever trigger made it last.
//
// Not copied: organisation data (Raft's, and not in PostgreSQL), web
// sessions, invitations, queues and other node state, the node's own
// history outbox (it stays in SQLite), the full-text tables (PostgreSQL
// keeps its own search documents) and the dashboards' counts.
var tables = []table{
	{name: "sessions", key: []string{"id"}, cols: cols(
		"id", text, "org_id", text, "site_id", text, "kind", text, "name", text, "goal", text, "status", text,
		"created_by", text, "owner_id", text, "team_id", text, "outcome", text, "notes", text,
		"started_at", integer, "ended_at", optInt, "solved_at", optInt, "updated_at", optInt,
		"details_at", optInt, "details_origin", text, "outcome_at", optInt, "outcome_origin", text,
		"notes_at", optInt, "notes_origin", text, "labels_at", optInt, "labels_origin", text)},
	{name: "session_participants", key: []string{"id"}, cols: cols(
		"id", text, "session_id", text, "user_id", text, "display_name", text, "user_kind", text,
		"device_kind", text, "hidden", boolean, "joined_at", integer, "left_at", optInt)},
	{name: "session_events", key: []string{"id"}, cols: cols(
		"id", text, "session_id", text, "seq", integer, "at", integer, "kind", text, "actor_id", text,
		"payload", jsonText)},
	{name: "session_labels", key: []string{"session_id", "label_id"}, cols: cols(
		"session_id", text, "label_id", text)},
	{name: "media", key: []string{"id"}, cols: cols(
		"id", text, "session_id", text, "org_id", text, "kind", text, "name", text, "blob_key", text,
		"content_type", text, "size", integer, "sha256", text, "annotations", optJSON, "created_by", text,
		"created_at", integer, "deleted_at", optInt, "deleted_by", text, "participant_id", text,
		"of_participant", text, "origin", text)},
	{name: "recordings", key: []string{"id"}, cols: cols(
		"id", text, "session_id", text, "org_id", text, "blob_key", text, "content_type", text, "size", integer,
		"sha256", text, "status", text, "started_by", text, "started_at", integer, "ended_at", optInt,
		"name", text, "duration_ms", integer, "tracks", jsonText, "participant_id", text, "origin", text,
		"deleted_at", optInt, "deleted_by", text)},
	{name: "media_deletions", key: []string{"id"}, cols: cols(
		"id", text, "what", text, "session_id", text, "org_id", text, "kind", text, "name", text,
		"sha256", text, "deleted_at", integer, "deleted_by", text, "by_name", text, "blob_done", boolean)},
	{name: "service_report_versions", key: []string{"id"}, cols: reportCols("report_id")},
	{name: "service_reports", key: []string{"id"}, cols: reportCols("version_id")},
	{name: "audit_events", key: []string{"id"}, cols: cols(
		"id", text, "org_id", text, "site_id", text, "at", integer, "actor_id", text, "action", text,
		"target", text, "detail", text)},
	{name: "history_marks", key: []string{"origin"}, cols: cols(
		"origin", text, "seq", integer, "applied_at", integer)},
	{name: "history_rejected", key: []string{"origin", "seq"}, cols: cols(
		"origin", text, "seq", integer, "id", text, "reason", text, "message", blob, "rejected_at", integer)},
}

// reportCols are the columns of a service report's version (other is
// report_id) and of the version that stands (other is version_id).
func reportCols(other string) []column {
	return cols("id", text, other, text, "org_id", text, "site_id", text, "session_id", text,
		"version", integer, "fields", jsonText, "body", text, "deleted", boolean, "created_by", text,
		"created_at", integer, "edited_by", text, "edited_at", integer, "origin", text)
}

// cols reads pairs of name and kind.
func cols(pairs ...any) []column {
	out := make([]column, 0, len(pairs)/2)
	for i := 0; i < len(pairs); i += 2 {
		out = append(out, column{name: pairs[i].(string), kind: pairs[i+1].(kind)})
	}
	return out
}

// column returns the named column.
func (t *table) column(name string) column {
	for _, c := range t.cols {
		if c.name == name {
			return c
		}
	}
	panic(fmt.Sprintf("pgmigrate: table %s has no column %s", t.name, name))
}

// names is the column list, comma-separated.
func (t *table) names() string {
	names := make([]string, len(t.cols))
	for i, c := range t.cols {
		names[i] = c.name
	}
	return strings.Join(names, ", ")
}

// keyIndexes are the positions of the key's columns in a row.
func (t *table) keyIndexes() []int {
	idx := make([]int, len(t.key))
	for i, k := range t.key {
		for j, c := range t.cols {
			if c.name == k {
				idx[i] = j
			}
		}
	}
	return idx
}

// postgresSelect is the column list read from PostgreSQL: json columns as
// their text, which PostgreSQL keeps as written.
func (t *table) postgresSelect() string {
	out := make([]string, len(t.cols))
	for i, c := range t.cols {
		out[i] = c.name
		if c.kind == jsonText || c.kind == optJSON {
			out[i] = c.name + "::text"
		}
	}
	return strings.Join(out, ", ")
}

// postgresOrder orders PostgreSQL's rows as SQLite orders its primary
// key: text byte by byte (COLLATE "C", SQLite's BINARY), whatever the
// column's collation.
func (t *table) postgresOrder() string {
	out := make([]string, len(t.key))
	for i, k := range t.key {
		out[i] = k
		if t.column(k).kind == text {
			out[i] = k + ` COLLATE "C"`
		}
	}
	return strings.Join(out, ", ")
}
