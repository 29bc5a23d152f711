package pgmigrate

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// createProgress makes the table where each source's copy records the key
// of the last row of each table it committed. It is this tool's, not the
// store's: no migration of storage/postgres knows it, and dropping it
// only makes the next run send every row again.
const createProgress = `CREATE TABLE IF NOT EXISTS siteline_migrate_progress (
    source     TEXT NOT NULL,
    table_name TEXT NOT NULL,
    last_key   TEXT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (source, table_name)
)`

// saveProgress records, in tx, key as the last row of table this source
// committed.
func (m *migration) saveProgress(ctx context.Context, tx pgx.Tx, table, key string) error {
	_, err := tx.Exec(ctx, `INSERT INTO siteline_migrate_progress (source, table_name, last_key, updated_at)
		VALUES ($1, $2, $3, $4) ON CONFLICT (source, table_name) DO UPDATE SET last_key = excluded.last_key, updated_at = excluded.updated_at`,
		m.source, table, key, time.Now().UnixNano())
	return err
}

// progressEvery is how often a long table's copy reports its progress.
const progressEvery = 5 * time.Second

// copyTable copies t's rows after the last batch a previous run committed,
// batch by batch in primary key order.
func (m *migration) copyTable(ctx context.Context, t *table) (TableReport, error) {
	tr := TableReport{Table: t.name}
	start := time.Now()
	after, err := m.resumeKey(ctx, t)
	if err != nil {
		return tr, err
	}
	if !m.opts.unnest {
		if err := m.stage(ctx, t); err != nil {
			return tr, err
		}
	}
	first, next := sqliteBatchQuery(t, false), sqliteBatchQuery(t, true)
	lastReport, batches := start, 0
	for {
		query := next
		if after == nil {
			query = first
		}
		rows, err := m.readBatch(ctx, t, query, after)
		if err != nil {
			return tr, err
		}
		if len(rows) == 0 {
			break
		}
		after = keyOf(t, rows[len(rows)-1])
		n, err := m.writeBatch(ctx, t, rows, after)
		if err != nil {
			return tr, err
		}
		tr.Copied += n
		tr.Present += int64(len(rows)) - n
		batches++
		if m.opts.afterBatch != nil {
			m.opts.afterBatch(t.name, batches)
		}
		if time.Since(lastReport) >= progressEvery {
			lastReport = time.Now()
			fmt.Fprintf(m.opts.Progress, "%s: %d rows so far, %s\n", t.name, tr.Copied+tr.Present, rate(tr.Copied+tr.Present, time.Since(start)))
		}
	}
	tr.CopyTook = time.Since(start)
	switch {
	case tr.Copied == 0 && tr.Present == 0:
		fmt.Fprintf(m.opts.Progress, "%s: nothing left to copy\n", t.name)
	default:
		fmt.Fprintf(m.opts.Progress, "%s: %d rows copied, %d already there, in %s (%s)\n", t.name, tr.Copied, tr.Present,
			tr.CopyTook.Round(time.Millisecond), rate(tr.Copied+tr.Present, tr.CopyTook))
	}
	return tr, nil
}

// rate is n rows over d for people.
func rate(n int64, d time.Duration) string {
	if d <= 0 {
		return "- rows/s"
	}
	return fmt.Sprintf("%.0f rows/s", float64(n)/d.Seconds())
}

// resumeKey is the key of the last row of t a previous run committed for
// this source, or nil to start from the first.
func (m *migration) resumeKey(ctx context.Context, t *table) ([]any, error) {
	var raw string
	err := m.pg.QueryRow(ctx, `SELECT last_key FROM siteline_migrate_progress WHERE source = $1 AND table_name = $2`,
		m.source, t.name).Scan(&raw)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("copy %s: read progress: %w", t.name, err)
	}
	key, err := decodeKey(t, raw)
	if err != nil {
		return nil, fmt.Errorf("copy %s: progress %q in siteline_migrate_progress: %w", t.name, raw, err)
	}
	return key, nil
}

// encodeKey writes a key as a JSON array.
func encodeKey(key []any) (string, error) {
	b, err := json.Marshal(key)
	return string(b), err
}

