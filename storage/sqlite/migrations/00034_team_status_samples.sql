-- The team dashboard's chart of status counts (node/supervision): a
-- sample per team each minute, kept for the chart's hours, so that a
-- node's restart does not blank the chart.

-- +goose Up
CREATE TABLE team_status_samples (
    org_id  TEXT NOT NULL,
    team_id TEXT NOT NULL,
    at      INTEGER NOT NULL,
    counts  TEXT NOT NULL, -- JSON: status -> members
    PRIMARY KEY (org_id, at, team_id)
) WITHOUT ROWID;

-- +goose Down
DROP TABLE team_status_samples;
