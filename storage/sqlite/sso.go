package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
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

// PutSSOLink records how the browser session webSessionID was logged in
// through single sign-on; it goes with the session.
func (s *Store) PutSSOLink(ctx context.Context, webSessionID string, l storage.SSOLink) error {
	return exec(ctx, s.write, `INSERT INTO sso_sessions (web_session_id, org_id, protocol, name_id, session_index, id_token)
		VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (web_session_id) DO UPDATE SET org_id = excluded.org_id,
		protocol = excluded.protocol, name_id = excluded.name_id, session_index = excluded.session_index, id_token = excluded.id_token`,
		webSessionID, l.OrgID, l.Protocol, l.NameID, l.SessionIndex, l.IDToken)
}

// SSOLink returns how a browser session was logged in through single
// sign-on, or storage.ErrNotFound for a password login.
func (s *Store) SSOLink(ctx context.Context, webSessionID string) (storage.SSOLink, error) {
	var l storage.SSOLink
	err := s.read.QueryRowContext(ctx, `SELECT org_id, protocol, name_id, session_index, id_token FROM sso_sessions
		WHERE web_session_id = ?`, webSessionID).Scan(&l.OrgID, &l.Protocol, &l.NameID, &l.SessionIndex, &l.IDToken)
	if errors.Is(err, sql.ErrNoRows) {
		return l, fmt.Errorf("sso link: %w", storage.ErrNotFound)
	}
	return l, err
}

// EndSSOSessions ends this node's browser sessions of a SAML NameID in an
// organisation (the provider's single logout); it returns how many.
func (s *Store) EndSSOSessions(ctx context.Context, orgID, nameID string) (int, error) {
	res, err := s.write.ExecContext(ctx, `DELETE FROM web_sessions WHERE id IN
		(SELECT web_session_id FROM sso_sessions WHERE org_id = ? AND name_id = ?)`, orgID, nameID)
	if err != nil {
		return 0, fmt.Errorf("end sso sessions: %w", err)
	}
	n, err := res.RowsAffected()
	return int(n), err
}
