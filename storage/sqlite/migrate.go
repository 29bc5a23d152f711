package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"io/fs"
	"log/slog"

	"github.com/pressly/goose/v3"
)

// migrationFiles holds the versioned schema, NNNNN_name.sql, applied in
// order by goose. A released migration is never edited; change the schema
// with a new file.
//
//go:embed migrations/*.sql
var migrationFiles embed.FS

// newMigrator returns a goose provider over the embedded migrations.
func newMigrator(db *sql.DB, logger *slog.Logger) (*goose.Provider, error) {
	fsys, err := fs.Sub(migrationFiles, "migrations")
	if err != nil {
		return nil, err
	}
	return goose.NewProvider(goose.DialectSQLite3, db, fsys,
		goose.WithDisableGlobalRegistry(true), // no package-level state
		goose.WithSlog(logger),
	)
}

// migrate brings the schema of db up to the latest embedded migration and
// returns the resulting version. A schema above that version was written
// by a newer release (a node downgraded, or a restored backup of a newer
// one), whose tables this binary would misread: it is refused before
// anything is changed.
func migrate(ctx context.Context, db *sql.DB, logger *slog.Logger) (int64, error) {
	p, err := newMigrator(db, logger)
	if err != nil {
		return 0, fmt.Errorf("migrate: %w", err)
	}
	current, latest, err := p.GetVersions(ctx)
	if err != nil {
		return 0, fmt.Errorf("migrate: read version: %w", err)
	}
	if current > latest {
		return 0, fmt.Errorf("migrate: the database is at schema version %d, newer than this binary knows (%d): run the release that wrote it, or a later one", current, latest)
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
