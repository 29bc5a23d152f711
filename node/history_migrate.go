package node

import (
	"context"
	"fmt"
	"io"
	"path/filepath"

	"siteline/storage/pgmigrate"
)

// MigrateHistory copies the site history of the node in dataDir to the
// PostgreSQL database at dsn and compares both (storage/pgmigrate), for
// `siteline storage migrate -to postgres`. The node must be stopped: one
// answering on its admin socket is refused, since what it wrote after the
// copy read its store would be missing. progress receives a line per
// table copied. A comparison that fails is a *pgmigrate.MismatchError,
// returned with the report.
func MigrateHistory(ctx context.Context, dataDir, dsn string, progress io.Writer) (pgmigrate.Report, error) {
	dir, err := filepath.Abs(dataDir)
	if err != nil {
		return pgmigrate.Report{}, fmt.Errorf("migrate history: %w", err)
	}
	if ok, err := Exists(dir); err != nil || !ok {
		if err == nil {
			err = fmt.Errorf("no Siteline node found in %s (there is no %s there)", dir, storeFile)
		}
		return pgmigrate.Report{}, fmt.Errorf("migrate history: %w", err)
	}
	if running(dir) {
		return pgmigrate.Report{}, fmt.Errorf("migrate history: a node is running on %s; stop it first, so that the copy holds everything it wrote", dir)
	}
	return pgmigrate.Migrate(ctx, filepath.Join(dir, storeFile), dsn, pgmigrate.Options{Progress: progress})
}
