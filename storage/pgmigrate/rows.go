package pgmigrate

import (
	"crypto/sha256"
	"database/sql"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"hash"
	"strings"
	"unicode/utf8"
)

// sqliteDests are scan destinations for one SQLite row of t.
func sqliteDests(t *table) []any {
	dests := make([]any, len(t.cols))
	for i, c := range t.cols {
		switch c.kind {
		case text, jsonText, optJSON:
			dests[i] = new(string)
		case integer, boolean:
			dests[i] = new(int64)
		case optInt:
			dests[i] = new(sql.NullInt64)
		case blob:
			dests[i] = new([]byte)
		}
	}
	return dests
}

// fromSQLite maps a scanned SQLite row to PostgreSQL's values.
func fromSQLite(t *table, dests []any) []any {
	row := make([]any, len(dests))
	for i, c := range t.cols {
		switch c.kind {
		case text, jsonText:
			row[i] = *dests[i].(*string)
		case optJSON:
			if s := *dests[i].(*string); s != "" {
				row[i] = s
			}
		case integer:
			row[i] = *dests[i].(*int64)
		case boolean:
			row[i] = *dests[i].(*int64) != 0
		case optInt:
			if n := *dests[i].(*sql.NullInt64); n.Valid {
				row[i] = n.Int64
			}
		case blob:
			b := *dests[i].(*[]byte)
			if b == nil {
				b = []byte{} // NOT NULL: an empty message is empty, not absent
			}
			row[i] = b
		}
	}
	return row
}

// postgresDests are scan destinations for one PostgreSQL row of t, read
// with t.postgresSelect.
func postgresDests(t *table) []any {
	dests := make([]any, len(t.cols))
	for i, c := range t.cols {
		switch c.kind {
		case text, jsonText:
			dests[i] = new(string)
		case optJSON:
			dests[i] = new(*string)
		case integer:
			dests[i] = new(int64)
		case optInt:
			dests[i] = new(*int64)
		case boolean:
			dests[i] = new(bool)
		case blob:
			dests[i] = new([]byte)
		}
	}
	return dests
}

// fromPostgres turns a scanned PostgreSQL row into values.
func fromPostgres(t *table, dests []any) []any {
	row := make([]any, len(dests))
	for i, c := range t.cols {
		switch c.kind {
		case text, jsonText:
			row[i] = *dests[i].(*string)
		case optJSON:
			if s := *dests[i].(**string); s != nil {
				row[i] = *s
			}
		case integer:
			row[i] = *dests[i].(*int64)
		case optInt:
			if n := *dests[i].(**int64); n != nil {
				row[i] = *n
			}
		case boolean:
			row[i] = *dests[i].(*bool)
		case blob:
			b := *dests[i].(*[]byte)
			if b == nil {
				b = []byte{}
			}
			row[i] = b
		}
	}
	return row
}

// storable returns why PostgreSQL would refuse row, or nil: text holding
// a NUL byte or bytes that are not UTF-8, which SQLite stores and a
// PostgreSQL text or json column does not.
func storable(t *table, row []any) error {
	for i, c := range t.cols {
		s, ok := row[i].(string)
		if !ok {
			continue
		}
		switch {
		case strings.IndexByte(s, 0) >= 0:
			return fmt.Errorf("%s %s: column %s holds a NUL byte, which PostgreSQL does not store in text", t.name, keyText(t, row), c.name)
		case !utf8.ValidString(s):
			return fmt.Errorf("%s %s: column %s is not valid UTF-8, which PostgreSQL does not store in text", t.name, keyText(t, row), c.name)
		}
	}
	return nil
}

// keyText names a row by its primary key, for errors.
func keyText(t *table, row []any) string {
	parts := make([]string, len(t.key))
	for i, j := range t.keyIndexes() {
		parts[i] = fmt.Sprintf("%s=%v", t.key[i], row[j])
	}
	return "(" + strings.Join(parts, ", ") + ")"
}

// checksum is a table's row count and SHA-256 over its rows in primary
// key order, each value written with a tag of its type and, for text and
// bytes, its length first, so that no two different rows, or row
// sequences, write the same bytes.
type checksum struct {
	rows int64
	h    hash.Hash
	buf  []byte
}

func newChecksum() *checksum { return &checksum{h: sha256.New()} }

// Value tags of the checksum's encoding.
const (
	tagNull  = 0
	tagInt   = 1
	tagText  = 2
	tagFalse = 3
	tagTrue  = 4
	tagBytes = 5
)

func (c *checksum) add(row []any) {
	b := c.buf[:0]
	for _, v := range row {
		switch v := v.(type) {
		case nil:
			b = append(b, tagNull)
		case int64:
			b = append(b, tagInt)
			b = binary.BigEndian.AppendUint64(b, uint64(v))
		case string:
			b = append(b, tagText)
			b = binary.AppendUvarint(b, uint64(len(v)))
			b = append(b, v...)
		case bool:
			if v {
				b = append(b, tagTrue)
			} else {
				b = append(b, tagFalse)
			}
		case []byte:
			b = append(b, tagBytes)
			b = binary.AppendUvarint(b, uint64(len(v)))
			b = append(b, v...)
		default:
			panic(fmt.Sprintf("pgmigrate: checksum of a %T", v))
		}
	}
	c.h.Write(b)
	c.buf = b
	c.rows++
}

func (c *checksum) sum() string { return hex.EncodeToString(c.h.Sum(nil)) }
