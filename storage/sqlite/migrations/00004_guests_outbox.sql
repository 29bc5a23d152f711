-- Guests admitted by invitation links, and the outbox of invitation
-- deliveries by e-mail and SMS. Site data, like the invitations of 00002.

-- +goose Up
-- A service request's call name and goal, given to the call it creates.
ALTER TABLE invitations ADD COLUMN subject TEXT NOT NULL DEFAULT '';
ALTER TABLE invitations ADD COLUMN goal TEXT NOT NULL DEFAULT '';

CREATE TABLE guests (
    id            TEXT PRIMARY KEY,
    org_id        TEXT NOT NULL,
    invitation_id TEXT NOT NULL REFERENCES invitations(id) ON DELETE CASCADE,
    session_id    TEXT NOT NULL,
    kind          TEXT NOT NULL CHECK (kind IN ('guest_app', 'guest_mobile', 'guest_desktop')),
    name          TEXT NOT NULL DEFAULT '',
    created_at    INTEGER NOT NULL
);
CREATE INDEX guests_session ON guests(session_id);

CREATE TABLE invitation_deliveries (
    id              TEXT PRIMARY KEY,
    invitation_id   TEXT NOT NULL REFERENCES invitations(id) ON DELETE CASCADE,
    channel         TEXT NOT NULL CHECK (channel IN ('email', 'sms')),
    recipient       TEXT NOT NULL,
    status          TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'sent', 'failed')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    last_error      TEXT NOT NULL DEFAULT '',
    sealed          BLOB,                -- the link, encrypted; NULL once sent or given up
    created_at      INTEGER NOT NULL,
    sent_at         INTEGER
);
CREATE INDEX invitation_deliveries_due ON invitation_deliveries(status, next_attempt_at);
CREATE INDEX invitation_deliveries_invitation ON invitation_deliveries(invitation_id);

-- +goose Down
DROP TABLE invitation_deliveries;
DROP TABLE guests;
ALTER TABLE invitations DROP COLUMN goal;
ALTER TABLE invitations DROP COLUMN subject;
