package postgres

import (
	"database/sql/driver"
	"fmt"
	"math"
	"time"

	"siteline/storage"
)

// nanos is t as stored: unix nanoseconds, or NULL for the zero time. A
// time outside int64 nanoseconds (1678-2262) is a validation error when
// the statement runs.
func nanos(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return nanoTime(t)
}

type nanoTime time.Time

// GoString is how pgx names the value in an encoding error: the time, not
// time.Time's internals.
func (nt nanoTime) GoString() string { return time.Time(nt).Format(time.RFC3339Nano) }

func (nt nanoTime) Value() (driver.Value, error) {
	t := time.Time(nt)
	if t.Before(time.Unix(0, math.MinInt64)) || t.After(time.Unix(0, math.MaxInt64)) {
		return nil, &storage.ValidationError{Field: "time", Problem: fmt.Sprintf("%s is out of the range 1678-2262", t.Format(time.RFC3339))}
	}
	return t.UnixNano(), nil
}

// optNanos is nanos for an optional time: nil is NULL.
func optNanos(t *time.Time) any {
	if t == nil {
		return nil
	}
	return nanos(*t)
}

// timeOf is a stored time in UTC; NULL gives the zero time.
func timeOf(n *int64) time.Time {
	if n == nil {
		return time.Time{}
	}
	return time.Unix(0, *n).UTC()
}

// optTimeOf is a stored optional time in UTC; NULL gives nil.
func optTimeOf(n *int64) *time.Time {
	if n == nil {
		return nil
	}
	t := time.Unix(0, *n).UTC()
	return &t
}

// required returns a ValidationError for the first empty value of the
// (field, value) pairs.
func required(fieldValues ...string) error {
	for i := 0; i+1 < len(fieldValues); i += 2 {
		if fieldValues[i+1] == "" {
			return &storage.ValidationError{Field: fieldValues[i], Problem: "is required"}
		}
	}
	return nil
}
