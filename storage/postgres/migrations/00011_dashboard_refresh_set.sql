-- dashboard_refresh_set brings the counted rows of many sessions in line
-- with the sessions as they stand, as dashboard_refresh (00010) does for
-- one, with a handful of statements for the whole set: the states the
-- sessions were counted from are taken away, their rows summed per rollup
-- row and subtracted; the states they stand in now are kept, their rows
-- summed per rollup row and added. Called for one session at a time,
-- every session writes each of its hundred-odd rows (the day's 'n' row of
-- the organisation, shared by every session of that day, among them) as a
-- statement of its own: a bulk load (storage/pgmigrate's rebuild after a
-- copy) refreshed about 65 sessions a second that way, hours for a
-- million. Summed per batch, a rollup row shared by the batch's sessions
-- is written once.
--
-- It returns how many of the sessions are counted now (those that exist
-- and have ended). It takes the lock dashboard_refresh takes, so it never
-- runs beside one.

-- +goose Up
-- +goose StatementBegin
CREATE FUNCTION dashboard_refresh_set(sids text[]) RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
    counted bigint;
BEGIN
    PERFORM pg_advisory_xact_lock(7233189368698986866);
    WITH was AS (
        DELETE FROM dashboard_state WHERE session_id = ANY(sids) RETURNING *)
    INSERT INTO dashboard_counts (org_id, metric, dim, span, site_id, outcome, t, key, val, n)
        SELECT r.org_id, r.metric, r.dim, r.span, r.site_id, r.outcome, r.t, r.key, r.val, -count(*)
        FROM was CROSS JOIN LATERAL dashboard_rows(ROW(was.*)::dashboard_state) AS r
        GROUP BY 1, 2, 3, 4, 5, 6, 7, 8, 9
        ORDER BY 1, 2, 3, 4, 5, 6, 7, 8, 9
        ON CONFLICT (org_id, metric, dim, span, site_id, outcome, t, key, val) DO UPDATE SET n = dashboard_counts.n + excluded.n;

    -- The sessions' states now: dashboard_now is NULL (every field) for a
    -- session that has not ended or is not there.
    WITH cur AS (
        SELECT st.* FROM (SELECT DISTINCT unnest(sids) AS sid) AS ids CROSS JOIN LATERAL dashboard_now(ids.sid) AS st
        WHERE st.session_id IS NOT NULL),
    kept AS (
        INSERT INTO dashboard_state SELECT * FROM cur RETURNING 1),
    sites AS (
        INSERT INTO dashboard_sites (org_id, site_id) SELECT DISTINCT org_id, site_id FROM cur ORDER BY 1, 2 ON CONFLICT DO NOTHING),
    added AS (
        INSERT INTO dashboard_counts (org_id, metric, dim, span, site_id, outcome, t, key, val, n)
            SELECT r.org_id, r.metric, r.dim, r.span, r.site_id, r.outcome, r.t, r.key, r.val, count(*)
            FROM cur CROSS JOIN LATERAL dashboard_rows(ROW(cur.*)::dashboard_state) AS r
            GROUP BY 1, 2, 3, 4, 5, 6, 7, 8, 9
            ORDER BY 1, 2, 3, 4, 5, 6, 7, 8, 9
            ON CONFLICT (org_id, metric, dim, span, site_id, outcome, t, key, val) DO UPDATE SET n = dashboard_counts.n + excluded.n)
    SELECT count(*) INTO counted FROM kept;
    RETURN counted;
END;
$$;
-- +goose StatementEnd

-- +goose Down
DROP FUNCTION dashboard_refresh_set(text[]);
