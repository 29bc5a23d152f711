// Package postgres keeps headquarters' site history on PostgreSQL instead
// of SQLite, through jackc/pgx v5: the interfaces of package storage on a
// pgxpool, with the same behaviour as storage/sqlite, which one
// conformance suite (storage/storagetest) proves against both.
//
// It holds site data only: sessions with their participants, events and
// the fields set after the call, audit events, the history outbox, and at
// headquarters what the history applier applied, its marks and what it
// rejected, the rows (not the bytes) of the media and recordings, those
// other nodes forwarded and its own, with their deletions and the queue
// of deletions whose bytes the blob sweeper has still to remove
// (DeletionNotify wakes it after a deletion made here or applied), and
// the service reports' versions. Organisation data (orgs, users, teams,
// labels) stays in the node's SQLite store, which Raft writes; this
// database refers to it by id, without foreign keys, and reads what it
// needs of it through Options: an organisation's labels (Options.Labels)
// and its users, whose last calls LastCalls reads (Options.Users).
//
// Where PostgreSQL differs from SQLite underneath, the store keeps
// SQLite's behaviour: the ids lists are ordered by (participants', audit
// events', media rows', rejected messages' origins), label ids, audit
// actions and report origins are COLLATE "C", so lists, prefixes and the
// report that stands go byte by byte whatever the server's locale. What
// it cannot keep is text holding a NUL byte, which PostgreSQL refuses
// (storage.ErrInvalid; SQLite stores it), and an outbox sequence number
// drawn by a transaction that then rolled back, which stays unused.
//
// The session and report searches match what SQLite's FTS5 matches with
// PostgreSQL's own full-text machinery: a tsvector per session and per
// report, kept by triggers and a generated column, words folded by the
// unaccent extension (which migration 00008 creates: the role needs
// CREATE on the database) and split where FTS5's unicode61 splits them.
// What differs: unaccent's rules fold some letters FTS5 keeps (ß as "ss",
// æ as "ae", ł as "l", ligatures), so "strasse" and "lodz" find "Straße"
// and "Łódź" here and not in SQLite; a number that is not a digit is a
// break (²) or spelled out (½ as "1 2") here and part of a word there, so
// "x" finds "x²" here only; a word longer than 2046 bytes is not indexed; and a session or report whose distinct words pass a
// tsvector's 1 MB cannot be written. The report search folds like the
// session search, where SQLite's report index keeps the diacritics of a
// letter that has several (remove_diacritics 1).
//
// The dashboards read the same rollups as SQLite's (migration 00010): the
// same rows, sums and order, for every grain and breakdown; a test writes
// one random history to both stores and compares every read. They are
// kept differently: PostgreSQL runs a statement's AFTER ROW triggers once
// the statement is done, so SQLite's pairs of triggers around each row
// would count a multi-row write twice. Instead each ended session keeps
// the state its rows were computed from, and a trigger deferred to the
// commit of any write that may change it recomputes the session's rows
// when the state differs. A goal is counted by storage.GoalKey, which the
// store writes with the goal (sessions.goal_key), not by the server's
// lower(). The names the reads list (an organisation's sites and
// outcomes) come from the rollups themselves, as in SQLite: the
// dashboards need no organisation data.
//
// Conventions: times are stored as BIGINT unix nanoseconds in UTC (NULL
// for a zero time) and read back in UTC, as in the SQLite store (see
// migrations/00001_sessions.sql for why not timestamptz). The schema is
// created and upgraded by embedded goose migrations when the store opens.
package postgres

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"siteline/storage"
)

// Defaults of Options.
const (
	DefaultMaxConns         = 10
	DefaultStatementTimeout = 30 * time.Second
	DefaultConnectTimeout   = 10 * time.Second
)

