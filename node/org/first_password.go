package org

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"sync"

	"siteline/storage"
)

// metaPasswordChange names the user who still has the password generated
// at the organisation's creation: printed on the console and kept in a
// file, it is known to whoever saw either. That user must choose their own
// before doing anything else. The mark is kept by the node that generated
// the password, the only one that printed or stored it.
const metaPasswordChange = "password_change_required"

// MetaStore is the node-local key/value table the mark is kept in.
type MetaStore interface {
	Meta(ctx context.Context, key string) (string, error)
	SetMeta(ctx context.Context, key, value string) error
}

// FirstPassword is who must replace the generated first password, and the
// file it is kept in until its first use. It caches the mark: it is asked
// on every authenticated request and changes twice in a node's life at
// most.
type FirstPassword struct {
	store MetaStore
	file  string
	log   *slog.Logger

	mu     sync.Mutex
	loaded bool
	userID string
}

// NewFirstPassword keeps the mark in store; file holds the generated
// password until its user logs in with it.
func NewFirstPassword(store MetaStore, file string, log *slog.Logger) *FirstPassword {
	return &FirstPassword{store: store, file: file, log: log}
}

// Mark records that userID must replace the generated password.
func (m *FirstPassword) Mark(ctx context.Context, userID string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.store.SetMeta(ctx, metaPasswordChange, userID); err != nil {
		m.loaded = false
		return fmt.Errorf("set password change mark: %w", err)
	}
	m.loaded, m.userID = true, userID
	return nil
}

// Required reports whether userID still has the generated first password.
func (m *FirstPassword) Required(ctx context.Context, userID string) bool {
	if m == nil {
		return false
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if !m.loaded {
		id, err := m.store.Meta(ctx, metaPasswordChange)
		if err != nil && !errors.Is(err, storage.ErrNotFound) {
			m.log.Warn("read password change mark", "err", err)
			return false
		}
		m.loaded, m.userID = true, id
	}
	return m.userID != "" && m.userID == userID
}

// loggedIn removes the file once its user has logged in with the
// generated password: from then on it only lets them choose another.
func (m *FirstPassword) loggedIn(ctx context.Context, userID string) {
	if m.Required(ctx, userID) {
		m.removeFile()
	}
}

// replaced clears the mark once userID has a password of their own
// (changed by themself or set by an administrator).
func (m *FirstPassword) replaced(ctx context.Context, userID string) error {
	if !m.Required(ctx, userID) {
		return nil
	}
	m.removeFile()
	return m.Mark(ctx, "")
}

func (m *FirstPassword) removeFile() {
	if err := os.Remove(m.file); err != nil && !errors.Is(err, fs.ErrNotExist) {
		m.log.Warn("remove initial password file", "err", err)
	}
}
