-- Team queues for service requests (storage/queue.go).
--
-- Organisation data, written by Apply and carried by Snapshot/Restore:
-- auto_assign, the users who switched auto-assign (a user without a row
-- has it on), and team_queues, each team's strategy (a team without a row
-- uses the node's queue.strategy).
--
-- Site data: queue_entries, the service requests waiting in a team's
-- queue, and queue_rotations, where each team's rotation stands; both are
-- written before the guest's request is answered and read back after a
-- restart. invitations.team_id is the team a service-request link queues
-- its call for.

-- +goose Up
CREATE TABLE auto_assign (
    user_id TEXT PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
    org_id  TEXT NOT NULL,
    off     INTEGER NOT NULL DEFAULT 0,
    by_id   TEXT NOT NULL DEFAULT '',
    at      INTEGER NOT NULL
);
CREATE INDEX auto_assign_org ON auto_assign(org_id);

CREATE TABLE team_queues (
    team_id  TEXT PRIMARY KEY REFERENCES teams(id) ON DELETE CASCADE,
    org_id   TEXT NOT NULL,
    strategy TEXT NOT NULL CHECK (strategy IN ('round-robin', 'longest-idle'))
);

CREATE TABLE queue_entries (
    session_id    TEXT PRIMARY KEY REFERENCES sessions(id) ON DELETE CASCADE,
    org_id        TEXT NOT NULL,
    team_id       TEXT NOT NULL,
    enqueued_at   INTEGER NOT NULL,
    enqueued_by   TEXT NOT NULL DEFAULT '',
    offered_to    TEXT NOT NULL DEFAULT '',
    offer_expires INTEGER,
    skipped       TEXT NOT NULL DEFAULT '[]' CHECK (json_valid(skipped))
);
CREATE INDEX queue_entries_team ON queue_entries(team_id, enqueued_at);

CREATE TABLE queue_rotations (
    team_id    TEXT PRIMARY KEY,
    last_user  TEXT NOT NULL DEFAULT '',
    last_turns TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(last_turns))
);

ALTER TABLE invitations ADD COLUMN team_id TEXT NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE invitations DROP COLUMN team_id;
DROP TABLE queue_rotations;
DROP TABLE queue_entries;
DROP TABLE team_queues;
DROP TABLE auto_assign;
