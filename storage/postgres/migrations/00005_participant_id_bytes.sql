-- A session's participants list by join time, then id: byte by byte, as
-- SQLite orders them, not by the database's locale (00001 left the id in
-- the default collation, under which 'a' sorts before 'B').

-- +goose Up
ALTER TABLE session_participants ALTER COLUMN id TYPE TEXT COLLATE "C";

-- +goose Down
ALTER TABLE session_participants ALTER COLUMN id TYPE TEXT COLLATE "default";
