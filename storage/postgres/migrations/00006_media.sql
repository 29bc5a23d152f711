-- Session media at headquarters (storage/sqlite's migrations 00002, 00007,
-- 00008 and 00014, in their final shape): the rows of snapshots, files and
-- recordings forwarded from the node that holds their bytes (origin), and
-- the deletions of such rows, kept by the deleted row's id so that a
-- deletion arriving before its row makes the row a tombstone when it
-- comes. The bytes stay in the blob store (storage/blob), keyed by
-- blob_key, the hex SHA-256.
--
-- annotations is json (NULL for none), tracks json, both kept as written.

-- +goose Up
CREATE TABLE media (
    id             TEXT COLLATE "C" PRIMARY KEY,
    session_id     TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
    org_id         TEXT NOT NULL,
    kind           TEXT NOT NULL CHECK (kind IN ('snapshot', 'file')),
    name           TEXT NOT NULL DEFAULT '',
    blob_key       TEXT NOT NULL,
    content_type   TEXT NOT NULL DEFAULT 'application/octet-stream',
    size           BIGINT NOT NULL DEFAULT 0,
    sha256         TEXT NOT NULL DEFAULT '',
    annotations    JSON,
    created_by     TEXT NOT NULL DEFAULT '',
    created_at     BIGINT NOT NULL,
    deleted_at     BIGINT,
    deleted_by     TEXT NOT NULL DEFAULT '',
    participant_id TEXT NOT NULL DEFAULT '',
    of_participant TEXT NOT NULL DEFAULT '',
    origin         TEXT NOT NULL DEFAULT ''
);
CREATE INDEX media_session ON media(session_id, created_at, id);
CREATE INDEX media_blob ON media(blob_key);

CREATE TABLE recordings (
    id             TEXT COLLATE "C" PRIMARY KEY,
    session_id     TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
    org_id         TEXT NOT NULL,
    blob_key       TEXT NOT NULL,
    content_type   TEXT NOT NULL DEFAULT '',
    size           BIGINT NOT NULL DEFAULT 0,
    sha256         TEXT NOT NULL DEFAULT '',
    status         TEXT NOT NULL DEFAULT 'recording'
                   CHECK (status IN ('recording', 'complete', 'failed', 'deleted')),
    started_by     TEXT NOT NULL DEFAULT '',
    started_at     BIGINT NOT NULL,
    ended_at       BIGINT,
    name           TEXT NOT NULL DEFAULT '',
    duration_ms    BIGINT NOT NULL DEFAULT 0,
    tracks         JSON NOT NULL DEFAULT '[]',
    participant_id TEXT NOT NULL DEFAULT '',
    origin         TEXT NOT NULL DEFAULT '',
    deleted_at     BIGINT,
    deleted_by     TEXT NOT NULL DEFAULT ''
);
CREATE INDEX recordings_session ON recordings(session_id, started_at, id);
CREATE INDEX recordings_blob ON recordings(blob_key);

-- blob_done is false until the node removed the bytes (or found that a
-- live row still shares them).
CREATE TABLE media_deletions (
    id         TEXT COLLATE "C" PRIMARY KEY,
    what       TEXT NOT NULL CHECK (what IN ('media', 'recording')),
    session_id TEXT NOT NULL,
    org_id     TEXT NOT NULL,
    kind       TEXT NOT NULL DEFAULT '',
    name       TEXT NOT NULL DEFAULT '',
    sha256     TEXT NOT NULL DEFAULT '',
    deleted_at BIGINT NOT NULL,
    deleted_by TEXT NOT NULL DEFAULT '',
    by_name    TEXT NOT NULL DEFAULT '',
    blob_done  BOOLEAN NOT NULL DEFAULT false
);
CREATE INDEX media_deletions_session ON media_deletions(session_id, deleted_at, id);
CREATE INDEX media_deletions_pending ON media_deletions(deleted_at, id) WHERE NOT blob_done;

-- +goose Down
DROP TABLE media_deletions;
DROP TABLE recordings;
DROP TABLE media;
