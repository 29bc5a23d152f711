-- One full-text row per session for the session search: its name, goal
-- and notes, its participants' names, its chat and the text of its
-- service reports, in one contentless FTS5 table whose rowid is the
-- session's rowid. It replaces the four tables of migrations 00013 and
-- 00018 (and their vocabularies of 00019): a session is then checked with
-- one lookup instead of four, each over many rows, and a search of
-- several words is one FTS5 query.
--
-- session_search_text is the view of what is indexed. The triggers below
-- index a session again, from the view, in the transaction of any write
-- that changes its text (local, forwarded or seeded); contentless_delete
-- lets them drop the old row by rowid without its old text. Like the
-- tables it replaces it carries no INTEGER PRIMARY KEY of its own: after a
-- VACUUM it must be rebuilt (the INSERT ... SELECT below).
-- session_search_fts_vocab is its vocabulary (fts5vocab), from which the
-- search spells a long prefix out as the words it stands for.

-- +goose Up
DROP TRIGGER session_events_fts_delete;
DROP TRIGGER session_events_fts_insert;
DROP TRIGGER session_participants_fts_delete;
DROP TRIGGER session_participants_fts_update;
DROP TRIGGER session_participants_fts_insert;
DROP TRIGGER sessions_fts_delete;
DROP TRIGGER sessions_fts_update;
DROP TRIGGER sessions_fts_insert;
DROP TRIGGER service_reports_session_fts_delete;
DROP TRIGGER service_reports_session_fts_update;
DROP TRIGGER service_reports_session_fts_insert;
DROP TABLE session_report_fts_vocab;
DROP TABLE session_chat_fts_vocab;
DROP TABLE session_people_fts_vocab;
DROP TABLE session_fts_vocab;
DROP TABLE session_report_fts;
DROP TABLE session_chat_fts;
DROP TABLE session_people_fts;
DROP TABLE session_fts;

CREATE VIRTUAL TABLE session_search_fts USING fts5(text, content = '', contentless_delete = 1,
    tokenize = 'unicode61 remove_diacritics 2', prefix = '2 3');
CREATE VIRTUAL TABLE session_search_fts_vocab USING fts5vocab(session_search_fts, 'row');
CREATE VIEW session_search_text (sid, text) AS
SELECT s.rowid, s.name || ' ' || s.goal || ' ' || s.notes
    || ' ' || COALESCE((SELECT group_concat(p.display_name, ' ' ORDER BY p.rowid)
        FROM session_participants p WHERE p.session_id = s.id), '')
    || ' ' || COALESCE((SELECT group_concat(COALESCE(json_extract(e.payload, '$.text'), ''), ' ' ORDER BY e.rowid)
        FROM session_events e WHERE e.session_id = s.id AND e.kind = 'chat'), '')
    || ' ' || COALESCE((SELECT group_concat(r.body || ' ' || COALESCE((SELECT group_concat(value, ' ') FROM json_each(r.fields)), ''), ' ' ORDER BY r.rowid)
        FROM service_reports r WHERE r.session_id = s.id AND NOT r.deleted), '')
FROM sessions s;

INSERT INTO session_search_fts (rowid, text) SELECT sid, text FROM session_search_text;

