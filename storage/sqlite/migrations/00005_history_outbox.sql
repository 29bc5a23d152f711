-- Forwarding site history to headquarters (DESIGN.md, "two kinds of data").
-- Site data, never in Raft snapshots.
--
-- history_outbox: every site-history write (session, participant, session
-- event, audit event) adds its record here in the same transaction; the
-- node's publisher copies it to JetStream and stamps published_at after
-- JetStream's acknowledgement. seq is monotonic (AUTOINCREMENT: never
-- reused), so "what headquarters has not acknowledged" is seq > its mark.
--
-- history_marks: at headquarters, the highest outbox seq of each origin
-- node applied here (raised in the transaction that applies it).
--
-- history_rejected: at headquarters, forwarded records that can never
-- apply, kept for an operator instead of blocking the ones behind them.

-- +goose Up
CREATE TABLE history_outbox (
    seq          INTEGER PRIMARY KEY AUTOINCREMENT,
    id           TEXT NOT NULL UNIQUE,
    kind         TEXT NOT NULL,
    record       TEXT NOT NULL CHECK (json_valid(record)),
    created_at   INTEGER NOT NULL,
    published_at INTEGER
);
CREATE INDEX history_outbox_unpublished ON history_outbox(seq) WHERE published_at IS NULL;

CREATE TABLE history_marks (
    origin     TEXT PRIMARY KEY,
    seq        INTEGER NOT NULL,
    applied_at INTEGER NOT NULL
);

CREATE TABLE history_rejected (
    origin      TEXT NOT NULL,
    seq         INTEGER NOT NULL,
    id          TEXT NOT NULL DEFAULT '',
    reason      TEXT NOT NULL,
    message     BLOB NOT NULL,
    rejected_at INTEGER NOT NULL,
    PRIMARY KEY (origin, seq)
);

-- +goose Down
DROP TABLE history_rejected;
DROP TABLE history_marks;
DROP TABLE history_outbox;
