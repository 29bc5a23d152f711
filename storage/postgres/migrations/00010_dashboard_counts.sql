-- Rollups for the dashboards (storage/dashboard.go; docs/benchmarks.md,
-- "Dashboards"): storage/sqlite's migrations 00025 and 00033 in their
-- final shape, with the same rows.
--
-- dashboard_counts holds, for each organisation, how many ended sessions
-- have each value of a metric, per time grain (span 0: t the UTC day of
-- the start since 1970; span 1: t the month since January 1970), site
-- (site_id, or '*' for every site) and outcome (outcome, or '*'), for all
-- sessions (dim '', key '') and per team, label and participant user (dim
-- 'team', 'label', 'user', key the id). All sessions keep the four site ×
-- outcome grains; a team, label or user keeps two: a site and an outcome,
-- or every site and every outcome. The metrics, and val, are SQLite's:
--   n        the sessions, val '0'
--   outcome  the outcome ('' none yet)
--   hour     the UTC hour of the start, 0 to 23
--   people   the number of distinct users who took part
--   tts      the time to solve as a dashboard_buckets bucket:
--            COALESCE(solved_at, ended_at) - started_at
--   answer   a service request's answer time (first 'answered' event -
--            started_at) as a bucket
--   goal     goal_key, a unit separator (chr(31)), the outcome; none
--            when goal_key is ''
-- val is text here (SQLite's column takes integers and text alike); the
-- reads cast the numeric metrics' values back (dashboard.go).
--
-- goal_key is storage.GoalKey(goal), which the store writes with every
-- goal (sessions.go, history_apply.go, session_fields.go): computed in Go
-- so that a goal counts under exactly the key SQLite's dashboard_goal
-- gives it, whatever the server's locale makes of lower().
--
-- How the counts follow the history differs from SQLite's triggers, which
-- take a session's rows away before each row's write and add them again
-- after it. PostgreSQL runs a statement's AFTER ROW triggers once the
-- whole statement is done, so a pair of triggers per row would count a
-- statement that changes several rows of one session (its labels
-- replaced) more than once. Instead, dashboard_state keeps, for each
-- ended session, what its counted rows were computed from (its org, site,
-- team, kind, goal_key, outcome, times, labels, users and first answer);
-- after any write that may change those, dashboard_refresh compares the
-- session as it stands with its state and, when they differ, takes the
-- state's rows away, adds the new ones and keeps the new state. That is
-- idempotent: a statement that fires it several times for one session,
-- or a replay that changes nothing, costs a comparison. The triggers are
-- deferred to the commit, so a transaction that writes a session and its
-- participants, labels and answer (a bulk load, a batch of forwarded
-- history) computes the session's rows once, from where it ends, rather
-- than once per row it wrote; the rollups still change in the write's
-- own transaction.
--
-- A row whose count fell to zero stays (and is used again): the reads
-- skip zeros, as in SQLite.
--
-- dashboard_buckets: bucket 0 is [0, 1 s), bucket k >= 1 starts at
-- 1000 * 1.1^(k-1) ms (rounded down, computed in double precision step by
-- step as SQLite computes it) and ends where k+1 starts, the last open.
-- dashboard_sites lists the sites an organisation's sessions were held at,
-- for the breakdown by site, as in SQLite.

-- +goose Up
ALTER TABLE sessions ADD COLUMN goal_key TEXT NOT NULL DEFAULT '';
-- The sessions written before this migration: lower-cased words without
-- the ones holding a digit, all of them when every word holds one, as
-- GoalKey makes them (lower() is the database's; the store writes the key
-- from now on).
UPDATE sessions SET goal_key = COALESCE(NULLIF(array_to_string(ARRAY(SELECT w FROM unnest(ws) AS w WHERE w !~ '[0-9]'), ' '), ''),
        array_to_string(ws, ' '))
    FROM (SELECT id AS sid, ARRAY(SELECT w FROM regexp_split_to_table(lower(goal), '\s+') AS w WHERE w <> '') AS ws FROM sessions) AS g
    WHERE id = g.sid AND goal <> '';

CREATE TABLE dashboard_buckets (
    bucket INTEGER PRIMARY KEY,
    lo_ms  BIGINT NOT NULL UNIQUE
);
INSERT INTO dashboard_buckets (bucket, lo_ms)
WITH RECURSIVE b(k, lo) AS (SELECT 1, 1000.0::float8 UNION ALL SELECT k + 1, lo * 1.1::float8 FROM b WHERE lo < 100.0::float8 * 86400000)
SELECT 0, 0 UNION ALL SELECT k, trunc(lo)::bigint FROM b;

CREATE TABLE dashboard_counts (
    org_id  TEXT COLLATE "C" NOT NULL,
    metric  TEXT COLLATE "C" NOT NULL,
    dim     TEXT COLLATE "C" NOT NULL,
    span    SMALLINT NOT NULL,
    site_id TEXT COLLATE "C" NOT NULL,
    outcome TEXT COLLATE "C" NOT NULL,
    t       BIGINT NOT NULL,
    key     TEXT COLLATE "C" NOT NULL,
    val     TEXT COLLATE "C" NOT NULL,
    n       BIGINT NOT NULL,
    PRIMARY KEY (org_id, metric, dim, span, site_id, outcome, t, key, val)
);
-- The primary key serves a range of one grain's days or months (of every
-- key: a breakdown), this index the days or months of one team, label or
-- user (a filter).
CREATE INDEX dashboard_counts_key ON dashboard_counts(org_id, metric, dim, key, span, site_id, outcome, t);

