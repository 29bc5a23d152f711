-- Rollups for the dashboards (SPEC.md, section 3; storage/dashboard.go).
--
-- dashboard_counts holds, for each organisation, how many sessions have
-- each value of a metric, per UTC day (of the session's start), site and
-- outcome, once for all sessions (dim '') and once per team, label and
-- participant user (dim 'team', 'label', 'user', key the id):
--   hour    the UTC hour of the start, 0 to 23 (its counts are the sessions)
--   people  the number of distinct users who took part
--   tts     the time to solve, as a dashboard_buckets bucket: solved_at -
--           started_at, or ended_at - started_at when never marked solved
--           (storage.SessionSummary.TimeToSolve); none while unsolved and
--           active
--   answer  a service request's answer time, first 'answered' event -
--           started_at, as a bucket
--   goal    the goal, lower-cased and trimmed; none when empty
--
-- A session counts once it has ended (ended_at set): the writes of a live
-- call (joins, the answer) then cost its rollups nothing.
--
-- The view dashboard_contrib lists what one session adds. The triggers
-- below take a session's rows away before any write that changes what it
-- adds and add them again after it, so every write (a call ending, an
-- edit, a deletion, forwarded history at headquarters, a bulk load)
-- updates the rollups in its own transaction. An insert's BEFORE trigger
-- fires only when the row is not there yet: an insert that meets its own
-- row (forwarded history applied again: ON CONFLICT DO UPDATE or DO
-- NOTHING) fires no AFTER INSERT trigger, so it must take nothing away. A row whose count fell to
-- zero stays (and is used again): the reads sum counts and skip zeros.
--
-- dashboard_buckets: bucket 0 is [0, 1 s), bucket k >= 1 starts at
-- 1000 * 1.1^(k-1) ms (rounded down) and ends where k+1 starts, the last
-- one open: each bucket is at most 10 % wide.

-- +goose Up
CREATE TABLE dashboard_buckets (
    bucket INTEGER PRIMARY KEY,
    lo_ms  INTEGER NOT NULL UNIQUE
);
INSERT INTO dashboard_buckets (bucket, lo_ms)
WITH RECURSIVE b(k, lo) AS (SELECT 1, 1000.0 UNION ALL SELECT k + 1, lo * 1.1 FROM b WHERE lo < 100.0 * 86400000)
SELECT 0, 0 UNION ALL SELECT k, CAST(lo AS INTEGER) FROM b;

CREATE TABLE dashboard_counts (
    org_id  TEXT NOT NULL,
    metric  TEXT NOT NULL,
    dim     TEXT NOT NULL,
    key     TEXT NOT NULL,
    day     INTEGER NOT NULL,
    site_id TEXT NOT NULL,
    outcome TEXT NOT NULL,
    val     ANY NOT NULL,
    n       INTEGER NOT NULL,
    PRIMARY KEY (org_id, metric, dim, day, key, site_id, outcome, val)
) WITHOUT ROWID;
-- The primary key serves a range of days (of every key: a breakdown), this
-- index the days of one team, label or user (a filter).
CREATE INDEX dashboard_counts_key ON dashboard_counts(org_id, metric, dim, key, day);

CREATE VIEW dashboard_keys (sid, dim, key) AS
SELECT id, '', '' FROM sessions
UNION ALL SELECT id, 'team', team_id FROM sessions WHERE team_id != ''
UNION ALL SELECT session_id, 'label', label_id FROM session_labels
UNION ALL SELECT p.session_id, 'user', p.user_id FROM session_participants p
    WHERE p.rowid = (SELECT min(q.rowid) FROM session_participants q WHERE q.session_id = p.session_id AND q.user_id = p.user_id);

CREATE VIEW dashboard_metrics (sid, metric, val) AS
SELECT id, 'hour', (started_at / 3600000000000) % 24 FROM sessions
UNION ALL SELECT id, 'people', (SELECT count(DISTINCT user_id) FROM session_participants WHERE session_id = sessions.id) FROM sessions
UNION ALL SELECT id, 'tts', COALESCE((SELECT max(bucket) FROM dashboard_buckets
        WHERE lo_ms <= (COALESCE(solved_at, ended_at) - started_at) / 1000000), 0)
    FROM sessions WHERE COALESCE(solved_at, ended_at) IS NOT NULL
UNION ALL SELECT id, 'answer', COALESCE((SELECT max(bucket) FROM dashboard_buckets
        WHERE lo_ms <= ((SELECT min(at) FROM session_events WHERE session_id = sessions.id AND kind = 'answered') - started_at) / 1000000), 0)
    FROM sessions WHERE kind = 'service_request'
        AND EXISTS (SELECT 1 FROM session_events WHERE session_id = sessions.id AND kind = 'answered')
UNION ALL SELECT id, 'goal', lower(trim(goal)) FROM sessions WHERE trim(goal) != '';

CREATE VIEW dashboard_contrib (sid, org_id, metric, dim, key, day, site_id, outcome, val) AS
SELECT s.id, s.org_id, m.metric, k.dim, k.key, s.started_at / 86400000000000, s.site_id, s.outcome, m.val
FROM sessions s JOIN dashboard_keys k ON k.sid = s.id JOIN dashboard_metrics m ON m.sid = s.id
WHERE s.ended_at IS NOT NULL;

INSERT INTO dashboard_counts (org_id, metric, dim, key, day, site_id, outcome, val, n)
SELECT org_id, metric, dim, key, day, site_id, outcome, val, count(*) FROM dashboard_contrib
GROUP BY org_id, metric, dim, key, day, site_id, outcome, val;

-- +goose StatementBegin
CREATE TRIGGER dashboard_sessions_insert AFTER INSERT ON sessions BEGIN
    INSERT INTO dashboard_counts (org_id, metric, dim, key, day, site_id, outcome, val, n)
        SELECT org_id, metric, dim, key, day, site_id, outcome, val, 1 FROM dashboard_contrib WHERE sid = new.id
        ON CONFLICT DO UPDATE SET n = n + excluded.n;
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER dashboard_sessions_delete BEFORE DELETE ON sessions BEGIN
    INSERT INTO dashboard_counts (org_id, metric, dim, key, day, site_id, outcome, val, n)
        SELECT org_id, metric, dim, key, day, site_id, outcome, val, -1 FROM dashboard_contrib WHERE sid = old.id
        ON CONFLICT DO UPDATE SET n = n + excluded.n;
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER dashboard_sessions_update_before BEFORE UPDATE OF org_id, site_id, team_id, kind, goal, outcome, started_at, ended_at, solved_at ON sessions BEGIN
    INSERT INTO dashboard_counts (org_id, metric, dim, key, day, site_id, outcome, val, n)
        SELECT org_id, metric, dim, key, day, site_id, outcome, val, -1 FROM dashboard_contrib WHERE sid = old.id
        ON CONFLICT DO UPDATE SET n = n + excluded.n;
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER dashboard_sessions_update_after AFTER UPDATE OF org_id, site_id, team_id, kind, goal, outcome, started_at, ended_at, solved_at ON sessions BEGIN
    INSERT INTO dashboard_counts (org_id, metric, dim, key, day, site_id, outcome, val, n)
        SELECT org_id, metric, dim, key, day, site_id, outcome, val, 1 FROM dashboard_contrib WHERE sid = new.id
        ON CONFLICT DO UPDATE SET n = n + excluded.n;
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER dashboard_labels_insert_before BEFORE INSERT ON session_labels
    WHEN NOT EXISTS (SELECT 1 FROM session_labels WHERE session_id = new.session_id AND label_id = new.label_id) BEGIN
    INSERT INTO dashboard_counts (org_id, metric, dim, key, day, site_id, outcome, val, n)
        SELECT org_id, metric, dim, key, day, site_id, outcome, val, -1 FROM dashboard_contrib WHERE sid = new.session_id
        ON CONFLICT DO UPDATE SET n = n + excluded.n;
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER dashboard_labels_insert_after AFTER INSERT ON session_labels BEGIN
    INSERT INTO dashboard_counts (org_id, metric, dim, key, day, site_id, outcome, val, n)
        SELECT org_id, metric, dim, key, day, site_id, outcome, val, 1 FROM dashboard_contrib WHERE sid = new.session_id
        ON CONFLICT DO UPDATE SET n = n + excluded.n;
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER dashboard_labels_delete_before BEFORE DELETE ON session_labels BEGIN
    INSERT INTO dashboard_counts (org_id, metric, dim, key, day, site_id, outcome, val, n)
        SELECT org_id, metric, dim, key, day, site_id, outcome, val, -1 FROM dashboard_contrib WHERE sid = old.session_id
        ON CONFLICT DO UPDATE SET n = n + excluded.n;
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER dashboard_labels_delete_after AFTER DELETE ON session_labels BEGIN
    INSERT INTO dashboard_counts (org_id, metric, dim, key, day, site_id, outcome, val, n)
        SELECT org_id, metric, dim, key, day, site_id, outcome, val, 1 FROM dashboard_contrib WHERE sid = old.session_id
        ON CONFLICT DO UPDATE SET n = n + excluded.n;
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER dashboard_labels_update_before BEFORE UPDATE ON session_labels BEGIN
    INSERT INTO dashboard_counts (org_id, metric, dim, key, day, site_id, outcome, val, n)
        SELECT org_id, metric, dim, key, day, site_id, outcome, val, -1 FROM dashboard_contrib WHERE sid = old.session_id
        ON CONFLICT DO UPDATE SET n = n + excluded.n;
    INSERT INTO dashboard_counts (org_id, metric, dim, key, day, site_id, outcome, val, n)
        SELECT org_id, metric, dim, key, day, site_id, outcome, val, -1 FROM dashboard_contrib WHERE sid = new.session_id AND new.session_id != old.session_id
        ON CONFLICT DO UPDATE SET n = n + excluded.n;
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER dashboard_labels_update_after AFTER UPDATE ON session_labels BEGIN
    INSERT INTO dashboard_counts (org_id, metric, dim, key, day, site_id, outcome, val, n)
        SELECT org_id, metric, dim, key, day, site_id, outcome, val, 1 FROM dashboard_contrib WHERE sid = old.session_id
        ON CONFLICT DO UPDATE SET n = n + excluded.n;
    INSERT INTO dashboard_counts (org_id, metric, dim, key, day, site_id, outcome, val, n)
        SELECT org_id, metric, dim, key, day, site_id, outcome, val, 1 FROM dashboard_contrib WHERE sid = new.session_id AND new.session_id != old.session_id
        ON CONFLICT DO UPDATE SET n = n + excluded.n;
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER dashboard_participants_insert_before BEFORE INSERT ON session_participants
    WHEN NOT EXISTS (SELECT 1 FROM session_participants WHERE id = new.id) BEGIN
    INSERT INTO dashboard_counts (org_id, metric, dim, key, day, site_id, outcome, val, n)
        SELECT org_id, metric, dim, key, day, site_id, outcome, val, -1 FROM dashboard_contrib WHERE sid = new.session_id
        ON CONFLICT DO UPDATE SET n = n + excluded.n;
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER dashboard_participants_insert_after AFTER INSERT ON session_participants BEGIN
    INSERT INTO dashboard_counts (org_id, metric, dim, key, day, site_id, outcome, val, n)
        SELECT org_id, metric, dim, key, day, site_id, outcome, val, 1 FROM dashboard_contrib WHERE sid = new.session_id
        ON CONFLICT DO UPDATE SET n = n + excluded.n;
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER dashboard_participants_delete_before BEFORE DELETE ON session_participants BEGIN
    INSERT INTO dashboard_counts (org_id, metric, dim, key, day, site_id, outcome, val, n)
        SELECT org_id, metric, dim, key, day, site_id, outcome, val, -1 FROM dashboard_contrib WHERE sid = old.session_id
        ON CONFLICT DO UPDATE SET n = n + excluded.n;
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER dashboard_participants_delete_after AFTER DELETE ON session_participants BEGIN
    INSERT INTO dashboard_counts (org_id, metric, dim, key, day, site_id, outcome, val, n)
        SELECT org_id, metric, dim, key, day, site_id, outcome, val, 1 FROM dashboard_contrib WHERE sid = old.session_id
        ON CONFLICT DO UPDATE SET n = n + excluded.n;
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER dashboard_participants_update_before BEFORE UPDATE OF session_id, user_id ON session_participants BEGIN
    INSERT INTO dashboard_counts (org_id, metric, dim, key, day, site_id, outcome, val, n)
        SELECT org_id, metric, dim, key, day, site_id, outcome, val, -1 FROM dashboard_contrib WHERE sid = old.session_id
        ON CONFLICT DO UPDATE SET n = n + excluded.n;
    INSERT INTO dashboard_counts (org_id, metric, dim, key, day, site_id, outcome, val, n)
        SELECT org_id, metric, dim, key, day, site_id, outcome, val, -1 FROM dashboard_contrib WHERE sid = new.session_id AND new.session_id != old.session_id
        ON CONFLICT DO UPDATE SET n = n + excluded.n;
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER dashboard_participants_update_after AFTER UPDATE OF session_id, user_id ON session_participants BEGIN
    INSERT INTO dashboard_counts (org_id, metric, dim, key, day, site_id, outcome, val, n)
        SELECT org_id, metric, dim, key, day, site_id, outcome, val, 1 FROM dashboard_contrib WHERE sid = old.session_id
        ON CONFLICT DO UPDATE SET n = n + excluded.n;
    INSERT INTO dashboard_counts (org_id, metric, dim, key, day, site_id, outcome, val, n)
        SELECT org_id, metric, dim, key, day, site_id, outcome, val, 1 FROM dashboard_contrib WHERE sid = new.session_id AND new.session_id != old.session_id
        ON CONFLICT DO UPDATE SET n = n + excluded.n;
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER dashboard_events_insert_before BEFORE INSERT ON session_events WHEN new.kind = 'answered'
    AND NOT EXISTS (SELECT 1 FROM session_events WHERE id = new.id OR (session_id = new.session_id AND seq = new.seq)) BEGIN
    INSERT INTO dashboard_counts (org_id, metric, dim, key, day, site_id, outcome, val, n)
        SELECT org_id, metric, dim, key, day, site_id, outcome, val, -1 FROM dashboard_contrib WHERE sid = new.session_id
        ON CONFLICT DO UPDATE SET n = n + excluded.n;
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER dashboard_events_insert_after AFTER INSERT ON session_events WHEN new.kind = 'answered' BEGIN
    INSERT INTO dashboard_counts (org_id, metric, dim, key, day, site_id, outcome, val, n)
        SELECT org_id, metric, dim, key, day, site_id, outcome, val, 1 FROM dashboard_contrib WHERE sid = new.session_id
        ON CONFLICT DO UPDATE SET n = n + excluded.n;
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER dashboard_events_delete_before BEFORE DELETE ON session_events WHEN old.kind = 'answered' BEGIN
    INSERT INTO dashboard_counts (org_id, metric, dim, key, day, site_id, outcome, val, n)
        SELECT org_id, metric, dim, key, day, site_id, outcome, val, -1 FROM dashboard_contrib WHERE sid = old.session_id
        ON CONFLICT DO UPDATE SET n = n + excluded.n;
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER dashboard_events_delete_after AFTER DELETE ON session_events WHEN old.kind = 'answered' BEGIN
    INSERT INTO dashboard_counts (org_id, metric, dim, key, day, site_id, outcome, val, n)
        SELECT org_id, metric, dim, key, day, site_id, outcome, val, 1 FROM dashboard_contrib WHERE sid = old.session_id
        ON CONFLICT DO UPDATE SET n = n + excluded.n;
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER dashboard_events_update_before BEFORE UPDATE OF session_id, kind, at ON session_events BEGIN
    INSERT INTO dashboard_counts (org_id, metric, dim, key, day, site_id, outcome, val, n)
        SELECT org_id, metric, dim, key, day, site_id, outcome, val, -1 FROM dashboard_contrib WHERE sid = old.session_id
        ON CONFLICT DO UPDATE SET n = n + excluded.n;
    INSERT INTO dashboard_counts (org_id, metric, dim, key, day, site_id, outcome, val, n)
        SELECT org_id, metric, dim, key, day, site_id, outcome, val, -1 FROM dashboard_contrib WHERE sid = new.session_id AND new.session_id != old.session_id
        ON CONFLICT DO UPDATE SET n = n + excluded.n;
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER dashboard_events_update_after AFTER UPDATE OF session_id, kind, at ON session_events BEGIN
    INSERT INTO dashboard_counts (org_id, metric, dim, key, day, site_id, outcome, val, n)
        SELECT org_id, metric, dim, key, day, site_id, outcome, val, 1 FROM dashboard_contrib WHERE sid = old.session_id
        ON CONFLICT DO UPDATE SET n = n + excluded.n;
    INSERT INTO dashboard_counts (org_id, metric, dim, key, day, site_id, outcome, val, n)
        SELECT org_id, metric, dim, key, day, site_id, outcome, val, 1 FROM dashboard_contrib WHERE sid = new.session_id AND new.session_id != old.session_id
        ON CONFLICT DO UPDATE SET n = n + excluded.n;
END;
-- +goose StatementEnd

-- +goose Down
DROP TRIGGER dashboard_events_update_after;
DROP TRIGGER dashboard_events_update_before;
DROP TRIGGER dashboard_events_delete_after;
DROP TRIGGER dashboard_events_delete_before;
DROP TRIGGER dashboard_events_insert_after;
DROP TRIGGER dashboard_events_insert_before;
DROP TRIGGER dashboard_participants_update_after;
DROP TRIGGER dashboard_participants_update_before;
DROP TRIGGER dashboard_participants_delete_after;
DROP TRIGGER dashboard_participants_delete_before;
DROP TRIGGER dashboard_participants_insert_after;
DROP TRIGGER dashboard_participants_insert_before;
DROP TRIGGER dashboard_labels_update_after;
DROP TRIGGER dashboard_labels_update_before;
DROP TRIGGER dashboard_labels_delete_after;
DROP TRIGGER dashboard_labels_delete_before;
DROP TRIGGER dashboard_labels_insert_after;
DROP TRIGGER dashboard_labels_insert_before;
DROP TRIGGER dashboard_sessions_update_after;
DROP TRIGGER dashboard_sessions_update_before;
DROP TRIGGER dashboard_sessions_delete;
DROP TRIGGER dashboard_sessions_insert;
DROP VIEW dashboard_contrib;
DROP VIEW dashboard_metrics;
DROP VIEW dashboard_keys;
DROP INDEX dashboard_counts_key;
DROP TABLE dashboard_counts;
DROP TABLE dashboard_buckets;
