package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"siteline/storage"
)

// OrgUsers lists an organisation's users from where organisation data
// lives (the node's SQLite store; storage.OrgReader has this method).
// LastCalls needs it: who belongs to an organisation is not site history.
type OrgUsers interface {
	Users(ctx context.Context, orgID string) ([]storage.User, error)
}

// errNoUsers: the store was opened without Options.Users.
var errNoUsers = errors.New("the store cannot list an organisation's users: it was opened without Options.Users")

// LastCalls maps the users of an organisation (as Options.Users lists
// them) to the time they last joined a session known here, whatever the
// session's organisation, as storage/sqlite computes it. Each user's
// latest join is read from the (user_id, joined_at) index.
func (s *Store) LastCalls(ctx context.Context, orgID string) (map[string]time.Time, error) {
	if s.users == nil {
		return nil, fmt.Errorf("last calls of org %s: %w", orgID, errNoUsers)
	}
	users, err := s.users.Users(ctx, orgID)
	if err != nil {
		return nil, fmt.Errorf("last calls of org %s: read its users: %w", orgID, err)
	}
	ids := make([]string, len(users))
	for i, u := range users {
		ids[i] = u.ID
	}
	rows, _ := s.pool.Query(ctx, `SELECT u.id, (SELECT max(p.joined_at) FROM session_participants p WHERE p.user_id = u.id)
		FROM unnest($1::text[]) AS u(id)`, ids)
	out := map[string]time.Time{}
	var user string
	var at *int64
	_, err = pgx.ForEachRow(rows, []any{&user, &at}, func() error {
		if at != nil {
			out[user] = timeOf(at)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("last calls of org %s: %w", orgID, err)
	}
	return out, nil
}
