-- Coarser rollups for the dashboards (docs/benchmarks.md, "Dashboards").
--
-- 00025 kept one row per metric value, UTC day, site and outcome: close to
-- a row per session for the hour, time-to-solve and goal metrics, so a
-- read grew with the sessions of its range (two years of 200,000 sessions:
-- 1.9 s). dashboard_counts now holds each count per day (span 0, t the
-- UTC day since 1970) and per month (span 1, t the months since January
-- 1970), each for the session's site or for every site (site_id '*') and
-- for its outcome or for every outcome (outcome '*'): all four for every
-- session (dim ''), the first and last for each team, label and user.
-- A read takes the whole months of its range from the month rows and the
-- days at its edges from the day rows, of the site and outcome grain its
-- filters ask for, so its rows are bounded by months, days at the edges
-- and metric values, not by sessions.
--
-- Two metrics are new: n (the sessions, value 0) and outcome (value the
-- outcome); goal counts dashboard_goal(goal) (storage.GoalKey: lower-cased,
-- words holding a digit left out) with the outcome after a unit separator,
-- char(31). dashboard_sites lists the sites an organisation's sessions
-- were held at, for the breakdown by site.
--
-- The triggers are 00025's, writing the new columns through the new
-- dashboard_contrib, which crosses each session's rows with the grains of
-- dashboard_grains.

-- +goose Up
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
DROP INDEX dashboard_counts_key;
DROP TABLE dashboard_counts;

CREATE TABLE dashboard_counts (
    org_id  TEXT NOT NULL,
    metric  TEXT NOT NULL,
    dim     TEXT NOT NULL,
    span    INTEGER NOT NULL,
    site_id TEXT NOT NULL,
    outcome TEXT NOT NULL,
    t       INTEGER NOT NULL,
    key     TEXT NOT NULL,
    val     ANY NOT NULL,
    n       INTEGER NOT NULL,
    PRIMARY KEY (org_id, metric, dim, span, site_id, outcome, t, key, val)
) WITHOUT ROWID;
-- The primary key serves a range of one grain's days or months (of every
-- key: a breakdown), this index the days or months of one team, label or
-- user (a filter).
CREATE INDEX dashboard_counts_key ON dashboard_counts(org_id, metric, dim, key, span, site_id, outcome, t);

-- every_dim: kept for the teams, labels and users too, not only for all
-- sessions (dim ''). Those keep the two ends, a site and an outcome or
-- neither; a read by a team, label or user filtered by site or outcome
-- sums the first (storage/sqlite/dashboard.go).
CREATE TABLE dashboard_grains (
    span       INTEGER NOT NULL,
    by_site    INTEGER NOT NULL,
    by_outcome INTEGER NOT NULL,
    every_dim  INTEGER NOT NULL,
    PRIMARY KEY (span, by_site, by_outcome)
) WITHOUT ROWID;
INSERT INTO dashboard_grains (span, by_site, by_outcome, every_dim) VALUES
    (0, 1, 1, 1), (0, 1, 0, 0), (0, 0, 1, 0), (0, 0, 0, 1),
    (1, 1, 1, 1), (1, 1, 0, 0), (1, 0, 1, 0), (1, 0, 0, 1);

CREATE TABLE dashboard_sites (
    org_id  TEXT NOT NULL,
    site_id TEXT NOT NULL,
    PRIMARY KEY (org_id, site_id)
) WITHOUT ROWID;
INSERT INTO dashboard_sites (org_id, site_id) SELECT DISTINCT org_id, site_id FROM sessions;

CREATE VIEW dashboard_metrics (sid, metric, val) AS
SELECT id, 'n', 0 FROM sessions
UNION ALL SELECT id, 'outcome', outcome FROM sessions
UNION ALL SELECT id, 'hour', (started_at / 3600000000000) % 24 FROM sessions
UNION ALL SELECT id, 'people', (SELECT count(DISTINCT user_id) FROM session_participants WHERE session_id = sessions.id) FROM sessions
UNION ALL SELECT id, 'tts', COALESCE((SELECT max(bucket) FROM dashboard_buckets
        WHERE lo_ms <= (COALESCE(solved_at, ended_at) - started_at) / 1000000), 0)
    FROM sessions WHERE COALESCE(solved_at, ended_at) IS NOT NULL
UNION ALL SELECT id, 'answer', COALESCE((SELECT max(bucket) FROM dashboard_buckets
        WHERE lo_ms <= ((SELECT min(at) FROM session_events WHERE session_id = sessions.id AND kind = 'answered') - started_at) / 1000000), 0)
    FROM sessions WHERE kind = 'service_request'
        AND EXISTS (SELECT 1 FROM session_events WHERE session_id = sessions.id AND kind = 'answered')
UNION ALL SELECT id, 'goal', dashboard_goal(goal) || char(31) || outcome FROM sessions WHERE dashboard_goal(goal) != '';

