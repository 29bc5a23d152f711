package postgres

import (
	"context"
	"embed"
	"fmt"
	"io/fs"
	"log/slog"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
)

// migrationFiles holds the versioned schema, NNNNN_name.sql, applied in
// order by goose. A released migration is never edited; change the schema
// with a new file. The versions are this package's own, not SQLite's.
//
//go:embed migrations/*.sql
var migrationFiles embed.FS

// newMigrator returns a goose provider over the embedded migrations on
// its own connection to the database (goose speaks database/sql). Its
// session lock, an advisory lock, makes two nodes starting at once migrate
// one after the other.
func newMigrator(cfg *pgx.ConnConfig, logger *slog.Logger) (*goose.Provider, error) {
	fsys, err := fs.Sub(migrationFiles, "migrations")
	if err != nil {
		return nil, err
	}
	locker, err := lock.NewPostgresSessionLocker()
	if err != nil {
		return nil, err
	}
	return goose.NewProvider(goose.DialectPostgres, stdlib.OpenDB(*cfg), fsys,
		goose.WithDisableGlobalRegistry(true), // no package-level state
		goose.WithSessionLocker(locker),
		goose.WithSlog(logger),
	)
}

// migrate brings the schema up to the latest embedded migration and
// returns the resulting version. A schema above that version was written
// by a newer release, whose tables this binary would misread: it is
// refused before anything is changed.
func migrate(ctx context.Context, cfg *pgx.ConnConfig, logger *slog.Logger) (_ int64, err error) {
	p, err := newMigrator(cfg, logger)
	if err != nil {
		return 0, fmt.Errorf("migrate: %w", err)
	}
	defer func() {
		if cerr := p.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("migrate: %w", cerr)
		}
	}()
	current, latest, err := p.GetVersions(ctx)
	if err != nil {
		return 0, fmt.Errorf("migrate: read version: %w", err)
	}
	if current > latest {
		return 0, fmt.Errorf("migrate: the schema is at version %d, newer than this binary knows (%d): run the release that wrote it, or a later one", current, latest)
	}
	results, err := p.Up(ctx)
	if err != nil {
		return 0, fmt.Errorf("migrate: %w", err)
	}
	for _, r := range results {
		logger.Info("schema migrated", "version", r.Source.Version, "file", r.Source.Path, "took", r.Duration)
	}
	version, err := p.GetDBVersion(ctx)
	if err != nil {
		return 0, fmt.Errorf("migrate: read version: %w", err)
	}
	return version, nil
}
