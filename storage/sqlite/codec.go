package sqlite

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"fmt"
	"math"
	"time"

	"siteline/storage"
)

// querier is what both *sql.DB and *sql.Tx offer, so that one query
// function serves a plain read, a snapshot transaction and a write
// transaction.
type querier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// nanos is the stored form of a time: unix nanoseconds, or NULL for the
// zero time. A time outside what int64 nanoseconds can hold (before 1678,
// after 2262; a "never" of year 9999) fails the statement with a
// *storage.ValidationError rather than being stored wrong.
func nanos(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return nanoTime(t)
}

type nanoTime time.Time

func (nt nanoTime) Value() (driver.Value, error) {
	t := time.Time(nt)
	if t.Before(time.Unix(0, math.MinInt64)) || t.After(time.Unix(0, math.MaxInt64)) {
		return nil, &storage.ValidationError{Field: "time", Problem: fmt.Sprintf("%s is out of the range 1678-2262", t.Format(time.RFC3339))}
	}
	return t.UnixNano(), nil
}

// optNanos is nanos for an optional time.
func optNanos(t *time.Time) any {
	if t == nil {
		return nil
	}
	return nanos(*t)
}

// nullString stores "" as NULL, for optional references.
func nullString(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// timeDest scans a stored time (unix nanoseconds or NULL) into a time.Time
// in UTC; NULL gives the zero time.
type timeDest struct{ t *time.Time }

func (d timeDest) Scan(src any) error {
	switch v := src.(type) {
	case nil:
		*d.t = time.Time{}
	case int64:
		*d.t = time.Unix(0, v).UTC()
	default:
		return fmt.Errorf("scan time: unexpected %T", src)
	}
	return nil
}

// optTimeDest scans a stored time into a *time.Time; NULL gives nil.
type optTimeDest struct{ t **time.Time }

func (d optTimeDest) Scan(src any) error {
	if src == nil {
		*d.t = nil
		return nil
	}
	var t time.Time
	if err := (timeDest{&t}).Scan(src); err != nil {
		return err
	}
	*d.t = &t
	return nil
}

// stringDest scans TEXT or NULL into a string; NULL gives "".
type stringDest struct{ s *string }

func (d stringDest) Scan(src any) error {
	switch v := src.(type) {
	case nil:
		*d.s = ""
	case string:
		*d.s = v
	case []byte:
		*d.s = string(v)
	default:
		return fmt.Errorf("scan string: unexpected %T", src)
	}
	return nil
}

// collect runs a query and scans every row with scan.
func collect[T any](ctx context.Context, q querier, scan func(*sql.Rows) (T, error), query string, args ...any) ([]T, error) {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := make([]T, 0) // an empty list, not nil: it encodes as []
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}
