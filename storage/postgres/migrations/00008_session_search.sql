-- The session search (storage/sqlite's migrations 00013, 00020, 00021 and
-- 00029): sort indexes for keyset pages and a full-text document per
-- session.
--
-- search is the session's words: its name, goal and notes, its
-- participants' names, its chat and the text of its service reports that
-- stand (body and field values), as SQLite's session_search_text view
-- feeds FTS5. Labels are not in it, as in SQLite. The triggers below set
-- it again in the transaction of any write that changes that text (local,
-- forwarded or applied), as SQLite's triggers do.
--
-- The words are made as FTS5's unicode61 tokenizer with remove_diacritics
-- makes them: the text without its diacritics (unaccent), lower-cased,
-- split on every character that is neither a letter nor a digit. The
-- split is ours, not a text search parser's: the parsers keep an e-mail
-- address, a file name or "1.5" as one token, where FTS5 sees two or three
-- words. Case and class are ICU's (und-x-icu), whatever the database's
-- locale. search_words is the same function the query's words go through
-- (session_search.go). A word longer than 2046 bytes, more than a tsvector
-- lexeme holds (array_to_tsvector would keep it cut short), is left out;
-- FTS5 keeps it.
--
-- Text sort keys and the id that breaks ties are COLLATE "C": byte order,
-- as SQLite's BINARY, whatever the database's collation. The name sorts
-- lower-cased in ASCII only, as SQLite's lower().

-- +goose Up
CREATE EXTENSION IF NOT EXISTS unaccent;

CREATE FUNCTION search_words(t text) RETURNS text[]
    LANGUAGE sql IMMUTABLE PARALLEL SAFE STRICT
    RETURN ARRAY(SELECT w FROM unnest(regexp_split_to_array(lower(unaccent('unaccent'::regdictionary, t) COLLATE "und-x-icu"), '[^[:alnum:]]+')) AS w
        WHERE w <> '' AND octet_length(w) <= 2046);

-- nul_free is a JSON value with its escaped NULs (\u0000) as spaces: a
-- NUL cannot be read out of JSON as PostgreSQL text, and FTS5's tokenizer
-- takes it for a break between words.
CREATE FUNCTION nul_free(j json) RETURNS json
    LANGUAGE sql IMMUTABLE PARALLEL SAFE STRICT
    RETURN replace(j::text, '\u0000', '\u0020')::json;

CREATE FUNCTION session_search_doc(sid text) RETURNS tsvector
    LANGUAGE sql STABLE
    RETURN (SELECT array_to_tsvector(search_words(concat_ws(' ', s.name, s.goal, s.notes,
        (SELECT string_agg(p.display_name, ' ') FROM session_participants p WHERE p.session_id = s.id),
        (SELECT string_agg(nul_free(e.payload)->>'text', ' ') FROM session_events e WHERE e.session_id = s.id AND e.kind = 'chat'),
        (SELECT string_agg(r.body || ' ' || COALESCE((SELECT string_agg(f.value, ' ') FROM json_each_text(nul_free(r.fields)) f), ''), ' ')
            FROM service_reports r WHERE r.session_id = s.id AND NOT r.deleted))))
        FROM sessions s WHERE s.id = sid);

ALTER TABLE sessions ADD COLUMN search tsvector NOT NULL DEFAULT '';
UPDATE sessions SET search = session_search_doc(id);
CREATE INDEX sessions_search ON sessions USING gin (search);

-- +goose StatementBegin
CREATE FUNCTION session_search_refresh() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    sid text;
BEGIN
    IF TG_TABLE_NAME = 'sessions' THEN
        sid := NEW.id;
    ELSIF TG_OP = 'DELETE' THEN
        sid := OLD.session_id;
    ELSE
        sid := NEW.session_id;
    END IF;
    UPDATE sessions SET search = session_search_doc(sid) WHERE id = sid;
    -- A row moved to another session leaves the old one's text too
    -- (nested: PL/pgSQL does not short-circuit, and sessions has no
    -- session_id).
    IF TG_OP = 'UPDATE' AND TG_TABLE_NAME <> 'sessions' THEN
        IF OLD.session_id <> NEW.session_id THEN
            UPDATE sessions SET search = session_search_doc(OLD.session_id) WHERE id = OLD.session_id;
        END IF;
    END IF;
    RETURN NULL;
