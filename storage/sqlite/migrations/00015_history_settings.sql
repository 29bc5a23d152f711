-- Each organisation's history settings (storage/history_settings.go): the
-- outcomes a session can be given and the fields of a service report, as
-- one JSON document. An organisation without a row has the defaults.
-- Organisation data: written by Apply, carried by Snapshot/Restore.

-- +goose Up
CREATE TABLE history_settings (
    org_id   TEXT PRIMARY KEY REFERENCES orgs(id) ON DELETE CASCADE,
    settings TEXT NOT NULL CHECK (json_valid(settings))
);

-- +goose Down
DROP TABLE history_settings;
