-- Service reports (storage/report.go): every version of a report, and the
-- version that stands, with a full-text index over its text and the values
-- of its fields kept in step by triggers, in the transaction that writes
-- the row. They replace the table of migration 00002, which nothing ever
-- wrote. Times are Unix nanoseconds.

-- +goose Up
DROP TABLE service_reports;

CREATE TABLE service_report_versions (
    id          TEXT PRIMARY KEY,
    report_id   TEXT NOT NULL,
    org_id      TEXT NOT NULL,
    site_id     TEXT NOT NULL,
    session_id  TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
    version     INTEGER NOT NULL CHECK (version > 0),
    fields      TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(fields)),
    body        TEXT NOT NULL DEFAULT '',
    deleted     INTEGER NOT NULL DEFAULT 0,
    created_by  TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    edited_by   TEXT NOT NULL,
    edited_at   INTEGER NOT NULL,
    origin      TEXT NOT NULL DEFAULT '',
    UNIQUE (report_id, origin, version)
);
CREATE INDEX service_report_versions_report ON service_report_versions(report_id, edited_at);

CREATE TABLE service_reports (
    id          TEXT PRIMARY KEY,
    version_id  TEXT NOT NULL,
    org_id      TEXT NOT NULL,
    site_id     TEXT NOT NULL,
    session_id  TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
    version     INTEGER NOT NULL,
    fields      TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(fields)),
    body        TEXT NOT NULL DEFAULT '',
    deleted     INTEGER NOT NULL DEFAULT 0,
    created_by  TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    edited_by   TEXT NOT NULL,
    edited_at   INTEGER NOT NULL,
    origin      TEXT NOT NULL DEFAULT ''
);
CREATE INDEX service_reports_org_edited ON service_reports(org_id, edited_at);
CREATE INDEX service_reports_session ON service_reports(session_id);

CREATE VIRTUAL TABLE service_reports_fts USING fts5(body, fields, content='');

-- +goose StatementBegin
CREATE TRIGGER service_reports_fts_insert AFTER INSERT ON service_reports BEGIN
    INSERT INTO service_reports_fts (rowid, body, fields)
    SELECT new.rowid, new.body, (SELECT group_concat(value, ' ') FROM json_each(new.fields))
    WHERE NOT new.deleted;
END;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE TRIGGER service_reports_fts_update AFTER UPDATE ON service_reports BEGIN
    INSERT INTO service_reports_fts (service_reports_fts, rowid, body, fields)
    SELECT 'delete', old.rowid, old.body, (SELECT group_concat(value, ' ') FROM json_each(old.fields))
    WHERE NOT old.deleted;
    INSERT INTO service_reports_fts (rowid, body, fields)
    SELECT new.rowid, new.body, (SELECT group_concat(value, ' ') FROM json_each(new.fields))
    WHERE NOT new.deleted;
END;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE TRIGGER service_reports_fts_delete AFTER DELETE ON service_reports BEGIN
    INSERT INTO service_reports_fts (service_reports_fts, rowid, body, fields)
    SELECT 'delete', old.rowid, old.body, (SELECT group_concat(value, ' ') FROM json_each(old.fields))
    WHERE NOT old.deleted;
END;
-- +goose StatementEnd

-- +goose Down
DROP TABLE service_reports_fts;
DROP TABLE service_reports;
DROP TABLE service_report_versions;
CREATE TABLE service_reports (
    id         TEXT PRIMARY KEY,
    org_id     TEXT NOT NULL,
    site_id    TEXT NOT NULL,
    session_id TEXT REFERENCES sessions(id) ON DELETE SET NULL,
    title      TEXT NOT NULL DEFAULT '',
    body       TEXT NOT NULL DEFAULT '',
    author_id  TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER
);
CREATE INDEX service_reports_org ON service_reports(org_id, created_at);
CREATE INDEX service_reports_session ON service_reports(session_id);
