-- Member invitations (storage/member.go): organisation data, written only by
-- the replicated log and carried in snapshots. The link's token is kept as
-- its SHA-256 alone. Times are Unix nanoseconds.

-- +goose Up
CREATE TABLE member_invitations (
    id          TEXT PRIMARY KEY,
    org_id      TEXT NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
    email       TEXT NOT NULL,
    roles       TEXT NOT NULL DEFAULT '[]' CHECK (json_valid(roles)),
    team_ids    TEXT NOT NULL DEFAULT '[]' CHECK (json_valid(team_ids)),
    token_hash  BLOB NOT NULL UNIQUE,
    created_by  TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    sent_at     INTEGER NOT NULL,
    sends       INTEGER NOT NULL DEFAULT 1,
    expires_at  INTEGER NOT NULL,
    used_at     INTEGER,
    user_id     TEXT,
    revoked_at  INTEGER
);
CREATE INDEX member_invitations_org ON member_invitations(org_id, created_at);

-- +goose Down
DROP TABLE member_invitations;
