package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"time"

	"siteline/storage"
)

// SaveStatusSamples stores samples of the team dashboard's chart and
// removes those taken before the given time, in one transaction. A sample
// stored again (same organisation, team and time) replaces the first.
func (s *Store) SaveStatusSamples(ctx context.Context, samples []storage.StatusSample, before time.Time) error {
	err := s.writeTx(ctx, func(tx *sql.Tx) error {
		for _, x := range samples {
			counts, err := json.Marshal(x.Counts)
			if err != nil {
				return err
			}
			if err := exec(ctx, tx, `INSERT INTO team_status_samples (org_id, team_id, at, counts) VALUES (?, ?, ?, ?)
				ON CONFLICT DO UPDATE SET counts = excluded.counts`, x.OrgID, x.TeamID, nanos(x.At), string(counts)); err != nil {
				return err
			}
		}
		return exec(ctx, tx, `DELETE FROM team_status_samples WHERE at < ?`, nanos(before))
	})
	if err != nil {
		return fmt.Errorf("save status samples: %w", err)
	}
	return nil
}

// StatusSamples lists an organisation's samples taken at or after since,
// oldest first.
func (s *Store) StatusSamples(ctx context.Context, orgID string, since time.Time) ([]storage.StatusSample, error) {
	out, err := collect(ctx, s.read, func(r *sql.Rows) (storage.StatusSample, error) {
		x := storage.StatusSample{OrgID: orgID}
		var counts string
		if err := r.Scan(&x.TeamID, timeDest{&x.At}, &counts); err != nil {
			return x, err
		}
		return x, json.Unmarshal([]byte(counts), &x.Counts)
	}, `SELECT team_id, at, counts FROM team_status_samples WHERE org_id = ? AND at >= ? ORDER BY at, team_id`,
		orgID, nanos(since))
	if err != nil {
		return nil, fmt.Errorf("status samples of %s: %w", orgID, err)
	}
	return out, nil
}
