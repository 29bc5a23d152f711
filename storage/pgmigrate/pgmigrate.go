// Package pgmigrate copies a node's site history from its SQLite store to
// a PostgreSQL database (storage/postgres), for `siteline storage migrate
// -to postgres`: every table both schemas hold, batch by batch, then
// compares the two sides table by table, row counts and a checksum of the
// rows, and the history applier's marks.
//
// The node must be stopped: the copy reads one SQLite snapshot, and rows
// the node wrote after it would be missing. Both schemas are brought to
// this binary's version first (their stores' own migrations), so the
// column lists of tables.go hold on both sides.
//
// Each batch is one PostgreSQL transaction: its rows are copied (COPY)
// into a temporary table, inserted from there with ON CONFLICT DO NOTHING,
// and the key of its last row is recorded in the same transaction in
// siteline_migrate_progress, a table of this tool's own (not of the
// store's migrations) that it creates when missing. A copy interrupted at
// any point (killed, cancelled, the server gone) resumes after the last
// batch committed, without writing a row twice; a copy run again once
// complete copies nothing and compares again. The progress is kept per
// source, the node id of the SQLite store, so that another node's copy
// into the same database starts from its own beginning. Dropping the table
// forgets it: the next run sends every row again, and those PostgreSQL
// holds already are left as they are.
//
// The comparison reads whole tables on both sides, so it holds only for a
// database that holds nothing but this node's history: rows another
// source wrote there make it fail, naming the table. A row changed in
// SQLite after it was copied (a node started between two runs) is not
// copied again, and fails the comparison too: copy a stopped node into a
// fresh database.
package pgmigrate

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/jackc/pgx/v5"

	"siteline/storage"
	"siteline/storage/postgres"
	"siteline/storage/sqlite"
)

// DefaultBatch is how many rows one PostgreSQL transaction copies.
const DefaultBatch = 2000

// Options tune a migration; the zero value takes the defaults.
type Options struct {
	// Batch is how many rows each transaction copies.
	Batch int
	// Progress receives a line per table copied, and one every few seconds
	// during a long one; nil discards them.
	Progress io.Writer
	// Logger receives the stores' logs (their schema migrations); nil
	// discards them.
	Logger *slog.Logger

	// afterBatch, when set, is called after each committed batch with the
	// table ("sessions.search" for the search documents) and how many
	// batches of it this run committed so far (tests stop the copy there).
	afterBatch func(table string, batches int)
	// unnest writes each batch as one INSERT of arrays instead of COPY
	// into the staging table (benchmarks compare both).
	unnest bool
	// refreshEach computes the dashboards' rows one session at a time
	// (dashboard_refresh) instead of a batch at a time (benchmarks compare
	// both).
	refreshEach bool
}

// Report is what a migration did and found.
type Report struct {
	// Server is PostgreSQL's host:port and database (never the password).
	Server string
	// Source is the node id of the SQLite store, under which the progress
	// is kept.
	Source string
	Tables []TableReport
	// Marks lists the origins whose applier mark differs between the two
	// stores, as "origin: sqlite N, postgres M".
	Marks []string
	// SearchDocuments is how many sessions' search documents the run made
	// (search.go).
	SearchDocuments int64
	// DashboardSessions is how many ended sessions' dashboard rows the run
	// computed (all of them after a run that copied rows).
	DashboardSessions int64
	// DashboardTook is how long computing them took.
	DashboardTook time.Duration
	// VacuumTook is how long the VACUUM (ANALYZE) after a run that copied
	// rows took; zero when it copied none.
	VacuumTook time.Duration
	// Took is the whole run: copy and comparison.
	Took time.Duration
}

// TableReport is one table's copy and comparison.
type TableReport struct {
	Table string
	// Copied is how many rows this run inserted; Present how many it sent
	// that PostgreSQL held already.
	Copied, Present int64
	// CopyTook is how long the copy of this table took.
	CopyTook time.Duration

	SQLiteRows, PostgresRows int64
	// SQLiteSum and PostgresSum are the hex SHA-256 of each side's rows.
	SQLiteSum, PostgresSum string
}

// Equal tells whether both sides hold the same rows.
func (t TableReport) Equal() bool {
	return t.SQLiteRows == t.PostgresRows && t.SQLiteSum == t.PostgresSum
}

// Copied is the rows inserted over all tables.
func (r Report) Copied() int64 {
	var n int64
	for _, t := range r.Tables {
		n += t.Copied
	}
	return n
}

// MismatchError is a comparison that failed: the tables whose rows
// differ, and the origins whose applier marks do.
type MismatchError struct {
	Tables []string
	Marks  []string
}

