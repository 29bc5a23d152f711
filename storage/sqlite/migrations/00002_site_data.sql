-- Site data: born at this node and written here directly. It refers to
-- organisation records (orgs, sites, users, labels) by id WITHOUT foreign
-- keys, on purpose: history must outlive a deleted user or label, and a
-- Raft Restore that replaces every organisation table must not cascade into
-- it. Foreign keys are used only between site tables.

-- +goose Up
CREATE TABLE web_sessions (
    id         TEXT PRIMARY KEY,   -- SHA-256 hex of the cookie value
    user_id    TEXT NOT NULL,
    org_id     TEXT NOT NULL,
    csrf_token TEXT NOT NULL,
    created_at INTEGER,
    seen_at    INTEGER,
    expires_at INTEGER NOT NULL,
    user_agent TEXT NOT NULL DEFAULT '',
    address    TEXT NOT NULL DEFAULT ''
);
CREATE INDEX web_sessions_user ON web_sessions(user_id);
CREATE INDEX web_sessions_expires ON web_sessions(expires_at);

CREATE TABLE audit_events (
    id       TEXT PRIMARY KEY,
    org_id   TEXT NOT NULL,
    site_id  TEXT NOT NULL DEFAULT '',
    at       INTEGER NOT NULL,
    actor_id TEXT NOT NULL,
    action   TEXT NOT NULL,
    target   TEXT NOT NULL DEFAULT '',
    detail   TEXT NOT NULL DEFAULT ''
);
CREATE INDEX audit_events_org_at ON audit_events(org_id, at);
CREATE INDEX audit_events_at ON audit_events(at);

-- A call. kind: conference | service_request.
CREATE TABLE sessions (
    id            TEXT PRIMARY KEY,
    org_id        TEXT NOT NULL,
    site_id       TEXT NOT NULL,
    kind          TEXT NOT NULL DEFAULT 'conference'
                  CHECK (kind IN ('conference', 'service_request')),
    name          TEXT NOT NULL DEFAULT '',
    goal          TEXT NOT NULL DEFAULT '',
    status        TEXT NOT NULL DEFAULT 'active'
                  CHECK (status IN ('ringing', 'active', 'ended')),
    created_by    TEXT NOT NULL DEFAULT '',
    owner_id      TEXT NOT NULL DEFAULT '',   -- current expert (after take-over/transfer)
    team_id       TEXT NOT NULL DEFAULT '',
    outcome       TEXT NOT NULL DEFAULT '',   -- solved | unsolved | ... ; '' while open
    notes         TEXT NOT NULL DEFAULT '',
    started_at    INTEGER NOT NULL,
    ended_at      INTEGER,
    solved_at     INTEGER,                    -- time to solve = solved_at - started_at
    updated_at    INTEGER
);
CREATE INDEX sessions_org_started ON sessions(org_id, started_at);
CREATE INDEX sessions_site_started ON sessions(site_id, started_at);
CREATE INDEX sessions_created_by ON sessions(created_by);
CREATE INDEX sessions_owner ON sessions(owner_id);
CREATE INDEX sessions_status ON sessions(status);

CREATE TABLE session_participants (
    id           TEXT PRIMARY KEY,
    session_id   TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
    user_id      TEXT NOT NULL,
    display_name TEXT NOT NULL DEFAULT '',
    user_kind    TEXT NOT NULL DEFAULT 'regular',
    device_kind  TEXT NOT NULL DEFAULT '',    -- desktop | mobile_web | app | glasses
    hidden       INTEGER NOT NULL DEFAULT 0,  -- sitting in, not visible to others
    joined_at    INTEGER NOT NULL,
    left_at      INTEGER
);
CREATE INDEX session_participants_session ON session_participants(session_id, joined_at);
CREATE INDEX session_participants_user ON session_participants(user_id, joined_at);

CREATE TABLE session_labels (
    session_id TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
    label_id   TEXT NOT NULL,
    PRIMARY KEY (session_id, label_id)
);
CREATE INDEX session_labels_label ON session_labels(label_id);