CREATE TABLE dashboard_sites (
    org_id  TEXT COLLATE "C" NOT NULL,
    site_id TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (org_id, site_id)
);

CREATE TABLE dashboard_state (
    session_id  TEXT PRIMARY KEY,
    org_id      TEXT NOT NULL,
    site_id     TEXT NOT NULL,
    team_id     TEXT NOT NULL,
    kind        TEXT NOT NULL,
    goal_key    TEXT NOT NULL,
    outcome     TEXT NOT NULL,
    started_at  BIGINT NOT NULL,
    ended_at    BIGINT NOT NULL,
    solved_at   BIGINT,
    answered_at BIGINT,
    labels      TEXT[] NOT NULL,
    users       TEXT[] NOT NULL
);

-- dashboard_bucket is the bucket of a duration in nanoseconds.
CREATE FUNCTION dashboard_bucket(d bigint) RETURNS integer
    LANGUAGE sql STABLE PARALLEL SAFE
    RETURN COALESCE((SELECT max(bucket) FROM dashboard_buckets WHERE lo_ms <= d / 1000000), 0);

-- dashboard_now is what session sid's rows are computed from now: NULL
-- while it has not ended, or when it is not there.
CREATE FUNCTION dashboard_now(sid text) RETURNS dashboard_state
    LANGUAGE sql STABLE
    RETURN (SELECT ROW(s.id, s.org_id, s.site_id, s.team_id, s.kind, s.goal_key, s.outcome, s.started_at, s.ended_at, s.solved_at,
            (SELECT min(e.at) FROM session_events e WHERE e.session_id = s.id AND e.kind = 'answered'),
            ARRAY(SELECT l.label_id COLLATE "C" FROM session_labels l WHERE l.session_id = s.id ORDER BY 1),
            ARRAY(SELECT DISTINCT p.user_id COLLATE "C" FROM session_participants p WHERE p.session_id = s.id ORDER BY 1))::dashboard_state
        FROM sessions s WHERE s.id = sid AND s.ended_at IS NOT NULL);