func (e *MismatchError) Error() string {
	var parts []string
	if len(e.Tables) > 0 {
		parts = append(parts, "the rows of "+strings.Join(e.Tables, ", ")+" differ")
	}
	if len(e.Marks) > 0 {
		parts = append(parts, "the applier marks differ ("+strings.Join(e.Marks, "; ")+")")
	}
	return "the copy does not match: " + strings.Join(parts, ", and ")
}

// Migrate copies the site history of the SQLite store at sqlitePath into
// the PostgreSQL database at dsn, resuming a copy interrupted before, and
// compares both. It returns a *MismatchError, with the report, when they
// differ.
func Migrate(ctx context.Context, sqlitePath, dsn string, opts Options) (Report, error) {
	start := time.Now()
	if opts.Batch <= 0 {
		opts.Batch = DefaultBatch
	}
	if opts.Progress == nil {
		opts.Progress = io.Discard
	}
	m, err := open(ctx, sqlitePath, dsn, opts)
	if err != nil {
		return Report{}, err
	}
	defer m.close(ctx)
	rep := Report{Server: m.server, Source: m.source}
	for i := range tables {
		t := &tables[i]
		tr, err := m.copyTable(ctx, t)
		if err != nil {
			return rep, err
		}
		rep.Tables = append(rep.Tables, tr)
	}
	if err := m.fillGoalKeys(ctx); err != nil {
		return rep, err
	}
	if rep.SearchDocuments, err = m.refreshSearch(ctx, rep.Copied() > 0); err != nil {
		return rep, err
	}
	dashStart := time.Now()
	rep.DashboardSessions, err = m.refreshDashboards(ctx, rep.Copied() > 0)
	rep.DashboardTook = time.Since(dashStart)
	if err != nil {
		return rep, err
	}
	if rep.Copied() > 0 {
		if rep.VacuumTook, err = m.vacuum(ctx); err != nil {
			return rep, err
		}
	}
	fmt.Fprintf(opts.Progress, "comparing %d tables\n", len(tables))
	for i := range rep.Tables {
		if err := m.compare(ctx, &tables[i], &rep.Tables[i]); err != nil {
			return rep, err
		}
	}
	if rep.Marks, err = m.compareMarks(ctx); err != nil {
		return rep, err
	}
	rep.Took = time.Since(start)
	var bad []string
	for _, t := range rep.Tables {
		if !t.Equal() {
			bad = append(bad, t.Table)
		}
	}
	if len(bad) > 0 || len(rep.Marks) > 0 {
		return rep, &MismatchError{Tables: bad, Marks: rep.Marks}
	}
	return rep, nil
}

// migration is one run: both stores, opened through their packages (which
// migrate their schemas and compare the marks), a read transaction on the
// SQLite file (the snapshot copied) and one PostgreSQL connection (its
// temporary tables are its own).
type migration struct {
	opts   Options
	server string
	source string

	lite   *sqlite.Store
	pgs    *postgres.Store
	liteDB *sql.DB
	snap   *sql.Tx
	pg     *pgx.Conn
	// searchTriggers are the search triggers the copy turns off, by table
	// (search.go).
	searchTriggers map[string][]string
	// dashboardTriggers are the dashboards' triggers, which the copy
	// turns off likewise (search.go).
	dashboardTriggers map[string][]string
}

