package node

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"sync"
)

// metaPasswordChange names the user who still has the password generated
// at the organisation's creation: printed on the console and kept in
// InitialPasswordFile, it is known to whoever saw either. That user must
// choose their own before doing anything else. The mark is kept by the node
// that generated the password, the only one that printed or stored it.
const metaPasswordChange = "password_change_required"

// initialPasswordMark caches the mark: it is asked on every authenticated
// request and changes twice in a node's life at most.
type initialPasswordMark struct {
	mu     sync.Mutex
	loaded bool
	userID string
}

// markInitialPassword records that userID must replace the generated
// password.
func (n *Node) markInitialPassword(ctx context.Context, userID string) error {
	return n.setPasswordMark(ctx, userID)
}

func (n *Node) setPasswordMark(ctx context.Context, userID string) error {
	m := &n.passwordMark
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := n.store.SetMeta(ctx, metaPasswordChange, userID); err != nil {
		m.loaded = false
		return fmt.Errorf("set password change mark: %w", err)
	}
	m.loaded, m.userID = true, userID
	return nil
}

// passwordChangeRequired reports whether userID still has the generated
// first password.
func (n *Node) passwordChangeRequired(ctx context.Context, userID string) bool {
	m := &n.passwordMark
	m.mu.Lock()
	defer m.mu.Unlock()
	if !m.loaded {
		id, err := n.meta(ctx, metaPasswordChange)
		if err != nil {
			n.log.Warn("read password change mark", "err", err)
			return false
		}
		m.loaded, m.userID = true, id
	}
	return m.userID != "" && m.userID == userID
}

// firstLogin removes InitialPasswordFile once its user has logged in with
// it: from then on the password only lets them choose another.
func (n *Node) firstLogin(ctx context.Context, userID string) {
	if !n.passwordChangeRequired(ctx, userID) {
		return
	}
	n.removeInitialPasswordFile()
}

// initialPasswordReplaced clears the mark once userID has a password of
// their own (changed by themself or set by an administrator).
func (n *Node) initialPasswordReplaced(ctx context.Context, userID string) error {
	if !n.passwordChangeRequired(ctx, userID) {
		return nil
	}
	n.removeInitialPasswordFile()
	return n.setPasswordMark(ctx, "")
}

func (n *Node) removeInitialPasswordFile() {
	if err := os.Remove(n.cfg.path(InitialPasswordFile)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		n.log.Warn("remove initial password file", "err", err)
	}
}
