-- The search of service reports (storage/sqlite's service_reports_fts of
-- migration 00012): a report that stands is found by the words of its body
-- and of its field values, a deleted one by none.
--
-- search is a generated column, so every write of a report (applied from
-- the history) sets it in its own statement. Its words are made by
-- search_words (migration 00008), with their positions, since a term
-- holding punctuation ("pump_log") is a phrase of its parts; the body's
-- words carry weight A and the fields' weight B, so that a phrase matches
-- within one of them only, as FTS5 matches within one column.

-- +goose Up
CREATE FUNCTION positioned_words(words text[], weight "char") RETURNS tsvector
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN COALESCE((SELECT string_agg('''' || replace(replace(w, '\', '\\'), '''', '''''') || ''':' || least(n, 16383) || weight::text, ' ')
        FROM unnest(words) WITH ORDINALITY AS u(w, n))::tsvector, ''::tsvector);

CREATE FUNCTION report_search_doc(body text, fields json) RETURNS tsvector
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN positioned_words(search_words(body), 'A')
        || positioned_words(search_words((SELECT string_agg(f.value, ' ') FROM json_each_text(nul_free(fields)) f)), 'B');

ALTER TABLE service_reports ADD COLUMN search tsvector NOT NULL
    GENERATED ALWAYS AS (CASE WHEN deleted THEN ''::tsvector ELSE report_search_doc(body, fields) END) STORED;
CREATE INDEX service_reports_search ON service_reports USING gin (search);

-- +goose Down
DROP INDEX service_reports_search;
ALTER TABLE service_reports DROP COLUMN search;
DROP FUNCTION report_search_doc(text, json);
DROP FUNCTION positioned_words(text[], "char");
