-- Before calls ended on their own (media.empty_call_grace and
-- media.unjoined_call_ttl), a call whose people left without ending it for
-- all stayed active for ever, and a service request nobody answered rang
-- on past its 24 hours. Those end here, at the time of their last event
-- (their start when they have none), with an 'ended' event saying why:
-- active calls quiet for more than an hour, ringing requests started more
-- than 24 hours ago. A call active more recently is left to the node, which
-- gives the calls it was running the grace of a call everyone left when it
-- starts. Times are Unix nanoseconds.

-- +goose Up
CREATE TEMP TABLE stuck_sessions AS
SELECT s.id AS id,
       s.status AS status,
       COALESCE(MAX(e.at), s.started_at) AS last_at,
       COALESCE(MAX(e.seq), 0) AS last_seq
FROM sessions s LEFT JOIN session_events e ON e.session_id = s.id
WHERE s.status IN ('active', 'ringing')
GROUP BY s.id
HAVING (s.status = 'active' AND COALESCE(MAX(e.at), s.started_at) < unixepoch() * 1000000000 - 3600 * 1000000000)
    OR (s.status = 'ringing' AND s.started_at < unixepoch() * 1000000000 - 86400 * 1000000000);

INSERT INTO session_events (id, session_id, seq, at, kind, payload)
SELECT lower(hex(randomblob(16))), id, last_seq + 1, last_at, 'ended',
       json_object('reason', CASE status WHEN 'ringing' THEN 'nobody answered' ELSE 'everyone left' END)
FROM stuck_sessions;

UPDATE sessions
SET status = 'ended',
    ended_at = (SELECT last_at FROM stuck_sessions WHERE stuck_sessions.id = sessions.id),
    updated_at = (SELECT last_at FROM stuck_sessions WHERE stuck_sessions.id = sessions.id)
WHERE id IN (SELECT id FROM stuck_sessions);

DROP TABLE stuck_sessions;

-- +goose Down
-- The sessions ended here stay ended: nothing is undone.
SELECT 1;
