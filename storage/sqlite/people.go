package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"siteline/storage"
)

var (
	_ storage.PeopleReader  = (*Store)(nil)
	_ storage.LoginRecorder = (*Store)(nil)
)

// setUserLabels replaces the labels of user id with labelIDs, each of the
// user's organisation.
func setUserLabels(ctx context.Context, q querier, id string, labelIDs []string) error {
	orgID, err := orgOf(ctx, q, "user", "users", id)
	if err != nil {
		return err
	}
	if err := exec(ctx, q, "DELETE FROM user_labels WHERE user_id = ?", id); err != nil {
		return err
	}
	for _, l := range labelIDs {
		if err := requireSameOrg(ctx, q, "label", "labels", l, orgID); err != nil {
			return err
		}
		if err := exec(ctx, q, "INSERT INTO user_labels (user_id, label_id) VALUES (?, ?) ON CONFLICT DO NOTHING", id, l); err != nil {
			return err
		}
	}
	return nil
}

// UserLabels maps the users of an organisation to their label ids.
func (s *Store) UserLabels(ctx context.Context, orgID string) (map[string][]string, error) {
	out := map[string][]string{}
	err := eachRow(ctx, s.read, func(r *sql.Rows) error {
		var user, label string
		if err := r.Scan(&user, &label); err != nil {
			return err
		}
		out[user] = append(out[user], label)
		return nil
	}, `SELECT ul.user_id, ul.label_id FROM user_labels ul JOIN users u ON u.id = ul.user_id
		WHERE u.org_id = ? ORDER BY ul.user_id, ul.label_id`, orgID)
	if err != nil {
		return nil, fmt.Errorf("labels of the users of org %s: %w", orgID, err)
	}
	return out, nil
}

// RecordLogin keeps at as the user's latest login at this node.
func (s *Store) RecordLogin(ctx context.Context, userID string, at time.Time) error {
	if err := required("user_id", userID); err != nil {
		return err
	}
	err := exec(ctx, s.write, `INSERT INTO user_logins (user_id, at) VALUES (?, ?)
		ON CONFLICT (user_id) DO UPDATE SET at = max(at, excluded.at)`, userID, nanos(at))
	if err != nil {
		return fmt.Errorf("record login of user %s: %w", userID, err)
	}
	return nil
}

// LastLogins maps the users of an organisation who logged in at this node
// to their latest login.
func (s *Store) LastLogins(ctx context.Context, orgID string) (map[string]time.Time, error) {
	return s.latest(ctx, "last logins", `SELECT l.user_id, l.at FROM user_logins l JOIN users u ON u.id = l.user_id
		WHERE u.org_id = ?`, orgID)
}

// LastCalls maps the users of an organisation to the time they last joined
// a session known here. Each user's latest join is read from the
// (user_id, joined_at) index.
func (s *Store) LastCalls(ctx context.Context, orgID string) (map[string]time.Time, error) {
	return s.latest(ctx, "last calls", `SELECT id, at FROM (SELECT u.id,
		(SELECT max(p.joined_at) FROM session_participants p WHERE p.user_id = u.id) AS at
		FROM users u WHERE u.org_id = ?) WHERE at IS NOT NULL`, orgID)
}

func (s *Store) latest(ctx context.Context, what, query, orgID string) (map[string]time.Time, error) {
	out := map[string]time.Time{}
	err := eachRow(ctx, s.read, func(r *sql.Rows) error {
		var user string
		var at time.Time
		if err := r.Scan(&user, timeDest{&at}); err != nil {
			return err
		}
		out[user] = at
		return nil
	}, query, orgID)
	if err != nil {
		return nil, fmt.Errorf("%s of org %s: %w", what, orgID, err)
	}
	return out, nil
}

// eachRow calls scan for every row of query.
func eachRow(ctx context.Context, q querier, scan func(*sql.Rows) error, query string, args ...any) error {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		if err := scan(rows); err != nil {
			return err
		}
	}
	return rows.Err()
}
