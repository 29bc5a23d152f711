package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"time"

	"siteline/storage"
)

// putSSOSettings replaces an organisation's single sign-on settings,
// checked here too so that every node refuses the same bad settings.
func putSSOSettings(ctx context.Context, q querier, s storage.SSOSettings) error {
	if err := s.Validate(); err != nil {
		return err
	}
	if err := requireOrg(ctx, q, s.OrgID); err != nil {
		return err
	}
	if s.BreakGlassUserID != "" {
		if err := requireSameOrg(ctx, q, "break_glass_user", "users", s.BreakGlassUserID, s.OrgID); err != nil {
			return err
		}
	}
	doc, err := json.Marshal(s)
	if err != nil {
		return err
	}
	return exec(ctx, q, `INSERT INTO sso_settings (org_id, settings) VALUES (?, ?)
		ON CONFLICT (org_id) DO UPDATE SET settings = excluded.settings`, s.OrgID, string(doc))
}

// SSOSettings returns an organisation's single sign-on settings: none set
// up (zero settings of orgID) when it never saved any.
func (s *Store) SSOSettings(ctx context.Context, orgID string) (storage.SSOSettings, error) {
	list, err := querySSOSettings(ctx, s.read, "WHERE org_id = ?", orgID)
	if err != nil {
		return storage.SSOSettings{}, fmt.Errorf("sso settings of %s: %w", orgID, err)
	}
	if len(list) == 0 {
		return storage.SSOSettings{OrgID: orgID}, nil
	}
	return list[0], nil
}

// AllSSOSettings returns the settings of every organisation that saved
// some, for the login page.
func (s *Store) AllSSOSettings(ctx context.Context) ([]storage.SSOSettings, error) {
	return querySSOSettings(ctx, s.read, "")
}

func querySSOSettings(ctx context.Context, q querier, where string, args ...any) ([]storage.SSOSettings, error) {
	return collect(ctx, q, func(r *sql.Rows) (storage.SSOSettings, error) {
		var orgID, doc string
		if err := r.Scan(&orgID, &doc); err != nil {
			return storage.SSOSettings{}, err
		}
		var st storage.SSOSettings
		if err := json.Unmarshal([]byte(doc), &st); err != nil {
			return st, fmt.Errorf("decode sso settings of %s: %w", orgID, err)
		}
		st.OrgID = orgID
		return st, nil
	}, "SELECT org_id, settings FROM sso_settings "+where+" ORDER BY org_id", args...)
}

// ConsumeAssertion records a SAML assertion id as used until expires, and
// returns storage.ErrConflict when it was recorded before. Expired records
// are dropped on the way.
func (s *Store) ConsumeAssertion(ctx context.Context, id string, expires time.Time) error {
	now := time.Now()
	if _, err := s.write.ExecContext(ctx, "DELETE FROM sso_replay WHERE expires_at < ?", nanos(now)); err != nil {
		return fmt.Errorf("sso replay cache: %w", err)
	}
	res, err := s.write.ExecContext(ctx, "INSERT INTO sso_replay (id, expires_at) VALUES (?, ?) ON CONFLICT (id) DO NOTHING", id, nanos(expires))
	if err != nil {
		return fmt.Errorf("sso replay cache: %w", err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return err
	} else if n == 0 {
		return fmt.Errorf("assertion %s was already used: %w", id, storage.ErrConflict)
	}
	return nil
}