END;
$$;
-- +goose StatementEnd

CREATE TRIGGER session_search_sessions AFTER INSERT OR UPDATE OF name, goal, notes ON sessions
    FOR EACH ROW EXECUTE FUNCTION session_search_refresh();
CREATE TRIGGER session_search_participants AFTER INSERT OR DELETE OR UPDATE OF display_name, session_id ON session_participants
    FOR EACH ROW EXECUTE FUNCTION session_search_refresh();
CREATE TRIGGER session_search_chat_insert AFTER INSERT ON session_events
    FOR EACH ROW WHEN (NEW.kind = 'chat') EXECUTE FUNCTION session_search_refresh();
CREATE TRIGGER session_search_chat_update AFTER UPDATE OF payload, kind, session_id ON session_events
    FOR EACH ROW WHEN (NEW.kind = 'chat' OR OLD.kind = 'chat') EXECUTE FUNCTION session_search_refresh();
CREATE TRIGGER session_search_chat_delete AFTER DELETE ON session_events
    FOR EACH ROW WHEN (OLD.kind = 'chat') EXECUTE FUNCTION session_search_refresh();
CREATE TRIGGER session_search_reports AFTER INSERT OR DELETE OR UPDATE ON service_reports
    FOR EACH ROW EXECUTE FUNCTION session_search_refresh();

-- The sort keys, written exactly as session_search.go's sortKeys, each
-- with the id that breaks ties, so that a page walks an index instead of
-- sorting every match.
CREATE INDEX sessions_org_started_id ON sessions(org_id, started_at, (id COLLATE "C"));
CREATE INDEX sessions_org_ended ON sessions(org_id, COALESCE(ended_at, 9223372036854775807), (id COLLATE "C"));
CREATE INDEX sessions_org_duration ON sessions(org_id, COALESCE(ended_at - started_at, 9223372036854775807), (id COLLATE "C"));
CREATE INDEX sessions_org_solve ON sessions(org_id, COALESCE(COALESCE(solved_at, ended_at) - started_at, 9223372036854775807), (id COLLATE "C"));
CREATE INDEX sessions_org_name ON sessions(org_id, (translate(name, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz') COLLATE "C"), (id COLLATE "C"));
CREATE INDEX sessions_org_site ON sessions(org_id, (site_id COLLATE "C"), (id COLLATE "C"));
CREATE INDEX sessions_org_owner ON sessions(org_id, (owner_id COLLATE "C"), (id COLLATE "C"));
CREATE INDEX sessions_org_outcome ON sessions(org_id, (outcome COLLATE "C"), (id COLLATE "C"));
-- One site's sessions (or a few sites') newest first.
CREATE INDEX sessions_org_site_started_id ON sessions(org_id, site_id, started_at, (id COLLATE "C"));

-- +goose Down
DROP INDEX sessions_org_site_started_id;
DROP INDEX sessions_org_outcome;
DROP INDEX sessions_org_owner;
DROP INDEX sessions_org_site;
DROP INDEX sessions_org_name;
DROP INDEX sessions_org_solve;
DROP INDEX sessions_org_duration;
DROP INDEX sessions_org_ended;
DROP INDEX sessions_org_started_id;
DROP TRIGGER session_search_reports ON service_reports;
DROP TRIGGER session_search_chat_delete ON session_events;
DROP TRIGGER session_search_chat_update ON session_events;
DROP TRIGGER session_search_chat_insert ON session_events;
DROP TRIGGER session_search_participants ON session_participants;
DROP TRIGGER session_search_sessions ON sessions;
DROP FUNCTION session_search_refresh();
DROP INDEX sessions_search;
ALTER TABLE sessions DROP COLUMN search;
DROP FUNCTION session_search_doc(text);
DROP FUNCTION nul_free(json);
DROP FUNCTION search_words(text);
