-- The members list: labels an invitation applies to the user it creates
-- (organisation data, replicated), and each user's latest login at this
-- node (site data: logins are not proposed through the replicated log).
-- Times are Unix nanoseconds.

-- +goose Up
ALTER TABLE member_invitations ADD COLUMN label_ids TEXT NOT NULL DEFAULT '[]' CHECK (json_valid(label_ids));

CREATE TABLE user_logins (
    user_id TEXT PRIMARY KEY,
    at      INTEGER NOT NULL
);

-- +goose Down
DROP TABLE user_logins;
ALTER TABLE member_invitations DROP COLUMN label_ids;
