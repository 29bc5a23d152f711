-- Audit events (storage/sqlite's migration 00002): who did what, when, to
-- what. Written here by AppendAudit, which adds the event's record to the
-- history outbox in the same transaction, and by the history applier.
--
-- id and action are COLLATE "C": the list is ordered by (at, id) and
-- filtered by an action prefix byte for byte, as SQLite compares text,
-- whatever the database's locale.

-- +goose Up
CREATE TABLE audit_events (
    id       TEXT COLLATE "C" PRIMARY KEY,
    org_id   TEXT NOT NULL,
    site_id  TEXT NOT NULL DEFAULT '',
    at       BIGINT NOT NULL,
    actor_id TEXT NOT NULL,
    action   TEXT COLLATE "C" NOT NULL,
    target   TEXT NOT NULL DEFAULT '',
    detail   TEXT NOT NULL DEFAULT ''
);
CREATE INDEX audit_events_org_at ON audit_events(org_id, at, id);
CREATE INDEX audit_events_at ON audit_events(at, id);

-- +goose Down
DROP TABLE audit_events;
