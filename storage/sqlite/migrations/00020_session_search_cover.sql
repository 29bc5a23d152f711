-- Indexes for the session search at a million sessions (docs/benchmarks.md):
--   sessions_org_started_ends  a date range sorted by end, duration or
--                              time to solve reads its keys from the
--                              index instead of every row of the range
--   sessions_org_outcome_ended an outcome sorted by end walks only the
--                              sessions of that outcome

-- +goose Up
CREATE INDEX sessions_org_started_ends ON sessions(org_id, started_at, id, ended_at, solved_at);
CREATE INDEX sessions_org_outcome_ended ON sessions(org_id, outcome, COALESCE(ended_at, 9223372036854775807), id);

-- +goose Down
DROP INDEX sessions_org_outcome_ended;
DROP INDEX sessions_org_started_ends;