func open(ctx context.Context, sqlitePath, dsn string, opts Options) (_ *migration, err error) {
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		// pgx's message may quote the DSN, password included.
		return nil, errors.New("migrate to postgres: the DSN does not parse (postgres://user:password@host:port/database or key=value pairs)")
	}
	m := &migration{opts: opts,
		server: net.JoinHostPort(cfg.Host, strconv.Itoa(int(cfg.Port))) + "/" + cfg.Database}
	defer func() {
		if err != nil {
			m.close(ctx)
		}
	}()
	path, err := filepath.Abs(sqlitePath)
	if err != nil {
		return nil, fmt.Errorf("migrate to postgres: %w", err)
	}
	// sqlite.Open would create a missing file: a mistyped path is an error.
	if _, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("migrate to postgres: the SQLite store: %w", err)
	}
	if m.lite, err = sqlite.Open(ctx, path, opts.Logger); err != nil {
		return nil, fmt.Errorf("migrate to postgres: %w", err)
	}
	if m.pgs, err = postgres.Open(ctx, dsn, postgres.Options{MaxConns: 2, Logger: opts.Logger}); err != nil {
		return nil, fmt.Errorf("migrate to postgres: %w", err)
	}
	if m.source, err = m.lite.Meta(ctx, "node_id"); errors.Is(err, storage.ErrNotFound) {
		m.source, err = "file:"+path, nil // a store no node has started on
	}
	if err != nil {
		return nil, fmt.Errorf("migrate to postgres: %w", err)
	}
	if m.liteDB, err = sql.Open("sqlite", readOnlyDSN(path)); err != nil {
		return nil, fmt.Errorf("migrate to postgres: open %s: %w", path, err)
	}
	m.liteDB.SetMaxOpenConns(1)
	// One read transaction for the whole run: the copy and the comparison
	// read the same snapshot.
	if m.snap, err = m.liteDB.BeginTx(ctx, nil); err != nil {
		return nil, fmt.Errorf("migrate to postgres: read %s: %w", path, err)
	}
	if m.pg, err = pgx.ConnectConfig(ctx, cfg); err != nil {
		return nil, fmt.Errorf("migrate to postgres: connect to %s: %w", m.server, err)
	}
	if _, err := m.pg.Exec(ctx, createProgress); err != nil {
		return nil, fmt.Errorf("migrate to postgres: create siteline_migrate_progress at %s: %w", m.server, err)
	}
	if err := m.findSearchTriggers(ctx); err != nil {
		return nil, fmt.Errorf("migrate to postgres: %w", err)
	}
	return m, nil
}

func (m *migration) close(ctx context.Context) {
	if m.pg != nil {
		m.pg.Close(ctx)
	}
	if m.snap != nil {
		m.snap.Rollback()
	}
	if m.liteDB != nil {
		m.liteDB.Close()
	}
	if m.pgs != nil {
		m.pgs.Close()
	}
	if m.lite != nil {
		m.lite.Close()
	}
}

// readOnlyDSN opens the SQLite file for reading only: mode=ro never
// writes or creates it.
func readOnlyDSN(path string) string {
	u := url.URL{Scheme: "file", Path: filepath.ToSlash(path), RawQuery: url.Values{
		"mode":    {"ro"},
		"_pragma": {"busy_timeout(5000)", "query_only(1)"},
	}.Encode()}
	return u.String()
}

// compareMarks compares the history applier's marks as each store reads
// them, and lists the origins whose marks differ.
func (m *migration) compareMarks(ctx context.Context) ([]string, error) {
	lite, err := m.lite.HistoryMarks(ctx)
	if err != nil {
		return nil, fmt.Errorf("compare marks: %w", err)
	}
	pg, err := m.pgs.HistoryMarks(ctx)
	if err != nil {
		return nil, fmt.Errorf("compare marks: %w", err)
	}
	var diff []string
	for origin, seq := range lite {
		if pg[origin] != seq {
			diff = append(diff, fmt.Sprintf("%s: sqlite %d, postgres %d", origin, seq, pg[origin]))
		}
	}
	for origin, seq := range pg {
		if _, ok := lite[origin]; !ok {
			diff = append(diff, fmt.Sprintf("%s: sqlite none, postgres %d", origin, seq))
		}
	}
	slices.Sort(diff)
	return diff, nil
}

// WriteTable writes the comparison, a line per table, and what the run
// copied.
func (r Report) WriteTable(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TABLE\tROWS SQLITE\tROWS POSTGRES\tCOPIED NOW\tCHECKSUM\t")
	for _, t := range r.Tables {
		state := "equal"
		if !t.Equal() {
			state = "DIFFERS"
		}
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%s\t\n", t.Table, t.SQLiteRows, t.PostgresRows, t.Copied, state)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, m := range r.Marks {
		fmt.Fprintf(w, "applier mark of %s\n", m)
	}
	_, err := fmt.Fprintf(w, "%d rows copied to %s in %s.\n", r.Copied(), r.Server, r.Took.Round(time.Millisecond))
	return err
}

// vacuum runs VACUUM (ANALYZE) on the database once its rows are in, as
// PostgreSQL asks after a bulk load: until then the planner has no
// statistics of the copied tables and estimates their searches blind, and
// the first read of each page dirties it again to set its hint bits, so
// that the first searches write as much as they read.
func (m *migration) vacuum(ctx context.Context) (time.Duration, error) {
	start := time.Now()
	fmt.Fprintln(m.opts.Progress, "vacuum and analyze")
	if _, err := m.pg.Exec(ctx, `VACUUM (ANALYZE)`); err != nil {
		return 0, fmt.Errorf("vacuum and analyze the copy: %w", err)
	}
	took := time.Since(start)
	fmt.Fprintf(m.opts.Progress, "vacuum and analyze: %s\n", took.Round(time.Millisecond))
	return took, nil
}
