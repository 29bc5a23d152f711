-- Session media in a content-addressed blob store (blob_key = hex SHA-256
-- of the bytes). Two shares of the same bytes (the same manual in two
-- calls) are two rows over one blob, so blob_key is no longer unique: the
-- tables of 00002 are rebuilt without that constraint, with an index for
-- the sweeper that looks for blobs no row refers to.
--
-- media gains who shared it as a participant of the call and, for a
-- snapshot, whose video it shows; recordings gain a file name, the length
-- of the media, the tracks in the file and whose tracks they are.

-- +goose Up
CREATE TABLE media_next (
    id             TEXT PRIMARY KEY,
    session_id     TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
    org_id         TEXT NOT NULL,
    kind           TEXT NOT NULL CHECK (kind IN ('snapshot', 'file')),
    name           TEXT NOT NULL DEFAULT '',
    blob_key       TEXT NOT NULL,
    content_type   TEXT NOT NULL DEFAULT 'application/octet-stream',
    size           INTEGER NOT NULL DEFAULT 0,
    sha256         TEXT NOT NULL DEFAULT '',
    annotations    TEXT NOT NULL DEFAULT '',
    created_by     TEXT NOT NULL DEFAULT '',
    created_at     INTEGER NOT NULL,
    deleted_at     INTEGER,
    deleted_by     TEXT NOT NULL DEFAULT '',
    participant_id TEXT NOT NULL DEFAULT '',
    of_participant TEXT NOT NULL DEFAULT ''
);
INSERT INTO media_next (id, session_id, org_id, kind, name, blob_key, content_type, size, sha256,
    annotations, created_by, created_at, deleted_at, deleted_by)
    SELECT id, session_id, org_id, kind, name, blob_key, content_type, size, sha256,
    annotations, created_by, created_at, deleted_at, deleted_by FROM media;
DROP TABLE media;
ALTER TABLE media_next RENAME TO media;
CREATE INDEX media_session ON media(session_id, created_at);
CREATE INDEX media_blob ON media(blob_key);

CREATE TABLE recordings_next (
    id           TEXT PRIMARY KEY,
    session_id   TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
    org_id       TEXT NOT NULL,
    blob_key     TEXT NOT NULL,
    content_type TEXT NOT NULL DEFAULT '',
    size         INTEGER NOT NULL DEFAULT 0,
    sha256       TEXT NOT NULL DEFAULT '',
    status       TEXT NOT NULL DEFAULT 'recording'
                 CHECK (status IN ('recording', 'complete', 'failed', 'deleted')),
    started_by   TEXT NOT NULL DEFAULT '',
    started_at   INTEGER NOT NULL,
    ended_at     INTEGER,
    name         TEXT NOT NULL DEFAULT '',
    duration_ms  INTEGER NOT NULL DEFAULT 0,
    tracks       TEXT NOT NULL DEFAULT '[]' CHECK (json_valid(tracks)),
    participant_id TEXT NOT NULL DEFAULT ''
);
INSERT INTO recordings_next (id, session_id, org_id, blob_key, content_type, size, sha256, status,
    started_by, started_at, ended_at)
    SELECT id, session_id, org_id, blob_key, content_type, size, sha256, status,
    started_by, started_at, ended_at FROM recordings;
DROP TABLE recordings;
ALTER TABLE recordings_next RENAME TO recordings;
CREATE INDEX recordings_session ON recordings(session_id, started_at);
CREATE INDEX recordings_blob ON recordings(blob_key);

-- +goose Down
-- Going down fails on rows that share a blob, rather than dropping them.
CREATE TABLE recordings_prev (
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
INSERT INTO recordings_prev SELECT id, session_id, org_id, blob_key, content_type, size, sha256, status,
    started_by, started_at, ended_at FROM recordings;
DROP TABLE recordings;
ALTER TABLE recordings_prev RENAME TO recordings;
CREATE INDEX recordings_session ON recordings(session_id, started_at);

CREATE TABLE media_prev (
    id           TEXT PRIMARY KEY,
    session_id   TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
    org_id       TEXT NOT NULL,
    kind         TEXT NOT NULL CHECK (kind IN ('snapshot', 'file')),
    name         TEXT NOT NULL DEFAULT '',
    blob_key     TEXT NOT NULL UNIQUE,
    content_type TEXT NOT NULL DEFAULT 'application/octet-stream',
    size         INTEGER NOT NULL DEFAULT 0,
    sha256       TEXT NOT NULL DEFAULT '',
    annotations  TEXT NOT NULL DEFAULT '',
    created_by   TEXT NOT NULL DEFAULT '',
    created_at   INTEGER NOT NULL,
    deleted_at   INTEGER,
    deleted_by   TEXT NOT NULL DEFAULT ''
);
INSERT INTO media_prev SELECT id, session_id, org_id, kind, name, blob_key, content_type, size, sha256,
    annotations, created_by, created_at, deleted_at, deleted_by FROM media;
DROP TABLE media;
ALTER TABLE media_prev RENAME TO media;
CREATE INDEX media_session ON media(session_id, created_at);
