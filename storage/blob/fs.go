// Package blob keeps the bytes of session media (snapshots, files,
// recordings), content-addressed: a blob's key is the hex SHA-256 of its
// bytes. FS keeps them on the local disk; other stores (S3) sit beside it.
package blob

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"siteline/storage"
)

// TempPrefix starts the name of a blob being written. A file with it was
// never acknowledged; one left by a crash is removed when the store opens.
const TempPrefix = ".tmp-"

// FS keeps blobs as files in one directory of the local disk, each named
// by its key. A blob is written to a temporary file in the same directory,
// synced, renamed to its key and the directory synced, so that a key, once
// returned, names complete bytes that survive a crash. Callers write the
// database row only after that: there is never a row without its bytes,
// at worst bytes without a row (an orphan, which a sweep may remove).
type FS struct {
	dir string
}

// OpenFS opens (creating it if needed) the store in dir and removes the
// temporary files a crash left there.
func OpenFS(dir string) (*FS, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("open media store %s: %w", dir, err)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("open media store %s: %w", dir, err)
	}
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), TempPrefix) {
			_ = os.Remove(filepath.Join(dir, e.Name()))
		}
	}
	return &FS{dir: dir}, nil
}

// Dir is the store's directory.
func (b *FS) Dir() string { return b.dir }

// Path is where blob key is (or would be) stored.
func (b *FS) Path(key string) string { return filepath.Join(b.dir, key) }

// Has reports whether blob key is stored.
func (b *FS) Has(key string) bool {
	_, err := os.Stat(b.Path(key))
	return err == nil
}

// Put streams r into the store and returns the blob's key and size. More
// than max bytes (max > 0) is storage.ErrBlobTooLarge and stores nothing.
func (b *FS) Put(r io.Reader, max int64) (storage.Blob, error) {
	return b.write(r, max, "")
}

// PutKey stores the bytes of a blob whose key is known (copied from
// another node) and stores nothing if they hash to anything else
// (storage.ErrBlobMismatch).
func (b *FS) PutKey(r io.Reader, max int64, key string) (storage.Blob, error) {
	if !storage.ValidBlobKey(key) {
		return storage.Blob{}, fmt.Errorf("store blob %q: not a SHA-256 key", key)
	}
	return b.write(r, max, key)
}

// write stores r, checking its key against want unless want is "".
func (b *FS) write(r io.Reader, max int64, want string) (storage.Blob, error) {
	tmp, err := os.CreateTemp(b.dir, TempPrefix+"*")
	if err != nil {
		return storage.Blob{}, fmt.Errorf("store blob: %w", err)
	}
	committed := false
	defer func() {
		if !committed {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	h := sha256.New()
	src := r
	if max > 0 {
		src = io.LimitReader(r, max+1)
	}
	n, err := io.Copy(io.MultiWriter(tmp, h), src)
	if err != nil {
		return storage.Blob{}, fmt.Errorf("store blob: %w", err)
	}
	if max > 0 && n > max {
		return storage.Blob{}, fmt.Errorf("store blob: %w of %d bytes", storage.ErrBlobTooLarge, max)
	}
	if err := tmp.Sync(); err != nil {
		return storage.Blob{}, fmt.Errorf("store blob: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return storage.Blob{}, fmt.Errorf("store blob: %w", err)
	}
	key := hex.EncodeToString(h.Sum(nil))
	if want != "" && key != want {
		return storage.Blob{}, fmt.Errorf("store blob %s: %w (got %s)", want, storage.ErrBlobMismatch, key)
	}
	if err := b.commit(tmp.Name(), key); err != nil {
		return storage.Blob{}, err
	}
	committed = true
	return storage.Blob{Key: key, Size: n}, nil
}

// Adopt moves a finished, synced file (a recording) into the store. sum is
// its SHA-256 as its writer computed it; the file is hashed again when sum
// is not a valid key. A file on another file system is copied.
func (b *FS) Adopt(path, sum string) (storage.Blob, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return storage.Blob{}, fmt.Errorf("adopt %s: %w", path, err)
	}
	if !fi.Mode().IsRegular() {
		return storage.Blob{}, fmt.Errorf("adopt %s: not a regular file", path)
	}
	if !storage.ValidBlobKey(sum) {
		if sum, err = hashFile(path); err != nil {
			return storage.Blob{}, fmt.Errorf("adopt %s: %w", path, err)
		}
	}
	if err := b.commit(path, sum); err != nil {
		if !isCrossDevice(err) {
			return storage.Blob{}, fmt.Errorf("adopt %s: %w", path, err)
		}
		f, err := os.Open(path)
		if err != nil {
			return storage.Blob{}, fmt.Errorf("adopt %s: %w", path, err)
		}
		defer f.Close()
		out, err := b.Put(f, 0)
		if err != nil {
			return storage.Blob{}, fmt.Errorf("adopt %s: %w", path, err)
		}
		_ = os.Remove(path)
		return out, nil
	}
	return storage.Blob{Key: sum, Size: fi.Size()}, nil
}

// commit renames a synced file to key and syncs the directory. When key is
// already stored the bytes are the same, and the file is removed instead.
func (b *FS) commit(path, key string) error {
	final := b.Path(key)
	if _, err := os.Stat(final); err == nil {
		if err := os.Remove(path); err != nil {
			return fmt.Errorf("store blob %s: %w", key, err)
		}
		return nil
	}
	if err := os.Rename(path, final); err != nil {
		return fmt.Errorf("store blob %s: %w", key, err)
	}
	if err := syncDir(b.dir); err != nil {
		return fmt.Errorf("store blob %s: %w", key, err)
	}
	return nil
}

// Open opens a blob for reading.
func (b *FS) Open(key string) (*os.File, error) {
	if !storage.ValidBlobKey(key) {
		return nil, fmt.Errorf("open blob %q: not a SHA-256 key", key)
	}
	f, err := os.Open(b.Path(key))
	if err != nil {
		return nil, fmt.Errorf("open blob %s: %w", key, err)
	}
	return f, nil
}

// syncDir makes a directory's entries (a rename into it) durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

func hashFile(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// isCrossDevice reports a rename across file systems.
func isCrossDevice(err error) bool { return errors.Is(err, syscall.EXDEV) }