// decodeKey reads a key encodeKey wrote, with t's key types.
func decodeKey(t *table, raw string) ([]any, error) {
	d := json.NewDecoder(bytes.NewReader([]byte(raw)))
	d.UseNumber()
	var vals []any
	if err := d.Decode(&vals); err != nil {
		return nil, err
	}
	if len(vals) != len(t.key) {
		return nil, fmt.Errorf("%d values for a key of %d columns", len(vals), len(t.key))
	}
	key := make([]any, len(vals))
	for i, k := range t.key {
		switch t.column(k).kind {
		case text:
			s, ok := vals[i].(string)
			if !ok {
				return nil, fmt.Errorf("%s is not text", k)
			}
			key[i] = s
		case integer:
			n, ok := vals[i].(json.Number)
			if !ok {
				return nil, fmt.Errorf("%s is not a number", k)
			}
			v, err := n.Int64()
			if err != nil {
				return nil, fmt.Errorf("%s: %w", k, err)
			}
			key[i] = v
		default:
			return nil, fmt.Errorf("%s: no key of this type", k)
		}
	}
	return key, nil
}

// keyOf is a row's primary key.
func keyOf(t *table, row []any) []any {
	idx := t.keyIndexes()
	key := make([]any, len(idx))
	for i, j := range idx {
		key[i] = row[j]
	}
	return key
}

// sqliteBatchQuery reads the next batch of t in primary key order, after
// a key when after is set.
func sqliteBatchQuery(t *table, after bool) string {
	q := "SELECT " + t.names() + " FROM " + t.name
	if after {
		ph := strings.TrimSuffix(strings.Repeat("?, ", len(t.key)), ", ")
		q += " WHERE (" + strings.Join(t.key, ", ") + ") > (" + ph + ")"
	}
	return q + " ORDER BY " + strings.Join(t.key, ", ") + " LIMIT ?"
}

// readBatch reads up to a batch of t's rows from the SQLite snapshot.
func (m *migration) readBatch(ctx context.Context, t *table, query string, after []any) ([][]any, error) {
	args := append(append([]any{}, after...), m.opts.Batch)
	rs, err := m.snap.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("copy %s: read sqlite: %w", t.name, err)
	}
	defer rs.Close()
	var rows [][]any
	dests := sqliteDests(t)
	for rs.Next() {
		if err := rs.Scan(dests...); err != nil {
			return nil, fmt.Errorf("copy %s: read sqlite: %w", t.name, err)
		}
		row := fromSQLite(t, dests)
		if err := storable(t, row); err != nil {
			return nil, fmt.Errorf("copy %w", err)
		}
		rows = append(rows, row)
	}
	if err := rs.Err(); err != nil {
		return nil, fmt.Errorf("copy %s: read sqlite: %w", t.name, err)
	}
	return rows, nil
}

// stageName is t's staging table: a temporary table of this connection
// with t's columns, json as text, emptied at each commit.
func stageName(t *table) string { return "pgmigrate_" + t.name }

// stage creates t's staging table when this connection has none yet.
func (m *migration) stage(ctx context.Context, t *table) error {
	sel := make([]string, len(t.cols))
	for i, c := range t.cols {
		sel[i] = c.name
		if c.kind == jsonText || c.kind == optJSON {
			sel[i] = c.name + "::text AS " + c.name
		}
	}
	q := "CREATE TEMP TABLE IF NOT EXISTS " + stageName(t) + " ON COMMIT DELETE ROWS AS SELECT " +
		strings.Join(sel, ", ") + " FROM " + t.name + " WITH NO DATA"
	if _, err := m.pg.Exec(ctx, q); err != nil {
		return fmt.Errorf("copy %s: staging table: %w", t.name, err)
	}
	return nil
}

// insertQuery moves the staged rows into t, leaving those t holds already
// (by any of its unique keys) as they are.
func insertQuery(t *table) string {
	sel := make([]string, len(t.cols))
	for i, c := range t.cols {
		sel[i] = c.name
		if c.kind == jsonText || c.kind == optJSON {
			sel[i] = c.name + "::json"
		}
	}
	return "INSERT INTO " + t.name + " (" + t.names() + ") SELECT " + strings.Join(sel, ", ") +
		" FROM " + stageName(t) + " ON CONFLICT DO NOTHING"
}