-- dashboard_rows are the rows a session counts in, computed from its
-- state st (as dashboard_contrib is in SQLite).
-- +goose StatementBegin
CREATE FUNCTION dashboard_rows(st dashboard_state)
    RETURNS TABLE (org_id text, metric text, dim text, span smallint, site_id text, outcome text, t bigint, key text, val text)
    LANGUAGE sql STABLE
    BEGIN ATOMIC
        WITH keys(dim, key) AS (
            SELECT '', ''
            UNION ALL SELECT 'team', st.team_id WHERE st.team_id <> ''
            UNION ALL SELECT 'label', l FROM unnest(st.labels) AS l
            UNION ALL SELECT 'user', u FROM unnest(st.users) AS u),
        metrics(metric, val) AS (
            SELECT 'n', '0'
            UNION ALL SELECT 'outcome', st.outcome
            UNION ALL SELECT 'hour', ((st.started_at / 3600000000000) % 24)::text
            UNION ALL SELECT 'people', cardinality(st.users)::text
            UNION ALL SELECT 'tts', dashboard_bucket(COALESCE(st.solved_at, st.ended_at) - st.started_at)::text
            UNION ALL SELECT 'answer', dashboard_bucket(st.answered_at - st.started_at)::text
                WHERE st.kind = 'service_request' AND st.answered_at IS NOT NULL
            UNION ALL SELECT 'goal', st.goal_key || chr(31) || st.outcome WHERE st.goal_key <> ''),
        grains(span, by_site, by_outcome, every_dim) AS (VALUES
            (0::smallint, true, true, true), (0::smallint, true, false, false), (0::smallint, false, true, false), (0::smallint, false, false, true),
            (1::smallint, true, true, true), (1::smallint, true, false, false), (1::smallint, false, true, false), (1::smallint, false, false, true)),
        start(day, month) AS (
            SELECT st.started_at / 86400000000000,
                (extract(year FROM to_timestamp(st.started_at / 1000000000) AT TIME ZONE 'UTC')::bigint - 1970) * 12
                    + extract(month FROM to_timestamp(st.started_at / 1000000000) AT TIME ZONE 'UTC')::bigint - 1)
        SELECT st.org_id, m.metric, k.dim, g.span,
            CASE WHEN g.by_site THEN st.site_id ELSE '*' END,
            CASE WHEN g.by_outcome THEN st.outcome ELSE '*' END,
            CASE g.span WHEN 0 THEN start.day ELSE start.month END,
            k.key, m.val
        FROM keys k CROSS JOIN metrics m CROSS JOIN grains g CROSS JOIN start
        WHERE g.every_dim OR k.dim = '';
    END;
-- +goose StatementEnd

-- dashboard_add adds the rows of state st, delta times, in key order so
-- that two transactions meet on their rows in one order.
-- +goose StatementBegin
CREATE FUNCTION dashboard_add(st dashboard_state, delta integer) RETURNS void
    LANGUAGE sql
    BEGIN ATOMIC
        INSERT INTO dashboard_counts (org_id, metric, dim, span, site_id, outcome, t, key, val, n)
            SELECT r.org_id, r.metric, r.dim, r.span, r.site_id, r.outcome, r.t, r.key, r.val, delta FROM dashboard_rows(st) AS r
            ORDER BY 1, 2, 3, 4, 5, 6, 7, 8, 9
            ON CONFLICT (org_id, metric, dim, span, site_id, outcome, t, key, val) DO UPDATE SET n = dashboard_counts.n + excluded.n;
    END;
-- +goose StatementEnd

-- +goose StatementBegin
-- dashboard_refresh brings session sid's counted rows in line with the
-- session as it stands. It first takes a transaction-level advisory lock
-- ("dashboar" in ASCII; the history lock of history_outbox.go and goose's
-- have other keys), held to the commit: refreshes, which run at commit,
-- then run one transaction at a time, each seeing what the one before
-- committed, and two of them never wait on each other's rollup rows (which
-- a lock per row, taken in a different order by each, could make a
-- deadlock). Local writes hold the history lock already, so only the
-- history applier's commits wait for theirs.
CREATE FUNCTION dashboard_refresh(sid text) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    was dashboard_state;
    cur dashboard_state;
    counted boolean;
BEGIN
    PERFORM pg_advisory_xact_lock(7233189368698986866);
    SELECT * INTO was FROM dashboard_state WHERE session_id = sid;
    counted := FOUND;
    cur := dashboard_now(sid);
    -- (A composite IS NULL only when every field is: test the key.)
    IF cur.session_id IS NULL THEN
        IF counted THEN
            PERFORM dashboard_add(was, -1);
            DELETE FROM dashboard_state WHERE session_id = sid;
        END IF;
        RETURN;
    END IF;
    IF counted THEN
        IF was IS NOT DISTINCT FROM cur THEN
            RETURN;
        END IF;
        PERFORM dashboard_add(was, -1);
        DELETE FROM dashboard_state WHERE session_id = sid;
    END IF;
    PERFORM dashboard_add(cur, 1);
    INSERT INTO dashboard_state SELECT (cur).*;
