-- Session history that headquarters can search (SPEC.md, section 3).
--
-- The fields a person sets after a call (name and goal, outcome and
-- solved_at, notes, labels) each carry the version of their last change,
-- (at, origin): a change applies only when its version is later, so
-- forwarded changes arriving twice or out of order end the same everywhere.
--
-- Full-text search: three FTS5 tables kept in step with their rows by the
-- triggers below, so every write (local, forwarded, seeded) updates them in
-- its own transaction:
--   session_fts       name, goal, notes; rowid = sessions.rowid
--   session_people_fts participants' display names; rowid = participant rowid
--   session_chat_fts  chat text; rowid = session_events rowid
-- The last two carry sid, the session's rowid, to join back. These tables
-- have no INTEGER PRIMARY KEY, so a VACUUM may renumber their rowids: after
-- one, the three FTS tables must be rebuilt (the INSERT ... SELECT below).
--
-- Sort keys never are NULL: an end, a duration or a time to solve that does
-- not exist yet sorts as the largest integer (after every real one), which
-- keyset pagination needs. The same expressions appear in session_search.go
-- and must stay identical for SQLite to use these indexes.

-- +goose Up
ALTER TABLE sessions ADD COLUMN details_at INTEGER;
ALTER TABLE sessions ADD COLUMN details_origin TEXT NOT NULL DEFAULT '';
ALTER TABLE sessions ADD COLUMN outcome_at INTEGER;
ALTER TABLE sessions ADD COLUMN outcome_origin TEXT NOT NULL DEFAULT '';
ALTER TABLE sessions ADD COLUMN notes_at INTEGER;
ALTER TABLE sessions ADD COLUMN notes_origin TEXT NOT NULL DEFAULT '';
ALTER TABLE sessions ADD COLUMN labels_at INTEGER;
ALTER TABLE sessions ADD COLUMN labels_origin TEXT NOT NULL DEFAULT '';

DROP INDEX sessions_org_started;
CREATE INDEX sessions_org_started ON sessions(org_id, started_at, id);
CREATE INDEX sessions_org_ended ON sessions(org_id, COALESCE(ended_at, 9223372036854775807), id);
CREATE INDEX sessions_org_duration ON sessions(org_id, COALESCE(ended_at - started_at, 9223372036854775807), id);
CREATE INDEX sessions_org_solve ON sessions(org_id,
    COALESCE(COALESCE(solved_at, ended_at) - started_at, 9223372036854775807), id);
CREATE INDEX sessions_org_name ON sessions(org_id, lower(name), id);
CREATE INDEX sessions_org_site ON sessions(org_id, site_id, id);
CREATE INDEX sessions_org_owner ON sessions(org_id, owner_id, id);
CREATE INDEX sessions_org_outcome ON sessions(org_id, outcome, id);
CREATE INDEX sessions_org_status_started ON sessions(org_id, status, started_at, id);
CREATE INDEX sessions_org_site_status_started ON sessions(org_id, site_id, status, started_at, id);

DROP INDEX session_labels_label;
CREATE INDEX session_labels_label ON session_labels(label_id, session_id);
CREATE INDEX session_participants_user_session ON session_participants(user_id, session_id);

CREATE VIRTUAL TABLE session_fts USING fts5(name, goal, notes, tokenize = 'unicode61 remove_diacritics 2', prefix = '2 3');
CREATE VIRTUAL TABLE session_people_fts USING fts5(sid UNINDEXED, name, tokenize = 'unicode61 remove_diacritics 2', prefix = '2 3');
CREATE VIRTUAL TABLE session_chat_fts USING fts5(sid UNINDEXED, text, tokenize = 'unicode61 remove_diacritics 2', prefix = '2 3');

INSERT INTO session_fts (rowid, name, goal, notes) SELECT rowid, name, goal, notes FROM sessions;
INSERT INTO session_people_fts (rowid, sid, name)
    SELECT p.rowid, s.rowid, p.display_name FROM session_participants p JOIN sessions s ON s.id = p.session_id;
