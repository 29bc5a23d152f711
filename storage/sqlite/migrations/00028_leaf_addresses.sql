-- Where each node accepts the leaf links of plants, as it announces it
-- through the replicated log (federation data, of no organisation): a
-- plant follows the address of the node it joined through.

-- +goose Up
CREATE TABLE leaf_addresses (
    node_id    TEXT PRIMARY KEY,
    url        TEXT NOT NULL,
    updated_at INTEGER NOT NULL
);

-- +goose Down
DROP TABLE leaf_addresses;
