-- Headquarters' side of forwarding (storage/sqlite's migration 00005):
--
-- history_marks: the highest outbox seq of each origin node applied here,
-- raised in the transaction that applies it.
--
-- history_rejected: forwarded messages that can never apply, kept as they
-- came (message, byte for byte) for an operator instead of blocking the
-- ones behind them.

-- +goose Up
CREATE TABLE history_marks (
    origin     TEXT PRIMARY KEY,
    seq        BIGINT NOT NULL,
    applied_at BIGINT NOT NULL
);

CREATE TABLE history_rejected (
    origin      TEXT COLLATE "C" NOT NULL,
    seq         BIGINT NOT NULL,
    id          TEXT NOT NULL DEFAULT '',
    reason      TEXT NOT NULL,
    message     BYTEA NOT NULL,
    rejected_at BIGINT NOT NULL,
    PRIMARY KEY (origin, seq)
);

-- +goose Down
DROP TABLE history_rejected;
DROP TABLE history_marks;
