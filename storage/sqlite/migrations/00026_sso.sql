-- Single sign-on (storage/sso.go). sso_settings is organisation data: one
-- JSON document per organisation, written by Apply and carried by
-- Snapshot/Restore. sso_replay is site data: the SAML assertion ids this
-- node accepted, kept until the assertion expires so that none is
-- accepted twice. sso_sessions is site data too.

-- +goose Up
CREATE TABLE sso_settings (
    org_id   TEXT PRIMARY KEY REFERENCES orgs(id) ON DELETE CASCADE,
    settings TEXT NOT NULL CHECK (json_valid(settings))
);

CREATE TABLE sso_replay (
    id         TEXT PRIMARY KEY,
    expires_at INTEGER NOT NULL
);

-- What a browser session started by single sign-on needs to log out at
-- the provider too (site data, as web_sessions): the SAML NameID and
-- SessionIndex, or the OIDC ID token.
CREATE TABLE sso_sessions (
    web_session_id TEXT PRIMARY KEY REFERENCES web_sessions(id) ON DELETE CASCADE,
    org_id         TEXT NOT NULL,
    protocol       TEXT NOT NULL,
    name_id        TEXT NOT NULL DEFAULT '',
    session_index  TEXT NOT NULL DEFAULT '',
    id_token       TEXT NOT NULL DEFAULT ''
);
CREATE INDEX sso_sessions_name_id ON sso_sessions(org_id, name_id);

-- +goose Down
DROP TABLE sso_sessions;
DROP TABLE sso_replay;
DROP TABLE sso_settings;
