// Package sqlite is Siteline's default storage backend: storage.Store on a
// single SQLite file through modernc.org/sqlite (pure Go, no cgo).
//
// The file is opened twice: one writer connection (WAL, synchronous=FULL,
// BEGIN IMMEDIATE) through which every write goes, and a pool of read-only
// connections that serve reads concurrently with it. The schema is created
// and upgraded by embedded goose migrations when the store opens.
//
// Conventions: times are stored as INTEGER unix nanoseconds in UTC (NULL for
// a zero time) and read back in UTC; e-mail addresses are stored and
// compared lower-case.
package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"path/filepath"
	"runtime"

	_ "modernc.org/sqlite" // registers the "sqlite" database/sql driver

	"siteline/storage"
)

// busyTimeoutMillis is how long a connection waits for a lock held by
// another connection (a checkpoint, another process) before SQLITE_BUSY.
const busyTimeoutMillis = 5000

// Store is storage.Store on one SQLite file. It is safe for concurrent use.
type Store struct {
	path   string
	logger *slog.Logger
	write  *sql.DB // exactly one connection; every write goes here
	read   *sql.DB // read-only connections
	// historyCh wakes the history publisher (see HistoryNotify).
	historyCh chan struct{}
	// deletionCh wakes the media sweeper (see DeletionNotify).
	deletionCh chan struct{}
	// groups commits concurrent write transactions together (commit.go).
	groups groups
}

var _ storage.Store = (*Store)(nil)

// Open opens the SQLite database at path, creating the file if needed, and
// migrates its schema to the latest version. A nil logger discards logs.
func Open(ctx context.Context, path string, logger *slog.Logger) (*Store, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("open sqlite store %s: %w", path, err)
	}
	s := &Store{path: abs, logger: logger.With("component", "storage.sqlite"), historyCh: make(chan struct{}, 1),
		deletionCh: make(chan struct{}, 1)}

	writer, err := openCachingConnector(writerDSN(abs))
	if err != nil {
		return nil, fmt.Errorf("open sqlite store %s: %w", abs, err)
	}
	s.write = sql.OpenDB(writer)
	s.write.SetMaxOpenConns(1)
	s.write.SetMaxIdleConns(1)
	s.write.SetConnMaxLifetime(0)
	s.write.SetConnMaxIdleTime(0)
	if err := s.write.PingContext(ctx); err != nil {
		s.write.Close()
		return nil, fmt.Errorf("open sqlite store %s: %w", abs, err)
	}

	version, err := migrate(ctx, s.write, s.logger)
	if err != nil {
		s.write.Close()
		return nil, fmt.Errorf("open sqlite store %s: %w", abs, err)
	}

	// Readers open only once the writer has created the file and switched
	// it to WAL: a mode=ro connection can do neither.
	s.read, err = sql.Open("sqlite", readerDSN(abs))
	if err != nil {
		s.write.Close()
		return nil, fmt.Errorf("open sqlite store %s: %w", abs, err)
	}
	readers := max(4, runtime.NumCPU())
	s.read.SetMaxOpenConns(readers)
	s.read.SetMaxIdleConns(readers)
	if err := s.read.PingContext(ctx); err != nil {
		s.Close()
		return nil, fmt.Errorf("open sqlite store %s: readers: %w", abs, err)
	}

	s.logger.Debug("store opened", "path", abs, "schema_version", version)
	return s, nil
}

// Close closes the reader pool and then the writer connection.
func (s *Store) Close() error {
	var errs []error
	if s.read != nil {
		errs = append(errs, s.read.Close())
	}
	if s.write != nil {
		errs = append(errs, s.write.Close())
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("close sqlite store %s: %w", s.path, err)
	}
	return nil
}

// Ping checks that both the writer and a reader answer.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.write.PingContext(ctx); err != nil {
		return fmt.Errorf("ping sqlite store %s: writer: %w", s.path, err)
	}
	if err := s.read.PingContext(ctx); err != nil {
		return fmt.Errorf("ping sqlite store %s: reader: %w", s.path, err)
	}
	return nil
}

// writerDSN is the DSN of the single writer connection: WAL, every commit
// synced (synchronous=FULL: acknowledged means on disk), foreign keys
// enforced, BEGIN IMMEDIATE so a write transaction takes the write lock
// up front instead of failing to upgrade half way, and temporary files
// (statement journals of statements firing triggers) in memory.
func writerDSN(path string) string {
	return fileURI(path, url.Values{
		"_pragma": {
			fmt.Sprintf("busy_timeout(%d)", busyTimeoutMillis),
			"journal_mode(WAL)",
			"synchronous(FULL)",
			"foreign_keys(1)",
			"temp_store(MEMORY)",
		},
		"_txlock": {"immediate"},
	})
}

// readerDSN is the DSN of the read pool. mode=ro makes SQLite refuse any
// write on these connections, and never create the file.
func readerDSN(path string) string {
	return fileURI(path, url.Values{
		"mode": {"ro"},
		"_pragma": {
			fmt.Sprintf("busy_timeout(%d)", busyTimeoutMillis),
			"foreign_keys(1)",
			"query_only(1)",
		},
	})
}

// fileURI builds a SQLite URI (file:///abs/path?...), escaping the path so
// that a '?' or '#' in it cannot be read as parameters.
func fileURI(path string, params url.Values) string {
	u := url.URL{Scheme: "file", Path: filepath.ToSlash(path), RawQuery: params.Encode()}
	return u.String()
}