-- Everything that happens in a call, in order. id is the event id used for
-- idempotent forwarding to headquarters.
CREATE TABLE session_events (
    id         TEXT PRIMARY KEY,
    session_id TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
    seq        INTEGER NOT NULL,
    at         INTEGER NOT NULL,
    kind       TEXT NOT NULL,                -- joined | left | chat | snapshot | file | ...
    actor_id   TEXT NOT NULL DEFAULT '',
    payload    TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(payload)),
    UNIQUE (session_id, seq)
);
CREATE INDEX session_events_kind ON session_events(session_id, kind);

-- Snapshots and shared files; the bytes live in the blob store.
CREATE TABLE media (
    id           TEXT PRIMARY KEY,
    session_id   TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
    org_id       TEXT NOT NULL,
    kind         TEXT NOT NULL CHECK (kind IN ('snapshot', 'file')),
    name         TEXT NOT NULL DEFAULT '',
    blob_key     TEXT NOT NULL UNIQUE,
    content_type TEXT NOT NULL DEFAULT 'application/octet-stream',
    size         INTEGER NOT NULL DEFAULT 0,
    sha256       TEXT NOT NULL DEFAULT '',
    annotations  TEXT NOT NULL DEFAULT '',    -- JSON drawing on a snapshot
    created_by   TEXT NOT NULL DEFAULT '',
    created_at   INTEGER NOT NULL,
    deleted_at   INTEGER,
    deleted_by   TEXT NOT NULL DEFAULT ''
);
CREATE INDEX media_session ON media(session_id, created_at);

CREATE TABLE recordings (
    id           TEXT PRIMARY KEY,
    session_id   TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
    org_id       TEXT NOT NULL,
    blob_key     TEXT NOT NULL UNIQUE,
    content_type TEXT NOT NULL DEFAULT '',
    size         INTEGER NOT NULL DEFAULT 0,
    sha256       TEXT NOT NULL DEFAULT '',
    status       TEXT NOT NULL DEFAULT 'recording'
                 CHECK (status IN ('recording', 'complete', 'failed', 'deleted')),
    started_by   TEXT NOT NULL DEFAULT '',
    started_at   INTEGER NOT NULL,
    ended_at     INTEGER
);
CREATE INDEX recordings_session ON recordings(session_id, started_at);

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

-- Invitation links. Only the SHA-256 of the token is kept.
CREATE TABLE invitations (
    id                TEXT PRIMARY KEY,
    org_id            TEXT NOT NULL,
    site_id           TEXT NOT NULL,
    kind              TEXT NOT NULL CHECK (kind IN ('conference', 'service_request')),
    token_hash        BLOB NOT NULL UNIQUE,
    session_id        TEXT REFERENCES sessions(id) ON DELETE CASCADE,
    created_by        TEXT NOT NULL,
    invitee_name      TEXT NOT NULL DEFAULT '',
    invitee_email     TEXT NOT NULL DEFAULT '',
    invitee_phone     TEXT NOT NULL DEFAULT '',
    guest_kind        TEXT NOT NULL DEFAULT '',
    created_at        INTEGER NOT NULL,
    expires_at        INTEGER,
    used_at           INTEGER,
    revoked_at        INTEGER,
    terms_accepted_at INTEGER,
    terms_version     TEXT NOT NULL DEFAULT ''
);
CREATE INDEX invitations_session ON invitations(session_id);
CREATE INDEX invitations_creator ON invitations(created_by, created_at);

-- A guest's confirmation of the terms of use, kept as evidence.
CREATE TABLE terms_acceptances (
    id            TEXT PRIMARY KEY,
    invitation_id TEXT REFERENCES invitations(id) ON DELETE SET NULL,
    session_id    TEXT NOT NULL DEFAULT '',
    user_id       TEXT NOT NULL DEFAULT '',
    terms_version TEXT NOT NULL,
    accepted_at   INTEGER NOT NULL,
    address       TEXT NOT NULL DEFAULT '',
    user_agent    TEXT NOT NULL DEFAULT ''
);
CREATE INDEX terms_acceptances_invitation ON terms_acceptances(invitation_id);
CREATE INDEX terms_acceptances_session ON terms_acceptances(session_id);

-- +goose Down
DROP TABLE terms_acceptances;
DROP TABLE invitations;
DROP TABLE service_reports;
DROP TABLE recordings;
DROP TABLE media;
DROP TABLE session_events;
DROP TABLE session_labels;
DROP TABLE session_participants;
DROP TABLE sessions;
DROP TABLE audit_events;
DROP TABLE web_sessions;
