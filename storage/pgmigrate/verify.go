package pgmigrate

import (
	"context"
	"fmt"
	"strings"
)

// compare counts and checksums t on both sides, SQLite's snapshot and
// PostgreSQL's table read at once, into tr.
func (m *migration) compare(ctx context.Context, t *table, tr *TableReport) error {
	type result struct {
		sum *checksum
		err error
	}
	lite := make(chan result, 1)
	go func() {
		sum, err := m.sqliteSum(ctx, t)
		lite <- result{sum, err}
	}()
	pg, perr := m.postgresSum(ctx, t)
	l := <-lite
	switch {
	case l.err != nil:
		return l.err
	case perr != nil:
		return perr
	}
	tr.SQLiteRows, tr.SQLiteSum = l.sum.rows, l.sum.sum()
	tr.PostgresRows, tr.PostgresSum = pg.rows, pg.sum()
	return nil
}

// sqliteSum reads every row of t from the SQLite snapshot in primary key
// order, mapped to PostgreSQL's values.
func (m *migration) sqliteSum(ctx context.Context, t *table) (*checksum, error) {
	rs, err := m.snap.QueryContext(ctx, "SELECT "+t.names()+" FROM "+t.name+" ORDER BY "+strings.Join(t.key, ", "))
	if err != nil {
		return nil, fmt.Errorf("compare %s: read sqlite: %w", t.name, err)
	}
	defer rs.Close()
	sum := newChecksum()
	dests := sqliteDests(t)
	for rs.Next() {
		if err := rs.Scan(dests...); err != nil {
			return nil, fmt.Errorf("compare %s: read sqlite: %w", t.name, err)
		}
		sum.add(fromSQLite(t, dests))
	}
	if err := rs.Err(); err != nil {
		return nil, fmt.Errorf("compare %s: read sqlite: %w", t.name, err)
	}
	return sum, nil
}

// postgresSum reads every row of t from PostgreSQL in the order of
// SQLite's primary key.
func (m *migration) postgresSum(ctx context.Context, t *table) (*checksum, error) {
	rs, err := m.pg.Query(ctx, "SELECT "+t.postgresSelect()+" FROM "+t.name+" ORDER BY "+t.postgresOrder())
	if err != nil {
		return nil, fmt.Errorf("compare %s: read postgres: %w", t.name, err)
	}
	defer rs.Close()
	sum := newChecksum()
	dests := postgresDests(t)
	for rs.Next() {
		if err := rs.Scan(dests...); err != nil {
			return nil, fmt.Errorf("compare %s: read postgres: %w", t.name, err)
		}
		sum.add(fromPostgres(t, dests))
	}
	if err := rs.Err(); err != nil {
		return nil, fmt.Errorf("compare %s: read postgres: %w", t.name, err)
	}
	return sum, nil
}
