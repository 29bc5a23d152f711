-- Organisation data: written only by the replicated state machine (Apply)
-- and carried whole by Snapshot/Restore. Every table hangs off orgs.
--
-- Conventions for every migration of this store:
--   * times are INTEGER unix nanoseconds, UTC; NULL means "not set";
--   * ids are TEXT chosen by the proposing node;
--   * booleans are INTEGER 0/1.

-- +goose Up
CREATE TABLE orgs (
    id         TEXT PRIMARY KEY,
    name       TEXT NOT NULL,
    created_at INTEGER
);

CREATE TABLE sites (
    id         TEXT PRIMARY KEY,
    org_id     TEXT NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
    name       TEXT NOT NULL,
    created_at INTEGER
);
CREATE INDEX sites_org ON sites(org_id);

CREATE TABLE users (
    id            TEXT PRIMARY KEY,
    org_id        TEXT NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
    email         TEXT NOT NULL,
    name          TEXT NOT NULL,
    kind          TEXT NOT NULL DEFAULT 'regular'
                  CHECK (kind IN ('regular', 'guest_app', 'guest_mobile', 'guest_desktop')),
    password_hash TEXT NOT NULL DEFAULT '',
    active        INTEGER NOT NULL DEFAULT 1,
    created_at    INTEGER,
    updated_at    INTEGER,
    UNIQUE (org_id, email)
);
CREATE INDEX users_email ON users(email);

CREATE TABLE roles (
    org_id      TEXT NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
    name        TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    builtin     INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (org_id, name)
);

CREATE TABLE teams (
    id         TEXT PRIMARY KEY,
    org_id     TEXT NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
    name       TEXT NOT NULL,
    created_at INTEGER
);
CREATE INDEX teams_org ON teams(org_id);

CREATE TABLE team_memberships (
    team_id TEXT NOT NULL REFERENCES teams(id) ON DELETE CASCADE,
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    role    TEXT NOT NULL CHECK (role IN ('member', 'lead', 'manager')),
    PRIMARY KEY (team_id, user_id)
);
CREATE INDEX team_memberships_user ON team_memberships(user_id);

CREATE TABLE label_groups (
    id     TEXT PRIMARY KEY,
    org_id TEXT NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
    name   TEXT NOT NULL,
    color  TEXT NOT NULL DEFAULT ''
);
CREATE INDEX label_groups_org ON label_groups(org_id);

CREATE TABLE labels (
    id       TEXT PRIMARY KEY,
    org_id   TEXT NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
    group_id TEXT NOT NULL REFERENCES label_groups(id) ON DELETE CASCADE,
    name     TEXT NOT NULL
);
CREATE INDEX labels_org ON labels(org_id);
CREATE INDEX labels_group ON labels(group_id);

CREATE TABLE user_labels (
    user_id  TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    label_id TEXT NOT NULL REFERENCES labels(id) ON DELETE CASCADE,
    PRIMARY KEY (user_id, label_id)
);
CREATE INDEX user_labels_label ON user_labels(label_id);

CREATE TABLE contacts (
    id         TEXT PRIMARY KEY,
    org_id     TEXT NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
    user_id    TEXT REFERENCES users(id) ON DELETE SET NULL,
    name       TEXT NOT NULL,
    email      TEXT NOT NULL DEFAULT '',
    phone      TEXT NOT NULL DEFAULT '',
    company    TEXT NOT NULL DEFAULT '',
    notes      TEXT NOT NULL DEFAULT '',
    created_at INTEGER
);
CREATE INDEX contacts_org ON contacts(org_id);
CREATE INDEX contacts_user ON contacts(user_id);

-- One casbin line per row; unused trailing fields are ''.
CREATE TABLE policy_rules (
    id     INTEGER PRIMARY KEY,
    org_id TEXT NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
    ptype  TEXT NOT NULL,
    v0     TEXT NOT NULL DEFAULT '',
    v1     TEXT NOT NULL DEFAULT '',
    v2     TEXT NOT NULL DEFAULT '',
    v3     TEXT NOT NULL DEFAULT '',
    v4     TEXT NOT NULL DEFAULT '',
    v5     TEXT NOT NULL DEFAULT ''
);
CREATE UNIQUE INDEX policy_rules_line ON policy_rules(org_id, ptype, v0, v1, v2, v3, v4, v5);

CREATE TABLE api_tokens (
    id         TEXT PRIMARY KEY,
    org_id     TEXT NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
    user_id    TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    name       TEXT NOT NULL,
    hash       BLOB NOT NULL UNIQUE,
    created_at INTEGER,
    expires_at INTEGER
);
CREATE INDEX api_tokens_user ON api_tokens(user_id);

-- Node-local key/value facts, and the Raft applied index under the key
-- 'raft.applied_index'.
CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

-- +goose Down
DROP TABLE meta;
DROP TABLE api_tokens;
DROP TABLE policy_rules;
DROP TABLE contacts;
DROP TABLE user_labels;
DROP TABLE labels;
DROP TABLE label_groups;
DROP TABLE team_memberships;
DROP TABLE teams;
DROP TABLE roles;
DROP TABLE users;
DROP TABLE sites;
DROP TABLE orgs;
