package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"siteline/storage"
)

// CallStats counts, for each of userIDs, the sessions of the organisation
// they joined visibly since the given time (their first join at or after
// it), and averages their handling time over those they left: from their
// first join to their last leave. Users with no call are left out. At
// headquarters the plants' forwarded sessions count too.
func (s *Store) CallStats(ctx context.Context, orgID string, userIDs []string, since time.Time) (map[string]storage.CallStats, error) {
	out := map[string]storage.CallStats{}
	if len(userIDs) == 0 {
		return out, nil
	}
	type row struct {
		user         string
		first, last  time.Time
		open, joined int
	}
	rows, err := collect(ctx, s.read, func(r *sql.Rows) (row, error) {
		var x row
		err := r.Scan(&x.user, timeDest{&x.first}, timeDest{&x.last}, &x.open)
		return x, err
	}, `SELECT p.user_id, MIN(p.joined_at), MAX(COALESCE(p.left_at, 0)), SUM(p.left_at IS NULL)
		FROM session_participants p JOIN sessions s ON s.id = p.session_id
		WHERE s.org_id = ? AND p.hidden = 0 AND p.user_id IN (`+placeholders(len(userIDs))+`)
		GROUP BY p.user_id, p.session_id
		HAVING MIN(p.joined_at) >= ?`, append(append([]any{orgID}, anys(userIDs)...), nanos(since))...)
	if err != nil {
		return nil, fmt.Errorf("call stats of %d users: %w", len(userIDs), err)
	}
	total := map[string]time.Duration{}
	for _, x := range rows {
		st := out[x.user]
		st.Calls++
		if x.open == 0 && x.last.After(x.first) {
			st.Handled++
			total[x.user] += x.last.Sub(x.first)
		}
		out[x.user] = st
	}
	for u, st := range out {
		if st.Handled > 0 {
			st.AvgHandling = total[u] / time.Duration(st.Handled)
			out[u] = st
		}
	}
	return out, nil
}

// OngoingSessions lists the organisation's open sessions (ringing or
// active) in which one of userIDs is now, oldest first, each with the
// people in it now (hidden ones too, marked) and its site's name.
func (s *Store) OngoingSessions(ctx context.Context, orgID string, userIDs []string) ([]storage.OngoingSession, error) {
	if len(userIDs) == 0 {
		return []storage.OngoingSession{}, nil
	}
	list, err := collect(ctx, s.read, func(r *sql.Rows) (storage.OngoingSession, error) {
		var x storage.OngoingSession
		err := r.Scan(&x.ID, &x.OrgID, &x.SiteID, &x.Kind, &x.Name, &x.Goal, &x.Status, &x.CreatedBy,
			timeDest{&x.StartedAt}, &x.SiteName)
		x.Participants = []storage.SessionParticipant{}
		return x, err
	}, `SELECT s.id, s.org_id, s.site_id, s.kind, s.name, s.goal, s.status, s.created_by, s.started_at, COALESCE(si.name, '')
		FROM sessions s LEFT JOIN sites si ON si.id = s.site_id
		WHERE s.org_id = ? AND s.status IN ('ringing', 'active') AND EXISTS (
			SELECT 1 FROM session_participants p WHERE p.session_id = s.id AND p.left_at IS NULL
			AND p.user_id IN (`+placeholders(len(userIDs))+`))
		ORDER BY s.started_at, s.id`, append([]any{orgID}, anys(userIDs)...)...)
	if err != nil || len(list) == 0 {
		if err != nil {
			err = fmt.Errorf("ongoing sessions of %d users: %w", len(userIDs), err)
		}
		return list, err
	}
	ids := make([]string, len(list))
	at := map[string]int{}
	for i, x := range list {
		ids[i], at[x.ID] = x.ID, i
	}
	ps, err := collect(ctx, s.read, func(r *sql.Rows) (storage.SessionParticipant, error) {
		var p storage.SessionParticipant
		err := r.Scan(&p.ID, &p.SessionID, &p.UserID, &p.DisplayName, &p.UserKind, &p.DeviceKind, &p.Hidden, timeDest{&p.JoinedAt})
		return p, err
	}, `SELECT id, session_id, user_id, display_name, user_kind, device_kind, hidden, joined_at
		FROM session_participants WHERE left_at IS NULL AND session_id IN (`+placeholders(len(ids))+`)
		ORDER BY joined_at, id`, anys(ids)...)
	if err != nil {
		return nil, fmt.Errorf("participants of ongoing sessions: %w", err)
	}
	for _, p := range ps {
		x := &list[at[p.SessionID]]
		x.Participants = append(x.Participants, p)
	}
	return list, nil
}
