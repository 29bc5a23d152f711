package calls

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"siteline/media/turn"
	"siteline/storage"
	"siteline/web"
)

// errGrantEnded is why the relay refuses a grant whose call or user is no
// longer live.
var errGrantEnded = errors.New("turn grant no longer holds")

// CheckGrant is the relay's CheckGrant: relay credentials hold while
// their call is open and their user active (a guest: invited to that
// call). The relay asks on every authenticated TURN request and every few
// seconds for its live allocations, so an ended call or a deactivated
// user loses its relay, at every node that relays for it.
func (cs *Service) CheckGrant(g turn.Grant) error {
	ctx, cancel := cs.bounded(5 * time.Second)
	defer cancel()
	s, err := cs.store.Session(ctx, g.Call)
	switch {
	case errors.Is(err, storage.ErrNotFound):
		return fmt.Errorf("call %s: not found: %w", g.Call, errGrantEnded)
	case err != nil:
		return fmt.Errorf("check relay grant of call %s: %w", g.Call, err)
	case s.OrgID != g.Org:
		return fmt.Errorf("call %s: not of organisation %s: %w", g.Call, g.Org, errGrantEnded)
	case s.Status == storage.SessionEnded:
		return fmt.Errorf("call %s has ended: %w", g.Call, errGrantEnded)
	}
	switch {
	case g.User == actorID(web.Actor{Local: true}):
		return nil // the node's own command line
	case strings.HasPrefix(g.User, web.GuestIDPrefix):
		guest, err := cs.store.Guest(ctx, g.User)
		if errors.Is(err, storage.ErrNotFound) || err == nil && guest.SessionID != g.Call {
			return fmt.Errorf("guest %s: not invited to call %s: %w", g.User, g.Call, errGrantEnded)
		}
		if err != nil {
			return fmt.Errorf("check relay grant of guest %s: %w", g.User, err)
		}
		return nil
	}
	u, err := cs.store.User(ctx, g.User)
	switch {
	case errors.Is(err, storage.ErrNotFound):
		return fmt.Errorf("user %s: not found: %w", g.User, errGrantEnded)
	case err != nil:
		return fmt.Errorf("check relay grant of user %s: %w", g.User, err)
	case !u.Active:
		return fmt.Errorf("user %s is deactivated: %w", g.User, errGrantEnded)
	case u.OrgID != g.Org:
		return fmt.Errorf("user %s: not of organisation %s: %w", g.User, g.Org, errGrantEnded)
	}
	return nil
}

// closeRelays closes the relay allocations of a call that ended.
func (cs *Service) closeRelays(callID string) {
	relay := cs.relay()
	if relay == nil {
		return
	}
	if closed := relay.Revoke(func(g turn.Grant) bool { return g.Call == callID }); closed > 0 {
		cs.log.Info("turn allocations of an ended call closed", "call", callID, "allocations", closed)
	}
}
