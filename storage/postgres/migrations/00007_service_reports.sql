-- Service reports at headquarters (storage/sqlite's migration 00012,
-- without its full-text index, which comes with search): every version
-- forwarded, and the version that stands, the latest by (edited_at,
-- origin, version). origin is COLLATE "C" so that order is byte order,
-- as SQLite's; fields is json, kept as written.

-- +goose Up
CREATE TABLE service_report_versions (
    id          TEXT PRIMARY KEY,
    report_id   TEXT NOT NULL,
    org_id      TEXT NOT NULL,
    site_id     TEXT NOT NULL,
    session_id  TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
    version     INTEGER NOT NULL CHECK (version > 0),
    fields      JSON NOT NULL DEFAULT '{}',
    body        TEXT NOT NULL DEFAULT '',
    deleted     BOOLEAN NOT NULL DEFAULT false,
    created_by  TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    edited_by   TEXT NOT NULL,
    edited_at   BIGINT NOT NULL,
    origin      TEXT COLLATE "C" NOT NULL DEFAULT '',
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
    fields      JSON NOT NULL DEFAULT '{}',
    body        TEXT NOT NULL DEFAULT '',
    deleted     BOOLEAN NOT NULL DEFAULT false,
    created_by  TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    edited_by   TEXT NOT NULL,
    edited_at   BIGINT NOT NULL,
    origin      TEXT COLLATE "C" NOT NULL DEFAULT ''
);
CREATE INDEX service_reports_org_edited ON service_reports(org_id, edited_at);
CREATE INDEX service_reports_session ON service_reports(session_id);

-- +goose Down
DROP TABLE service_reports;
DROP TABLE service_report_versions;
