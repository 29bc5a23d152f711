-- Media and recordings forwarded from a plant: headquarters keeps their
-- rows from the plant's history, and their bytes stay at the plant until
-- someone opens them. origin is the node whose blob store holds the bytes
-- ('' for this node's own media).

-- +goose Up
ALTER TABLE media ADD COLUMN origin TEXT NOT NULL DEFAULT '';
ALTER TABLE recordings ADD COLUMN origin TEXT NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE recordings DROP COLUMN origin;
ALTER TABLE media DROP COLUMN origin;
