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

// RestoredOutboxGap is how far a restored node's outbox sequence moves
// on (RestartHistoryOutbox): past any sequence the lost machine can have
// given records after the backup, which headquarters' mark for the node
// may count.
const RestoredOutboxGap = 1 << 32

// RestartHistoryOutbox readies the outbox of a node restored from a
// backup, once, before it starts. Its JetStream stream is a new one, and
// the records it had published that headquarters had not acknowledged
// (above acked) may never have left the old machine: their published
// stamp is cleared, so the publisher sends them again (headquarters
// applies by id, so the copies of those that had arrived change nothing).
// And its sequence moves on by RestoredOutboxGap, so that headquarters'
// mark for the node, which records the old machine wrote after the
// backup may have raised, is below every new record: acknowledgements and
// the backlog stay exact. It returns how many records go again.
func (s *Store) RestartHistoryOutbox(ctx context.Context, acked int64) (int64, error) {
	var n int64
	err := s.writeTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE history_outbox SET published_at = NULL
			WHERE seq > ? AND published_at IS NOT NULL`, acked)
		if err != nil {
			return err
		}
		if n, err = res.RowsAffected(); err != nil {
			return err
		}
		var last int64
		if err := tx.QueryRowContext(ctx, `SELECT COALESCE((SELECT seq FROM sqlite_sequence WHERE name = 'history_outbox'), 0)`).Scan(&last); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM sqlite_sequence WHERE name = 'history_outbox'`); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO sqlite_sequence (name, seq) VALUES ('history_outbox', ?)`, last+RestoredOutboxGap)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("restart the history outbox: %w", err)
	}
	return n, nil
}
