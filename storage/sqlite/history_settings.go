package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"

	"siteline/storage"
)

// putHistorySettings replaces an organisation's history settings. They are
// checked here too, so that every node refuses the same bad settings.
func putHistorySettings(ctx context.Context, q querier, h storage.HistorySettings) error {
	if err := h.Validate(); err != nil {
		return err
	}
	if err := requireOrg(ctx, q, h.OrgID); err != nil {
		return err
	}
	doc, err := json.Marshal(h)
	if err != nil {
		return err
	}
	return exec(ctx, q, `INSERT INTO history_settings (org_id, settings) VALUES (?, ?)
		ON CONFLICT (org_id) DO UPDATE SET settings = excluded.settings`, h.OrgID, string(doc))
}

// HistorySettings returns an organisation's history settings: the defaults
// when it never set its own.
func (s *Store) HistorySettings(ctx context.Context, orgID string) (storage.HistorySettings, error) {
	list, err := queryHistorySettings(ctx, s.read, "WHERE org_id = ?", orgID)
	if err != nil {
		return storage.HistorySettings{}, fmt.Errorf("history settings of %s: %w", orgID, err)
	}
	if len(list) == 0 {
		return storage.DefaultHistorySettings(orgID), nil
	}
	return list[0], nil
}

func queryHistorySettings(ctx context.Context, q querier, where string, args ...any) ([]storage.HistorySettings, error) {
	return collect(ctx, q, func(r *sql.Rows) (storage.HistorySettings, error) {
		var orgID, doc string
		if err := r.Scan(&orgID, &doc); err != nil {
			return storage.HistorySettings{}, err
		}
		var h storage.HistorySettings
		if err := json.Unmarshal([]byte(doc), &h); err != nil {
			return h, fmt.Errorf("decode history settings of %s: %w", orgID, err)
		}
		h.OrgID = orgID
		return h, nil
	}, "SELECT org_id, settings FROM history_settings "+where+" ORDER BY org_id", args...)
}
