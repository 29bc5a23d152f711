-- The text of service reports in the session search (SPEC.md section 3):
-- a fourth full-text table beside those of migration 00013, with the same
-- tokenizer and prefixes, kept in step with service_reports (the version
-- of each report that stands) by triggers, so that a report written here
-- or applied from another node changes the session's index in its own
-- transaction. A deleted report has no row; an edited one only its
-- latest text.
--   session_report_fts  body and field values; rowid = service_reports
--                       rowid, sid = the session's rowid
-- Like the others it has no INTEGER PRIMARY KEY to pin its rowids: after a
-- VACUUM it must be rebuilt (the INSERT ... SELECT below).

-- +goose Up
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

-- +goose Down
DROP TRIGGER service_reports_session_fts_delete;
DROP TRIGGER service_reports_session_fts_update;
DROP TRIGGER service_reports_session_fts_insert;
DROP TABLE session_report_fts;