END;
$$;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE FUNCTION dashboard_sessions_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        PERFORM dashboard_refresh(OLD.id);
        RETURN NULL;
    END IF;
    PERFORM dashboard_refresh(NEW.id);
    -- Under the lock the refresh took, so that two commits never wait on
    -- each other's new site.
    INSERT INTO dashboard_sites (org_id, site_id) VALUES (NEW.org_id, NEW.site_id) ON CONFLICT DO NOTHING;
    IF TG_OP = 'UPDATE' THEN
        IF OLD.id <> NEW.id THEN
            PERFORM dashboard_refresh(OLD.id);
        END IF;
    END IF;
    RETURN NULL;
END;
$$;
-- +goose StatementEnd

-- +goose StatementBegin
-- dashboard_session_part_changed follows a row of a session's labels,
-- participants or answers: its session, and on a move the session it left.
CREATE FUNCTION dashboard_session_part_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        PERFORM dashboard_refresh(OLD.session_id);
        RETURN NULL;
    END IF;
    PERFORM dashboard_refresh(NEW.session_id);
    IF TG_OP = 'UPDATE' THEN
        IF OLD.session_id <> NEW.session_id THEN
            PERFORM dashboard_refresh(OLD.session_id);
        END IF;
    END IF;
    RETURN NULL;
END;
$$;
-- +goose StatementEnd

CREATE CONSTRAINT TRIGGER dashboard_sessions AFTER INSERT OR DELETE OR UPDATE OF id, org_id, site_id, team_id, kind, goal_key, outcome,
    started_at, ended_at, solved_at ON sessions
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION dashboard_sessions_changed();
CREATE CONSTRAINT TRIGGER dashboard_labels AFTER INSERT OR DELETE OR UPDATE ON session_labels
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION dashboard_session_part_changed();
CREATE CONSTRAINT TRIGGER dashboard_participants AFTER INSERT OR DELETE OR UPDATE OF session_id, user_id ON session_participants
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION dashboard_session_part_changed();
CREATE CONSTRAINT TRIGGER dashboard_answers_insert AFTER INSERT ON session_events
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW WHEN (NEW.kind = 'answered') EXECUTE FUNCTION dashboard_session_part_changed();
CREATE CONSTRAINT TRIGGER dashboard_answers_update AFTER UPDATE OF session_id, kind, at ON session_events
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW WHEN (NEW.kind = 'answered' OR OLD.kind = 'answered') EXECUTE FUNCTION dashboard_session_part_changed();
CREATE CONSTRAINT TRIGGER dashboard_answers_delete AFTER DELETE ON session_events
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW WHEN (OLD.kind = 'answered') EXECUTE FUNCTION dashboard_session_part_changed();

-- The history written before this migration.
INSERT INTO dashboard_sites (org_id, site_id) SELECT DISTINCT org_id, site_id FROM sessions;
SELECT dashboard_refresh(id) FROM sessions WHERE ended_at IS NOT NULL;

-- +goose Down
DROP TRIGGER dashboard_answers_delete ON session_events;
DROP TRIGGER dashboard_answers_update ON session_events;
DROP TRIGGER dashboard_answers_insert ON session_events;
DROP TRIGGER dashboard_participants ON session_participants;
DROP TRIGGER dashboard_labels ON session_labels;
DROP TRIGGER dashboard_sessions ON sessions;
DROP FUNCTION dashboard_session_part_changed();
DROP FUNCTION dashboard_sessions_changed();
DROP FUNCTION dashboard_refresh(text);
DROP FUNCTION dashboard_add(dashboard_state, integer);
DROP FUNCTION dashboard_rows(dashboard_state);
DROP FUNCTION dashboard_now(text);
DROP FUNCTION dashboard_bucket(bigint);
DROP TABLE dashboard_state;
DROP TABLE dashboard_sites;
DROP TABLE dashboard_counts;
DROP TABLE dashboard_buckets;
ALTER TABLE sessions DROP COLUMN goal_key;
