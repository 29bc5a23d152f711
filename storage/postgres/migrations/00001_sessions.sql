-- Site history on PostgreSQL: sessions, their participants and events, and
-- the outbox their writes fill (storage/sqlite's migrations 00002, 00005,
-- 00013 and 00029, for the tables the session store needs).
--
-- Times are BIGINT unix nanoseconds in UTC, as in the SQLite store, not
-- timestamptz: timestamptz keeps microseconds, so a time forwarded from a
-- plant would come back changed and two events within one microsecond
-- would lose their order. NULL is a time not set yet.
--
-- Organisation records (orgs, sites, users, teams, labels) are referred to
-- by id WITHOUT foreign keys: they are not in this database, and history
-- must outlive a deleted user or label. Foreign keys are used only between
-- site tables.
--
-- JSON columns are json, not jsonb: json keeps the text as it was written
-- (key order, spacing), so a payload reads back byte for byte.

-- +goose Up
CREATE TABLE sessions (
    id             TEXT PRIMARY KEY,
    org_id         TEXT NOT NULL,
    site_id        TEXT NOT NULL,
    kind           TEXT NOT NULL DEFAULT 'conference'
                   CHECK (kind IN ('conference', 'service_request')),
    name           TEXT NOT NULL DEFAULT '',
    goal           TEXT NOT NULL DEFAULT '',
    status         TEXT NOT NULL DEFAULT 'active'
                   CHECK (status IN ('ringing', 'active', 'ended')),
    created_by     TEXT NOT NULL DEFAULT '',
    owner_id       TEXT NOT NULL DEFAULT '',   -- current expert (after take-over/transfer)
    team_id        TEXT NOT NULL DEFAULT '',
    outcome        TEXT NOT NULL DEFAULT '',   -- solved | unsolved | ... ; '' while open
    notes          TEXT NOT NULL DEFAULT '',
    started_at     BIGINT NOT NULL,
    ended_at       BIGINT,
    solved_at      BIGINT,                     -- time to solve = solved_at - started_at
    updated_at     BIGINT,
    -- The version (at, origin) of the last change of each group of fields
    -- a person sets after the call (storage.SessionFields).
    details_at     BIGINT,
    details_origin TEXT NOT NULL DEFAULT '',
    outcome_at     BIGINT,
    outcome_origin TEXT NOT NULL DEFAULT '',
    notes_at       BIGINT,
    notes_origin   TEXT NOT NULL DEFAULT '',
    labels_at      BIGINT,
    labels_origin  TEXT NOT NULL DEFAULT ''
);
CREATE INDEX sessions_org_started ON sessions(org_id, started_at, id);
CREATE INDEX sessions_org_site_started ON sessions(org_id, site_id, started_at, id);
CREATE INDEX sessions_site_started ON sessions(site_id, started_at);
CREATE INDEX sessions_org_status_started ON sessions(org_id, status, started_at, id);
CREATE INDEX sessions_created_by ON sessions(created_by);
CREATE INDEX sessions_owner ON sessions(owner_id);

CREATE TABLE session_participants (
    id           TEXT PRIMARY KEY,
    session_id   TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
    user_id      TEXT NOT NULL,
    display_name TEXT NOT NULL DEFAULT '',
    user_kind    TEXT NOT NULL DEFAULT 'regular',
    device_kind  TEXT NOT NULL DEFAULT '',    -- desktop | mobile_web | app | glasses
    hidden       BOOLEAN NOT NULL DEFAULT false, -- sitting in, not visible to others
    joined_at    BIGINT NOT NULL,
    left_at      BIGINT
);
CREATE INDEX session_participants_session ON session_participants(session_id, joined_at);
CREATE INDEX session_participants_user ON session_participants(user_id, joined_at);
CREATE INDEX session_participants_user_session ON session_participants(user_id, session_id);

-- Everything that happens in a call, in order. id is the event id used for
-- idempotent forwarding to headquarters.
CREATE TABLE session_events (
    id         TEXT PRIMARY KEY,
    session_id TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
    seq        BIGINT NOT NULL,
    at         BIGINT NOT NULL,
    kind       TEXT NOT NULL,                -- joined | left | chat | snapshot | file | ...
    actor_id   TEXT NOT NULL DEFAULT '',
    payload    JSON NOT NULL DEFAULT '{}',
    UNIQUE (session_id, seq)
);
CREATE INDEX session_events_kind ON session_events(session_id, kind);

-- Every site-history write adds its record here in the same transaction;
-- the node's publisher copies it to JetStream and stamps published_at.
-- seq is monotonic in commit order: the writes that add records take one
-- transaction-level advisory lock first (see historyTx), so a sequence
-- number is never committed after a higher one.
CREATE TABLE history_outbox (
    seq          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id           TEXT NOT NULL UNIQUE,
    kind         TEXT NOT NULL,
    record       JSON NOT NULL,
    created_at   BIGINT NOT NULL,
    published_at BIGINT
);
CREATE INDEX history_outbox_unpublished ON history_outbox(seq) WHERE published_at IS NULL;

-- +goose Down
DROP TABLE history_outbox;
DROP TABLE session_events;
DROP TABLE session_participants;
DROP TABLE sessions;
