-- Versions of each organisation's permission policy: the whole rule set
-- after a change (gzip-compressed JSON), who made it, when and why.
-- Organisation data: written by Apply, carried by Snapshot/Restore.

-- +goose Up
CREATE TABLE policy_versions (
    id       TEXT PRIMARY KEY,
    org_id   TEXT NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
    at       INTEGER,
    actor_id TEXT NOT NULL DEFAULT '',
    note     TEXT NOT NULL DEFAULT '',
    lines    INTEGER NOT NULL DEFAULT 0,
    rules    BLOB NOT NULL
);
CREATE INDEX policy_versions_org ON policy_versions(org_id, at);

-- +goose Down
DROP TABLE policy_versions;
