-- Deleting session media. A deleted snapshot, file or recording keeps its
-- row as a tombstone (deleted_at, deleted_by; media had them already) so
-- the history shows who deleted it and when; its bytes go. Each deletion
-- is also kept in media_deletions, by the media's or recording's id: at
-- headquarters a deletion may arrive before the row it deletes, and the
-- row, when it comes, is written as the tombstone it already is.
-- blob_done is 0 until the node removed the bytes (or found that a live
-- row still shares them): the node's sweeper works through the others.

-- +goose Up
ALTER TABLE recordings ADD COLUMN deleted_at INTEGER;
ALTER TABLE recordings ADD COLUMN deleted_by TEXT NOT NULL DEFAULT '';

CREATE TABLE media_deletions (
    id         TEXT PRIMARY KEY,
    what       TEXT NOT NULL CHECK (what IN ('media', 'recording')),
    session_id TEXT NOT NULL,
    org_id     TEXT NOT NULL,
    kind       TEXT NOT NULL DEFAULT '',
    name       TEXT NOT NULL DEFAULT '',
    sha256     TEXT NOT NULL DEFAULT '',
    deleted_at INTEGER NOT NULL,
    deleted_by TEXT NOT NULL DEFAULT '',
    by_name    TEXT NOT NULL DEFAULT '',
    blob_done  INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX media_deletions_session ON media_deletions(session_id, deleted_at);
CREATE INDEX media_deletions_pending ON media_deletions(blob_done) WHERE blob_done = 0;

-- +goose Down
DROP TABLE media_deletions;
ALTER TABLE recordings DROP COLUMN deleted_by;
ALTER TABLE recordings DROP COLUMN deleted_at;