CREATE VIEW dashboard_contrib (sid, org_id, metric, dim, span, site_id, outcome, t, key, val) AS
SELECT s.id, s.org_id, m.metric, k.dim, g.span,
    CASE g.by_site WHEN 1 THEN s.site_id ELSE '*' END,
    CASE g.by_outcome WHEN 1 THEN s.outcome ELSE '*' END,
    CASE g.span WHEN 0 THEN s.started_at / 86400000000000
        ELSE (CAST(strftime('%Y', s.started_at / 1000000000, 'unixepoch') AS INTEGER) - 1970) * 12
            + CAST(strftime('%m', s.started_at / 1000000000, 'unixepoch') AS INTEGER) - 1 END,
    k.key, m.val
FROM sessions s JOIN dashboard_keys k ON k.sid = s.id JOIN dashboard_metrics m ON m.sid = s.id
    CROSS JOIN dashboard_grains g
WHERE s.ended_at IS NOT NULL AND (g.every_dim = 1 OR k.dim = '');

INSERT INTO dashboard_counts (org_id, metric, dim, span, site_id, outcome, t, key, val, n)
SELECT org_id, metric, dim, span, site_id, outcome, t, key, val, count(*) FROM dashboard_contrib
GROUP BY org_id, metric, dim, span, site_id, outcome, t, key, val;

