-- The labels people give a session after the call (storage/sqlite's
-- migrations 00002 and 00013); their versions are the sessions table's
-- labels_at and labels_origin. label_id refers to a label of the
-- organisation data, which is not in this database: no foreign key, and a
-- session keeps a label that was deleted since, as in SQLite.
--
-- label_id is COLLATE "C": a session's labels list in byte order, as
-- SQLite and Go's sort.Strings order them.

-- +goose Up
CREATE TABLE session_labels (
    session_id TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
    label_id   TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (session_id, label_id)
);
CREATE INDEX session_labels_label ON session_labels(label_id, session_id);

-- +goose Down
DROP TABLE session_labels;