// Options tune the connection pool; the zero value takes the defaults.
type Options struct {
	// MaxConns is the size of the pool.
	MaxConns int32
	// StatementTimeout is the server's statement_timeout on every
	// connection of the pool: a statement running longer is cancelled, so
	// a stuck query cannot hold a connection forever.
	StatementTimeout time.Duration
	// ConnectTimeout bounds each connection attempt, unless the DSN sets
	// connect_timeout.
	ConnectTimeout time.Duration
	// Logger receives the migrations' logs; nil discards them.
	Logger *slog.Logger
	// Labels lists each organisation's labels, which SetSessionLabels and
	// the history applier check a session's labels against. Without it,
	// a change that sets labels fails (clearing them works).
	Labels OrgLabels
	// Users lists each organisation's users, whose last calls LastCalls
	// reads. Without it, LastCalls fails.
	Users OrgUsers
}

// Store is the session history on one PostgreSQL database. It is safe for
// concurrent use.
type Store struct {
	pool   *pgxpool.Pool
	server string // host:port and database, for errors (never the password)
	logger *slog.Logger
	labels OrgLabels
	users  OrgUsers
	// deletionCh wakes the media sweeper (see DeletionNotify).
	deletionCh chan struct{}
}

var (
	_ storage.SessionStore        = (*Store)(nil)
	_ storage.HistoryOutbox       = (*Store)(nil)
	_ storage.HistoryApplier      = (*Store)(nil)
	_ storage.SessionHistoryStore = (*Store)(nil)
	_ storage.DashboardStore      = (*Store)(nil)
)

// Open connects to the database at dsn (a postgres:// URL or a key=value
// string), checks that the server answers, and migrates the schema to the
// latest version. A database whose schema is newer than this binary knows
// is refused.
func Open(ctx context.Context, dsn string, opts Options) (*Store, error) {
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		// pgx's message may quote the DSN, password included: keep only
		// that it did not parse.
		return nil, errors.New("open postgres store: the DSN does not parse (postgres://user:password@host:port/database or key=value pairs)")
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.MaxConns <= 0 {
		opts.MaxConns = DefaultMaxConns
	}
	if opts.StatementTimeout <= 0 {
		opts.StatementTimeout = DefaultStatementTimeout
	}
	if opts.ConnectTimeout <= 0 {
		opts.ConnectTimeout = DefaultConnectTimeout
	}
	cfg.MaxConns = opts.MaxConns
	if cfg.ConnConfig.ConnectTimeout == 0 {
		cfg.ConnConfig.ConnectTimeout = opts.ConnectTimeout
	}
	// The migrations run without the statement timeout: one that rewrites
	// a large table may rightly take longer.
	migrateConfig := cfg.ConnConfig.Copy()
	migrateConfig.RuntimeParams["statement_timeout"] = "0"
	cfg.ConnConfig.RuntimeParams["statement_timeout"] = strconv.FormatInt(opts.StatementTimeout.Milliseconds(), 10)

	s := &Store{
		server: fmt.Sprintf("%s database %s", net.JoinHostPort(cfg.ConnConfig.Host, strconv.Itoa(int(cfg.ConnConfig.Port))), cfg.ConnConfig.Database),
		logger: opts.Logger.With("component", "storage.postgres"),
		labels: opts.Labels,
		users:  opts.Users,

		deletionCh: make(chan struct{}, 1),
	}
	s.pool, err = pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("open postgres store at %s: %w", s.server, err)
	}
	// The pool connects lazily: connect once now, so an unreachable server
	// fails the start rather than the first request.
	if err := s.pool.Ping(ctx); err != nil {
		s.pool.Close()
		return nil, fmt.Errorf("open postgres store: the server at %s does not answer: %w", s.server, err)
	}
	version, err := migrate(ctx, migrateConfig, s.logger)
	if err != nil {
		s.pool.Close()
		return nil, fmt.Errorf("open postgres store at %s: %w", s.server, err)
	}
	s.logger.Debug("store opened", "server", s.server, "schema_version", version)
	return s, nil
}

// Close closes the pool, waiting for the connections in use to be
// released.
func (s *Store) Close() error {
	s.pool.Close()
	return nil
}

// Ping checks that the server answers on a connection of the pool.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.pool.Ping(ctx); err != nil {
		return fmt.Errorf("ping postgres store at %s: %w", s.server, err)
	}
	return nil
}