-- +goose StatementBegin
CREATE TRIGGER dashboard_sites_insert AFTER INSERT ON sessions BEGIN
    INSERT INTO dashboard_sites (org_id, site_id) VALUES (new.org_id, new.site_id) ON CONFLICT DO NOTHING;
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER dashboard_sites_update AFTER UPDATE OF org_id, site_id ON sessions BEGIN
    INSERT INTO dashboard_sites (org_id, site_id) VALUES (new.org_id, new.site_id) ON CONFLICT DO NOTHING;
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER dashboard_sessions_insert AFTER INSERT ON sessions BEGIN
    INSERT INTO dashboard_counts (org_id, metric, dim, span, site_id, outcome, t, key, val, n)
        SELECT org_id, metric, dim, span, site_id, outcome, t, key, val, 1 FROM dashboard_contrib WHERE sid = new.id
        ON CONFLICT DO UPDATE SET n = n + excluded.n;
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER dashboard_sessions_delete BEFORE DELETE ON sessions BEGIN
    INSERT INTO dashboard_counts (org_id, metric, dim, span, site_id, outcome, t, key, val, n)
        SELECT org_id, metric, dim, span, site_id, outcome, t, key, val, -1 FROM dashboard_contrib WHERE sid = old.id
        ON CONFLICT DO UPDATE SET n = n + excluded.n;
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER dashboard_sessions_update_before BEFORE UPDATE OF org_id, site_id, team_id, kind, goal, outcome, started_at, ended_at, solved_at ON sessions BEGIN
    INSERT INTO dashboard_counts (org_id, metric, dim, span, site_id, outcome, t, key, val, n)
        SELECT org_id, metric, dim, span, site_id, outcome, t, key, val, -1 FROM dashboard_contrib WHERE sid = old.id
        ON CONFLICT DO UPDATE SET n = n + excluded.n;
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER dashboard_sessions_update_after AFTER UPDATE OF org_id, site_id, team_id, kind, goal, outcome, started_at, ended_at, solved_at ON sessions BEGIN
    INSERT INTO dashboard_counts (org_id, metric, dim, span, site_id, outcome, t, key, val, n)
        SELECT org_id, metric, dim, span, site_id, outcome, t, key, val, 1 FROM dashboard_contrib WHERE sid = new.id
        ON CONFLICT DO UPDATE SET n = n + excluded.n;
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER dashboard_labels_insert_before BEFORE INSERT ON session_labels
    WHEN NOT EXISTS (SELECT 1 FROM session_labels WHERE session_id = new.session_id AND label_id = new.label_id) BEGIN
    INSERT INTO dashboard_counts (org_id, metric, dim, span, site_id, outcome, t, key, val, n)
        SELECT org_id, metric, dim, span, site_id, outcome, t, key, val, -1 FROM dashboard_contrib WHERE sid = new.session_id
        ON CONFLICT DO UPDATE SET n = n + excluded.n;
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER dashboard_labels_insert_after AFTER INSERT ON session_labels BEGIN
    INSERT INTO dashboard_counts (org_id, metric, dim, span, site_id, outcome, t, key, val, n)
        SELECT org_id, metric, dim, span, site_id, outcome, t, key, val, 1 FROM dashboard_contrib WHERE sid = new.session_id
        ON CONFLICT DO UPDATE SET n = n + excluded.n;
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER dashboard_labels_delete_before BEFORE DELETE ON session_labels BEGIN
    INSERT INTO dashboard_counts (org_id, metric, dim, span, site_id, outcome, t, key, val, n)
        SELECT org_id, metric, dim, span, site_id, outcome, t, key, val, -1 FROM dashboard_contrib WHERE sid = old.session_id
        ON CONFLICT DO UPDATE SET n = n + excluded.n;
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER dashboard_labels_delete_after AFTER DELETE ON session_labels BEGIN
    INSERT INTO dashboard_counts (org_id, metric, dim, span, site_id, outcome, t, key, val, n)
        SELECT org_id, metric, dim, span, site_id, outcome, t, key, val, 1 FROM dashboard_contrib WHERE sid = old.session_id
        ON CONFLICT DO UPDATE SET n = n + excluded.n;
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER dashboard_labels_update_before BEFORE UPDATE ON session_labels BEGIN
    INSERT INTO dashboard_counts (org_id, metric, dim, span, site_id, outcome, t, key, val, n)
        SELECT org_id, metric, dim, span, site_id, outcome, t, key, val, -1 FROM dashboard_contrib WHERE sid = old.session_id
        ON CONFLICT DO UPDATE SET n = n + excluded.n;
    INSERT INTO dashboard_counts (org_id, metric, dim, span, site_id, outcome, t, key, val, n)
        SELECT org_id, metric, dim, span, site_id, outcome, t, key, val, -1 FROM dashboard_contrib WHERE sid = new.session_id AND new.session_id != old.session_id
        ON CONFLICT DO UPDATE SET n = n + excluded.n;
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER dashboard_labels_update_after AFTER UPDATE ON session_labels BEGIN
    INSERT INTO dashboard_counts (org_id, metric, dim, span, site_id, outcome, t, key, val, n)
        SELECT org_id, metric, dim, span, site_id, outcome, t, key, val, 1 FROM dashboard_contrib WHERE sid = old.session_id
        ON CONFLICT DO UPDATE SET n = n + excluded.n;
    INSERT INTO dashboard_counts (org_id, metric, dim, span, site_id, outcome, t, key, val, n)
        SELECT org_id, metric, dim, span, site_id, outcome, t, key, val, 1 FROM dashboard_contrib WHERE sid = new.session_id AND new.session_id != old.session_id
        ON CONFLICT DO UPDATE SET n = n + excluded.n;
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER dashboard_participants_insert_before BEFORE INSERT ON session_participants
    WHEN NOT EXISTS (SELECT 1 FROM session_participants WHERE id = new.id) BEGIN
    INSERT INTO dashboard_counts (org_id, metric, dim, span, site_id, outcome, t, key, val, n)
        SELECT org_id, metric, dim, span, site_id, outcome, t, key, val, -1 FROM dashboard_contrib WHERE sid = new.session_id
        ON CONFLICT DO UPDATE SET n = n + excluded.n;
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER dashboard_participants_insert_after AFTER INSERT ON session_participants BEGIN
    INSERT INTO dashboard_counts (org_id, metric, dim, span, site_id, outcome, t, key, val, n)
        SELECT org_id, metric, dim, span, site_id, outcome, t, key, val, 1 FROM dashboard_contrib WHERE sid = new.session_id
        ON CONFLICT DO UPDATE SET n = n + excluded.n;
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER dashboard_participants_delete_before BEFORE DELETE ON session_participants BEGIN
    INSERT INTO dashboard_counts (org_id, metric, dim, span, site_id, outcome, t, key, val, n)
        SELECT org_id, metric, dim, span, site_id, outcome, t, key, val, -1 FROM dashboard_contrib WHERE sid = old.session_id
        ON CONFLICT DO UPDATE SET n = n + excluded.n;
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER dashboard_participants_delete_after AFTER DELETE ON session_participants BEGIN
    INSERT INTO dashboard_counts (org_id, metric, dim, span, site_id, outcome, t, key, val, n)
        SELECT org_id, metric, dim, span, site_id, outcome, t, key, val, 1 FROM dashboard_contrib WHERE sid = old.session_id
        ON CONFLICT DO UPDATE SET n = n + excluded.n;
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER dashboard_participants_update_before BEFORE UPDATE OF session_id, user_id ON session_participants BEGIN
    INSERT INTO dashboard_counts (org_id, metric, dim, span, site_id, outcome, t, key, val, n)
        SELECT org_id, metric, dim, span, site_id, outcome, t, key, val, -1 FROM dashboard_contrib WHERE sid = old.session_id
        ON CONFLICT DO UPDATE SET n = n + excluded.n;
    INSERT INTO dashboard_counts (org_id, metric, dim, span, site_id, outcome, t, key, val, n)
        SELECT org_id, metric, dim, span, site_id, outcome, t, key, val, -1 FROM dashboard_contrib WHERE sid = new.session_id AND new.session_id != old.session_id
        ON CONFLICT DO UPDATE SET n = n + excluded.n;
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER dashboard_participants_update_after AFTER UPDATE OF session_id, user_id ON session_participants BEGIN
    INSERT INTO dashboard_counts (org_id, metric, dim, span, site_id, outcome, t, key, val, n)
        SELECT org_id, metric, dim, span, site_id, outcome, t, key, val, 1 FROM dashboard_contrib WHERE sid = old.session_id
        ON CONFLICT DO UPDATE SET n = n + excluded.n;
    INSERT INTO dashboard_counts (org_id, metric, dim, span, site_id, outcome, t, key, val, n)
        SELECT org_id, metric, dim, span, site_id, outcome, t, key, val, 1 FROM dashboard_contrib WHERE sid = new.session_id AND new.session_id != old.session_id
        ON CONFLICT DO UPDATE SET n = n + excluded.n;
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER dashboard_events_insert_before BEFORE INSERT ON session_events WHEN new.kind = 'answered'
    AND NOT EXISTS (SELECT 1 FROM session_events WHERE id = new.id OR (session_id = new.session_id AND seq = new.seq)) BEGIN
    INSERT INTO dashboard_counts (org_id, metric, dim, span, site_id, outcome, t, key, val, n)
        SELECT org_id, metric, dim, span, site_id, outcome, t, key, val, -1 FROM dashboard_contrib WHERE sid = new.session_id
        ON CONFLICT DO UPDATE SET n = n + excluded.n;
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER dashboard_events_insert_after AFTER INSERT ON session_events WHEN new.kind = 'answered' BEGIN
    INSERT INTO dashboard_counts (org_id, metric, dim, span, site_id, outcome, t, key, val, n)
        SELECT org_id, metric, dim, span, site_id, outcome, t, key, val, 1 FROM dashboard_contrib WHERE sid = new.session_id
        ON CONFLICT DO UPDATE SET n = n + excluded.n;
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER dashboard_events_delete_before BEFORE DELETE ON session_events WHEN old.kind = 'answered' BEGIN
    INSERT INTO dashboard_counts (org_id, metric, dim, span, site_id, outcome, t, key, val, n)
        SELECT org_id, metric, dim, span, site_id, outcome, t, key, val, -1 FROM dashboard_contrib WHERE sid = old.session_id
        ON CONFLICT DO UPDATE SET n = n + excluded.n;
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER dashboard_events_delete_after AFTER DELETE ON session_events WHEN old.kind = 'answered' BEGIN
    INSERT INTO dashboard_counts (org_id, metric, dim, span, site_id, outcome, t, key, val, n)
        SELECT org_id, metric, dim, span, site_id, outcome, t, key, val, 1 FROM dashboard_contrib WHERE sid = old.session_id
        ON CONFLICT DO UPDATE SET n = n + excluded.n;
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER dashboard_events_update_before BEFORE UPDATE OF session_id, kind, at ON session_events BEGIN
    INSERT INTO dashboard_counts (org_id, metric, dim, span, site_id, outcome, t, key, val, n)
        SELECT org_id, metric, dim, span, site_id, outcome, t, key, val, -1 FROM dashboard_contrib WHERE sid = old.session_id
        ON CONFLICT DO UPDATE SET n = n + excluded.n;
    INSERT INTO dashboard_counts (org_id, metric, dim, span, site_id, outcome, t, key, val, n)
        SELECT org_id, metric, dim, span, site_id, outcome, t, key, val, -1 FROM dashboard_contrib WHERE sid = new.session_id AND new.session_id != old.session_id
        ON CONFLICT DO UPDATE SET n = n + excluded.n;
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER dashboard_events_update_after AFTER UPDATE OF session_id, kind, at ON session_events BEGIN
    INSERT INTO dashboard_counts (org_id, metric, dim, span, site_id, outcome, t, key, val, n)
        SELECT org_id, metric, dim, span, site_id, outcome, t, key, val, 1 FROM dashboard_contrib WHERE sid = old.session_id
        ON CONFLICT DO UPDATE SET n = n + excluded.n;
    INSERT INTO dashboard_counts (org_id, metric, dim, span, site_id, outcome, t, key, val, n)
        SELECT org_id, metric, dim, span, site_id, outcome, t, key, val, 1 FROM dashboard_contrib WHERE sid = new.session_id AND new.session_id != old.session_id
        ON CONFLICT DO UPDATE SET n = n + excluded.n;
END;
-- +goose StatementEnd


-- +goose Down
DROP TRIGGER dashboard_sites_update;
DROP TRIGGER dashboard_sites_insert;
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
DROP TABLE dashboard_sites;
DROP TABLE dashboard_grains;
DROP INDEX dashboard_counts_key;
DROP TABLE dashboard_counts;
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

