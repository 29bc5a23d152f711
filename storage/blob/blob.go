// Package blob keeps the bytes of session media (snapshots, files,
// recordings), content-addressed: a blob's key is the hex SHA-256 of its
// bytes, computed while they stream in. FS keeps them on the local disk,
// S3 in a bucket of any S3-compatible object store; both are a Store.
package blob

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"siteline/storage"
)

// Store keeps blobs by key. A key, once returned by a Put, names complete
// bytes that survive a crash of the node: callers write the database row
// that refers to a blob only after that, so there is never a row without
// its bytes, at worst bytes without a row (an orphan, which a sweep
// removes once Keys lists it as old enough).
//
// A blob goes when no live row refers to it any more (Remove). A blob
// written by PutHeld is held until its writer has committed its row, and a
// removal never takes bytes a writer is storing or holding.
type Store interface {
	// Put streams r into the store and returns the blob's key and size.
	// More than max bytes (max > 0) is storage.ErrBlobTooLarge and stores
	// nothing.
	Put(r io.Reader, max int64) (storage.Blob, error)
	// PutHeld stores r as Put does and holds the blob against removal
	// until release is called.
	PutHeld(r io.Reader, max int64) (b storage.Blob, release func(), err error)
	// PutKey stores the bytes of a blob whose key is known (copied from
	// another node), and nothing when they hash to anything else
	// (storage.ErrBlobMismatch).
	PutKey(r io.Reader, max int64, key string) (storage.Blob, error)
	// Adopt moves a finished file (a recording) into the store; the file
	// is gone from path afterwards. sum is its SHA-256 as its writer
	// computed it; the file is hashed again when sum is not a valid key.
	Adopt(path, sum string) (storage.Blob, error)
	// Open opens a blob for reading; a blob not stored is os.ErrNotExist.
	Open(key string) (Object, error)
	// Has reports whether blob key is stored (false too when the store
	// cannot be asked now).
	Has(key string) bool
	// Remove removes blob key unless it is held by a writer or live says a
	// live row still refers to it, and reports whether it removed it. A
	// blob not stored is not an error (removed false). No write of the
	// same key slips between live and the removal.
	Remove(key string, live func(key string) (bool, error)) (bool, error)
	// Keys lists the keys of the blobs last written before before, for a
	// sweep.
	Keys(before time.Time) ([]string, error)
}

// Object is a stored blob opened for reading: its bytes at any offset
// (a byte range of a recording a player seeks to), and their number.
type Object interface {
	io.ReaderAt
	io.Closer
	Size() int64
}

// spool streams r into a new temporary file in dir, hashing it on the
// way, and returns the file (synced, closed), the bytes' key and their
// number. More than max bytes (max > 0) is storage.ErrBlobTooLarge. On an
// error nothing is left in dir.
func spool(dir string, r io.Reader, max int64) (path, key string, n int64, err error) {
	tmp, err := os.CreateTemp(dir, TempPrefix+"*")
	if err != nil {
		return "", "", 0, fmt.Errorf("store blob: %w", err)
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	h := sha256.New()
	src := r
	if max > 0 {
		src = io.LimitReader(r, max+1)
	}
	if n, err = io.Copy(io.MultiWriter(tmp, h), src); err != nil {
		return "", "", 0, fmt.Errorf("store blob: %w", err)
	}
	if max > 0 && n > max {
		return "", "", 0, fmt.Errorf("store blob: %w of %d bytes", storage.ErrBlobTooLarge, max)
	}
	if err = tmp.Sync(); err != nil {
		return "", "", 0, fmt.Errorf("store blob: %w", err)
	}
	if err = tmp.Close(); err != nil {
		return "", "", 0, fmt.Errorf("store blob: %w", err)
	}
	return tmp.Name(), hex.EncodeToString(h.Sum(nil)), n, nil
}

// mismatch is the error of bytes stored under want that hash to got.
func mismatch(want, got string) error {
	return fmt.Errorf("store blob %s: %w (got %s)", want, storage.ErrBlobMismatch, got)
}

// holds counts the writers holding each key against removal; the caller
// holds the store's mutex.
type holds map[string]int

func (h holds) add(key string) { h[key]++ }

func (h holds) drop(key string) {
	if h[key]--; h[key] <= 0 {
		delete(h, key)
	}
}

// cleanTemps removes the temporary files a crash left in dir.
func cleanTemps(dir string) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), TempPrefix) {
			_ = os.Remove(filepath.Join(dir, e.Name()))
		}
	}
	return nil
}