// writeBatch writes rows into t, and last as this source's progress, in
// one transaction; it returns how many rows were new.
func (m *migration) writeBatch(ctx context.Context, t *table, rows [][]any, last []any) (int64, error) {
	key, err := encodeKey(last)
	if err != nil {
		return 0, fmt.Errorf("copy %s: %w", t.name, err)
	}
	names := make([]string, len(t.cols))
	for i, c := range t.cols {
		names[i] = c.name
	}
	var inserted int64
	triggers := m.offTriggers(t.name)
	err = pgx.BeginFunc(ctx, m.pg, func(tx pgx.Tx) error {
		insert, args := insertQuery(t), []any(nil)
		if m.opts.unnest {
			insert, args = unnestQuery(t), columnArrays(t, rows)
		} else if _, err := tx.CopyFrom(ctx, pgx.Identifier{stageName(t)}, names, pgx.CopyFromRows(rows)); err != nil {
			return err
		}
		if err := switchTriggers(ctx, tx, t, triggers, "DISABLE"); err != nil {
			return err
		}
		tag, err := tx.Exec(ctx, insert, args...)
		if err != nil {
			return err
		}
		// The dashboards' triggers are deferred to the commit; a table
		// with trigger events pending cannot be altered, so they run now.
		if _, err := tx.Exec(ctx, `SET CONSTRAINTS ALL IMMEDIATE`); err != nil {
			return err
		}
		if err := switchTriggers(ctx, tx, t, triggers, "ENABLE"); err != nil {
			return err
		}
		inserted = tag.RowsAffected()
		return m.saveProgress(ctx, tx, t.name, key)
	})
	if err != nil {
		return 0, fmt.Errorf("copy %s: write the rows from %s to %s: %w", t.name, keyText(t, rows[0]), keyText(t, rows[len(rows)-1]), err)
	}
	return inserted, nil
}

// unnestQuery inserts a batch passed as one array per column, the other
// way of writing a batch (Options.unnest), kept to measure against COPY.
func unnestQuery(t *table) string {
	params, sel := make([]string, len(t.cols)), make([]string, len(t.cols))
	for i, c := range t.cols {
		typ := "text[]"
		switch c.kind {
		case integer, optInt:
			typ = "bigint[]"
		case boolean:
			typ = "boolean[]"
		case blob:
			typ = "bytea[]"
		}
		params[i] = fmt.Sprintf("$%d::%s", i+1, typ)
		sel[i] = c.name
		if c.kind == jsonText || c.kind == optJSON {
			sel[i] = c.name + "::json"
		}
	}
	return "INSERT INTO " + t.name + " (" + t.names() + ") SELECT " + strings.Join(sel, ", ") +
		" FROM unnest(" + strings.Join(params, ", ") + ") AS x(" + t.names() + ") ON CONFLICT DO NOTHING"
}

// columnArrays turns rows into one array per column, for unnestQuery.
func columnArrays(t *table, rows [][]any) []any {
	out := make([]any, len(t.cols))
	for i, c := range t.cols {
		switch c.kind {
		case text, jsonText:
			a := make([]string, len(rows))
			for j, r := range rows {
				a[j] = r[i].(string)
			}
			out[i] = a
		case optJSON:
			a := make([]*string, len(rows))
			for j, r := range rows {
				if s, ok := r[i].(string); ok {
					a[j] = &s
				}
			}
			out[i] = a
		case integer:
			a := make([]int64, len(rows))
			for j, r := range rows {
				a[j] = r[i].(int64)
			}
			out[i] = a
		case optInt:
			a := make([]*int64, len(rows))
			for j, r := range rows {
				if n, ok := r[i].(int64); ok {
					a[j] = &n
				}
			}
			out[i] = a
		case boolean:
			a := make([]bool, len(rows))
			for j, r := range rows {
				a[j] = r[i].(bool)
			}
			out[i] = a
		case blob:
			a := make([][]byte, len(rows))
			for j, r := range rows {
				a[j] = r[i].([]byte)
			}
			out[i] = a
		}
	}
	return out
}
