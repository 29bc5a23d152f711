-- The outbox of the e-mails a node sends besides guest invitations (whose
-- deliveries are rows of invitation_deliveries): member activation links
-- first. Site data: the node that accepted the request sends the e-mail.

-- +goose Up
CREATE TABLE mail_deliveries (
    id              TEXT PRIMARY KEY,
    org_id          TEXT NOT NULL,
    kind            TEXT NOT NULL CHECK (kind IN ('member_invitation')),
    ref_id          TEXT NOT NULL,
    recipient       TEXT NOT NULL,
    status          TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'sent', 'failed', 'cancelled')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    last_error      TEXT NOT NULL DEFAULT '',
    sealed          BLOB,                -- the message, encrypted; NULL once it is no longer pending
    created_at      INTEGER NOT NULL,
    sent_at         INTEGER
);
CREATE INDEX mail_deliveries_due ON mail_deliveries(status, next_attempt_at);
CREATE INDEX mail_deliveries_ref ON mail_deliveries(kind, ref_id);

-- +goose Down
DROP TABLE mail_deliveries;
