package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"os"
)

// BackupTo writes a consistent copy of the whole store (organisation data
// and site history alike) to a new file at path with VACUUM INTO. It runs
// on a connection of its own, as one read transaction: in WAL mode the
// writer goes on committing meanwhile, and the copy is the store as of the
// transaction's start.
func (s *Store) BackupTo(ctx context.Context, path string) error {
	if _, err := os.Stat(path); err == nil {
		return fmt.Errorf("back up sqlite store: %s exists", path)
	}
	db, err := sql.Open("sqlite", fileURI(s.path, url.Values{
		"_pragma": {fmt.Sprintf("busy_timeout(%d)", busyTimeoutMillis)},
	}))
	if err != nil {
		return fmt.Errorf("back up sqlite store: %w", err)
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	if _, err := db.ExecContext(ctx, "VACUUM INTO ?", path); err != nil {
		_ = os.Remove(path)
		return fmt.Errorf("back up sqlite store to %s: %w", path, err)
	}
	return nil
}

// RepublishUnacked clears the published stamp of the outbox records above
// acked, the mark headquarters acknowledged, so the publisher sends them
// again. A node restored from a backup does this once before it starts:
// its JetStream stream is a new one, and the records it had published but
// headquarters had not yet confirmed may never have left the old machine.
// Headquarters applies by id, so the copies of those that had arrived
// change nothing. It returns how many records go again.
func (s *Store) RepublishUnacked(ctx context.Context, acked int64) (int64, error) {
	res, err := s.write.ExecContext(ctx, `UPDATE history_outbox SET published_at = NULL
		WHERE seq > ? AND published_at IS NOT NULL`, acked)
	if err != nil {
		return 0, fmt.Errorf("republish unacknowledged history: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("republish unacknowledged history: %w", err)
	}
	return n, nil
}
