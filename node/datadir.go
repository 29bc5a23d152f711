package node

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// secureDataDir makes the data directory and everything in it its owner's
// alone: directories 0700, regular files 0600, whatever modes they were
// created or left with (a copy restored with other modes, a store that
// created its files 0644). Sockets and symbolic links are left alone, and
// links are not followed. It runs when the node starts, before and after
// its stores open.
func secureDataDir(dir string) error {
	return filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) && path != dir {
				return nil // removed while walking
			}
			return fmt.Errorf("secure data directory: %w", err)
		}
		want := fs.FileMode(0o600)
		switch {
		case d.IsDir():
			want = 0o700
		case !d.Type().IsRegular():
			return nil
		}
		info, err := d.Info()
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("secure data directory: %w", err)
		}
		if info.Mode().Perm() == want {
			return nil
		}
		if err := os.Chmod(path, want); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("secure data directory: %w", err)
		}
		return nil
	})
}

// storeFile is the node's store in its data directory: a directory
// without one holds no node yet.
const storeFile = "siteline.db"

// Exists tells whether dataDir holds a node (created by `siteline init`,
// `serve` or `cluster join`). Commands that change a node ask first, so
// that a mistyped path does not create a new one.
func Exists(dataDir string) (bool, error) {
	_, err := os.Stat(filepath.Join(dataDir, storeFile))
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, fs.ErrNotExist):
		return false, nil
	}
	return false, fmt.Errorf("look for a node in %s: %w", dataDir, err)
}
