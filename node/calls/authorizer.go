package calls

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"siteline/media/sfu"
	"siteline/storage"
	"siteline/web"
)

// Users finds a user in the site store.
type Users interface {
	User(ctx context.Context, id string) (storage.User, error)
}

// GuestCheckFunc decides an in-call permission of a guest: the grants of
// the invitation that admitted them.
type GuestCheckFunc func(guestID, permission string) error

// Authorizer is the SFU's Authorizer: the policy enforcer, asked about
// the participant's user in that user's organisation (OrgID when the user
// is not in the store); a guest's grants come from their invitation.
type Authorizer struct {
	// Context bounds the store's reads; Background when nil.
	Context  context.Context
	Users    Users
	Enforcer Enforcer
	Guests   GuestCheckFunc
	OrgID    string
}

var _ sfu.Authorizer = Authorizer{}

// Check decides permission of userID.
func (c Authorizer) Check(userID, permission string) error {
	if strings.HasPrefix(userID, web.GuestIDPrefix) {
		return c.Guests(userID, permission)
	}
	ctx := c.Context
	if ctx == nil {
		ctx = context.Background()
	}
	orgID := c.OrgID
	if u, err := c.Users.User(ctx, userID); err == nil {
		orgID = u.OrgID
	} else if !errors.Is(err, storage.ErrNotFound) {
		return fmt.Errorf("check %s of user %s: %w", permission, userID, err)
	}
	return c.Enforcer.Check(orgID, userID, permission)
}
