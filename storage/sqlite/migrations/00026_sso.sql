-- Single sign-on (storage/sso.go). sso_settings is organisation data: one
-- JSON document per organisation, written by Apply and carried by
-- Snapshot/Restore. sso_replay is site data: the SAML assertion ids this
-- node accepted, kept until the assertion expires so that none is
-- accepted twice.

-- +goose Up
CREATE TABLE sso_settings (
    org_id   TEXT PRIMARY KEY REFERENCES orgs(id) ON DELETE CASCADE,
    settings TEXT NOT NULL CHECK (json_valid(settings))
);

CREATE TABLE sso_replay (
    id         TEXT PRIMARY KEY,
    expires_at INTEGER NOT NULL
);

-- +goose Down
DROP TABLE sso_replay;
DROP TABLE sso_settings;