-- +goose StatementBegin
CREATE TRIGGER session_search_sessions_insert AFTER INSERT ON sessions BEGIN
    DELETE FROM session_search_fts WHERE rowid = new.rowid;
    INSERT INTO session_search_fts (rowid, text) SELECT sid, text FROM session_search_text WHERE sid = new.rowid;
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER session_search_sessions_update AFTER UPDATE OF name, goal, notes ON sessions BEGIN
    DELETE FROM session_search_fts WHERE rowid = new.rowid;
    INSERT INTO session_search_fts (rowid, text) SELECT sid, text FROM session_search_text WHERE sid = new.rowid;
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER session_search_sessions_delete AFTER DELETE ON sessions BEGIN
    DELETE FROM session_search_fts WHERE rowid = old.rowid;
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER session_search_participants_insert AFTER INSERT ON session_participants BEGIN
    DELETE FROM session_search_fts WHERE rowid = (SELECT rowid FROM sessions WHERE id = new.session_id);
    INSERT INTO session_search_fts (rowid, text) SELECT sid, text FROM session_search_text WHERE sid = (SELECT rowid FROM sessions WHERE id = new.session_id);
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER session_search_participants_update AFTER UPDATE OF display_name ON session_participants BEGIN
    DELETE FROM session_search_fts WHERE rowid = (SELECT rowid FROM sessions WHERE id = new.session_id);
    INSERT INTO session_search_fts (rowid, text) SELECT sid, text FROM session_search_text WHERE sid = (SELECT rowid FROM sessions WHERE id = new.session_id);
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER session_search_participants_delete AFTER DELETE ON session_participants BEGIN
    DELETE FROM session_search_fts WHERE rowid = (SELECT rowid FROM sessions WHERE id = old.session_id);
    INSERT INTO session_search_fts (rowid, text) SELECT sid, text FROM session_search_text WHERE sid = (SELECT rowid FROM sessions WHERE id = old.session_id);
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER session_search_chat_insert AFTER INSERT ON session_events WHEN new.kind = 'chat' BEGIN
    DELETE FROM session_search_fts WHERE rowid = (SELECT rowid FROM sessions WHERE id = new.session_id);
    INSERT INTO session_search_fts (rowid, text) SELECT sid, text FROM session_search_text WHERE sid = (SELECT rowid FROM sessions WHERE id = new.session_id);
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER session_search_chat_delete AFTER DELETE ON session_events WHEN old.kind = 'chat' BEGIN
    DELETE FROM session_search_fts WHERE rowid = (SELECT rowid FROM sessions WHERE id = old.session_id);
    INSERT INTO session_search_fts (rowid, text) SELECT sid, text FROM session_search_text WHERE sid = (SELECT rowid FROM sessions WHERE id = old.session_id);
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER session_search_reports_insert AFTER INSERT ON service_reports BEGIN
    DELETE FROM session_search_fts WHERE rowid = (SELECT rowid FROM sessions WHERE id = new.session_id);
    INSERT INTO session_search_fts (rowid, text) SELECT sid, text FROM session_search_text WHERE sid = (SELECT rowid FROM sessions WHERE id = new.session_id);
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER session_search_reports_update AFTER UPDATE ON service_reports BEGIN
    DELETE FROM session_search_fts WHERE rowid = (SELECT rowid FROM sessions WHERE id = new.session_id);
    INSERT INTO session_search_fts (rowid, text) SELECT sid, text FROM session_search_text WHERE sid = (SELECT rowid FROM sessions WHERE id = new.session_id);
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER session_search_reports_delete AFTER DELETE ON service_reports BEGIN
    DELETE FROM session_search_fts WHERE rowid = (SELECT rowid FROM sessions WHERE id = old.session_id);
    INSERT INTO session_search_fts (rowid, text) SELECT sid, text FROM session_search_text WHERE sid = (SELECT rowid FROM sessions WHERE id = old.session_id);
END;
-- +goose StatementEnd

-- +goose Down
DROP TRIGGER session_search_reports_delete;
DROP TRIGGER session_search_reports_update;
DROP TRIGGER session_search_reports_insert;
DROP TRIGGER session_search_chat_delete;
DROP TRIGGER session_search_chat_insert;
DROP TRIGGER session_search_participants_delete;
DROP TRIGGER session_search_participants_update;
DROP TRIGGER session_search_participants_insert;
DROP TRIGGER session_search_sessions_delete;
DROP TRIGGER session_search_sessions_update;
DROP TRIGGER session_search_sessions_insert;
DROP VIEW session_search_text;
DROP TABLE session_search_fts_vocab;
DROP TABLE session_search_fts;

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

CREATE VIRTUAL TABLE session_report_fts USING fts5(sid UNINDEXED, text, tokenize = 'unicode61 remove_diacritics 2', prefix = '2 3');

INSERT INTO session_report_fts (rowid, sid, text)
    SELECT r.rowid, s.rowid, r.body || ' ' || COALESCE((SELECT group_concat(value, ' ') FROM json_each(r.fields)), '')
    FROM service_reports r JOIN sessions s ON s.id = r.session_id WHERE NOT r.deleted;

-- +goose StatementBegin
CREATE TRIGGER service_reports_session_fts_insert AFTER INSERT ON service_reports WHEN NOT new.deleted BEGIN
    INSERT INTO session_report_fts (rowid, sid, text)
        SELECT new.rowid, rowid, new.body || ' ' || COALESCE((SELECT group_concat(value, ' ') FROM json_each(new.fields)), '')
        FROM sessions WHERE id = new.session_id;
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER service_reports_session_fts_update AFTER UPDATE ON service_reports BEGIN
    DELETE FROM session_report_fts WHERE rowid = old.rowid;
    INSERT INTO session_report_fts (rowid, sid, text)
        SELECT new.rowid, rowid, new.body || ' ' || COALESCE((SELECT group_concat(value, ' ') FROM json_each(new.fields)), '')
        FROM sessions WHERE id = new.session_id AND NOT new.deleted;
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER service_reports_session_fts_delete AFTER DELETE ON service_reports BEGIN
    DELETE FROM session_report_fts WHERE rowid = old.rowid;
END;
-- +goose StatementEnd

CREATE VIRTUAL TABLE session_fts_vocab USING fts5vocab(session_fts, 'row');
CREATE VIRTUAL TABLE session_people_fts_vocab USING fts5vocab(session_people_fts, 'row');
CREATE VIRTUAL TABLE session_chat_fts_vocab USING fts5vocab(session_chat_fts, 'row');
CREATE VIRTUAL TABLE session_report_fts_vocab USING fts5vocab(session_report_fts, 'row');