INSERT INTO session_chat_fts (rowid, sid, text)
    SELECT e.rowid, s.rowid, COALESCE(json_extract(e.payload, '$.text'), '')
    FROM session_events e JOIN sessions s ON s.id = e.session_id WHERE e.kind = 'chat';

-- +goose StatementBegin
CREATE TRIGGER sessions_fts_insert AFTER INSERT ON sessions BEGIN
    INSERT INTO session_fts (rowid, name, goal, notes) VALUES (new.rowid, new.name, new.goal, new.notes);
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER sessions_fts_update AFTER UPDATE OF name, goal, notes ON sessions BEGIN
    DELETE FROM session_fts WHERE rowid = old.rowid;
    INSERT INTO session_fts (rowid, name, goal, notes) VALUES (new.rowid, new.name, new.goal, new.notes);
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER sessions_fts_delete AFTER DELETE ON sessions BEGIN
    DELETE FROM session_fts WHERE rowid = old.rowid;
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER session_participants_fts_insert AFTER INSERT ON session_participants BEGIN
    INSERT INTO session_people_fts (rowid, sid, name)
        SELECT new.rowid, rowid, new.display_name FROM sessions WHERE id = new.session_id;
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER session_participants_fts_update AFTER UPDATE OF display_name ON session_participants BEGIN
    DELETE FROM session_people_fts WHERE rowid = old.rowid;
    INSERT INTO session_people_fts (rowid, sid, name)
        SELECT new.rowid, rowid, new.display_name FROM sessions WHERE id = new.session_id;
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER session_participants_fts_delete AFTER DELETE ON session_participants BEGIN
    DELETE FROM session_people_fts WHERE rowid = old.rowid;
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER session_events_fts_insert AFTER INSERT ON session_events WHEN new.kind = 'chat' BEGIN
    INSERT INTO session_chat_fts (rowid, sid, text)
        SELECT new.rowid, rowid, COALESCE(json_extract(new.payload, '$.text'), '') FROM sessions WHERE id = new.session_id;
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER session_events_fts_delete AFTER DELETE ON session_events WHEN old.kind = 'chat' BEGIN
    DELETE FROM session_chat_fts WHERE rowid = old.rowid;
END;
-- +goose StatementEnd

-- +goose Down
DROP TRIGGER session_events_fts_delete;
DROP TRIGGER session_events_fts_insert;
DROP TRIGGER session_participants_fts_delete;
DROP TRIGGER session_participants_fts_update;
DROP TRIGGER session_participants_fts_insert;
DROP TRIGGER sessions_fts_delete;
DROP TRIGGER sessions_fts_update;
DROP TRIGGER sessions_fts_insert;
DROP TABLE session_chat_fts;
DROP TABLE session_people_fts;
DROP TABLE session_fts;
DROP INDEX session_participants_user_session;
DROP INDEX session_labels_label;
CREATE INDEX session_labels_label ON session_labels(label_id);
DROP INDEX sessions_org_site_status_started;
DROP INDEX sessions_org_status_started;
DROP INDEX sessions_org_outcome;
DROP INDEX sessions_org_owner;
DROP INDEX sessions_org_site;
DROP INDEX sessions_org_name;
DROP INDEX sessions_org_solve;
DROP INDEX sessions_org_duration;
DROP INDEX sessions_org_ended;
DROP INDEX sessions_org_started;
CREATE INDEX sessions_org_started ON sessions(org_id, started_at);
ALTER TABLE sessions DROP COLUMN labels_origin;
ALTER TABLE sessions DROP COLUMN labels_at;
ALTER TABLE sessions DROP COLUMN notes_origin;
ALTER TABLE sessions DROP COLUMN notes_at;
ALTER TABLE sessions DROP COLUMN outcome_origin;
ALTER TABLE sessions DROP COLUMN outcome_at;
ALTER TABLE sessions DROP COLUMN details_origin;
ALTER TABLE sessions DROP COLUMN details_at;
