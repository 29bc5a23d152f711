-- The phonebook's search (storage.ContactQuery, contact_search.go) at
-- 100,000 contacts and more, in SQLite instead of in Go.
--
-- contacts_org_name walks one organisation's contacts in the order the
-- phonebook lists them (name ignoring case, then id), so that a page is a
-- short index range; it replaces contacts_org, its prefix.
--
-- contacts_fts indexes the name, company, e-mail and phone of every
-- contact as trigrams (case-insensitive), so that a text of three
-- characters or more finds the contacts holding it anywhere in one of
-- those fields without reading every row. It is contentless, its rowid the
-- contact's rowid; the triggers keep it in step in the transaction of each
-- write (Apply, Restore, an organisation's deletion by cascade), and
-- contentless_delete lets them drop a row by rowid. Like session_search_fts
-- (00021) it depends on the contacts' rowids: after a VACUUM it must be
-- rebuilt with the INSERT ... SELECT below.

-- +goose Up
DROP INDEX contacts_org;
CREATE INDEX contacts_org_name ON contacts(org_id, name COLLATE NOCASE, id);

CREATE VIRTUAL TABLE contacts_fts USING fts5(name, company, email, phone,
    content = '', contentless_delete = 1, tokenize = 'trigram');

INSERT INTO contacts_fts (rowid, name, company, email, phone)
SELECT rowid, name, company, email, phone FROM contacts;

-- +goose StatementBegin
CREATE TRIGGER contacts_fts_insert AFTER INSERT ON contacts BEGIN
    INSERT INTO contacts_fts (rowid, name, company, email, phone)
    VALUES (new.rowid, new.name, new.company, new.email, new.phone);
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER contacts_fts_update AFTER UPDATE OF name, company, email, phone ON contacts BEGIN
    DELETE FROM contacts_fts WHERE rowid = old.rowid;
    INSERT INTO contacts_fts (rowid, name, company, email, phone)
    VALUES (new.rowid, new.name, new.company, new.email, new.phone);
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER contacts_fts_delete AFTER DELETE ON contacts BEGIN
    DELETE FROM contacts_fts WHERE rowid = old.rowid;
END;
-- +goose StatementEnd

-- +goose Down
DROP TRIGGER contacts_fts_delete;
DROP TRIGGER contacts_fts_update;
DROP TRIGGER contacts_fts_insert;
DROP TABLE contacts_fts;
DROP INDEX contacts_org_name;
CREATE INDEX contacts_org ON contacts(org_id);
