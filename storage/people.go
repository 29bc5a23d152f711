package storage

import (
	"context"
	"time"
)

// PeopleReader reads what the members list shows of each user besides the
// user record: the labels applied to them (organisation data), their last
// login and the last session they took part in. Logins are kept at the
// node where they happened (site data): a login at a plant is not proposed
// through the replicated log, and the list shows the latest known at the
// node that answers.
type PeopleReader interface {
	// UserLabels maps each user of the organisation to the ids of their
	// labels.
	UserLabels(ctx context.Context, orgID string) (map[string][]string, error)
	// LastLogins maps each user of the organisation who logged in at this
	// node to the time of their latest login.
	LastLogins(ctx context.Context, orgID string) (map[string]time.Time, error)
	// LastCalls maps each user of the organisation who took part in a
	// session known here to the time they last joined one.
	LastCalls(ctx context.Context, orgID string) (map[string]time.Time, error)
}

// LoginRecorder keeps the time of a user's latest login at this node.
type LoginRecorder interface {
	RecordLogin(ctx context.Context, userID string, at time.Time) error
}
