-- The vocabularies of the session search's full-text tables (fts5vocab,
-- read-only views of the FTS5 indexes, no data of their own): the search
-- spells a long prefix out as the words it stands for (session_text.go),
-- which FTS5 looks up row by row without merging every match first.

-- +goose Up
CREATE VIRTUAL TABLE session_fts_vocab USING fts5vocab(session_fts, 'row');
CREATE VIRTUAL TABLE session_people_fts_vocab USING fts5vocab(session_people_fts, 'row');
CREATE VIRTUAL TABLE session_chat_fts_vocab USING fts5vocab(session_chat_fts, 'row');
CREATE VIRTUAL TABLE session_report_fts_vocab USING fts5vocab(session_report_fts, 'row');

-- +goose Down
DROP TABLE session_report_fts_vocab;
DROP TABLE session_chat_fts_vocab;
DROP TABLE session_people_fts_vocab;
DROP TABLE session_fts_vocab;
