package blob

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"time"

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
//
// A blob goes when no live row refers to it any more (Remove): the mutex
// orders removals against writes, and a blob written by PutHeld is held
// until its writer has committed its row, so a removal never takes bytes
// a row is about to refer to.
type FS struct {
	dir string

	mu   sync.Mutex
	held holds // writers between their Put and their row
}

var _ Store = (*FS)(nil)

// OpenFS opens (creating it if needed) the store in dir and removes the
// temporary files a crash left there.
func OpenFS(dir string) (*FS, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("open media store %s: %w", dir, err)
	}
	if err := cleanTemps(dir); err != nil {
		return nil, fmt.Errorf("open media store %s: %w", dir, err)
	}
	return &FS{dir: dir, held: holds{}}, nil
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
	return b.write(r, max, "", false)
}

// PutHeld stores r as Put does and holds the blob against removal until
// release is called: its caller writes the row that refers to it first.
func (b *FS) PutHeld(r io.Reader, max int64) (blob storage.Blob, release func(), err error) {
	blob, err = b.write(r, max, "", true)
	if err != nil {
		return blob, nil, err
	}
	var once sync.Once
	return blob, func() {
		once.Do(func() {
			b.mu.Lock()
			defer b.mu.Unlock()
			b.held.drop(blob.Key)
		})
	}, nil
}

// PutKey stores the bytes of a blob whose key is known (copied from
// another node) and stores nothing if they hash to anything else
// (storage.ErrBlobMismatch).
func (b *FS) PutKey(r io.Reader, max int64, key string) (storage.Blob, error) {
	if !storage.ValidBlobKey(key) {
		return storage.Blob{}, fmt.Errorf("store blob %q: not a SHA-256 key", key)
	}
	return b.write(r, max, key, false)
}

// write stores r, checking its key against want unless want is "", and
// holds it when hold is set.
func (b *FS) write(r io.Reader, max int64, want string, hold bool) (storage.Blob, error) {
	tmp, key, n, err := spool(b.dir, r, max)
	if err != nil {
		return storage.Blob{}, err
	}
	if want != "" && key != want {
		os.Remove(tmp)
		return storage.Blob{}, mismatch(want, key)
	}
	b.mu.Lock()
	err = b.commit(tmp, key)
	if err == nil && hold {
		b.held.add(key)
	}
	b.mu.Unlock()
	if err != nil {
		os.Remove(tmp)
		return storage.Blob{}, err
	}
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
	b.mu.Lock()
	err = b.commit(path, sum)
	b.mu.Unlock()
	if err != nil {
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
// already stored the bytes are the same, and the file is removed instead;
// the stored one's time is set to now, so the sweep's grace period counts
// from the latest write. The caller holds b.mu.
func (b *FS) commit(path, key string) error {
	final := b.Path(key)
	if _, err := os.Stat(final); err == nil {
		if err := os.Remove(path); err != nil {
			return fmt.Errorf("store blob %s: %w", key, err)
		}
		now := time.Now()
		_ = os.Chtimes(final, now, now)
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
func (b *FS) Open(key string) (Object, error) {
	if !storage.ValidBlobKey(key) {
		return nil, fmt.Errorf("open blob %q: not a SHA-256 key", key)
	}
	f, err := os.Open(b.Path(key))
	if err != nil {
		return nil, fmt.Errorf("open blob %s: %w", key, err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("open blob %s: %w", key, err)
	}
	return fileObject{f, fi.Size()}, nil
}

// fileObject is a blob file open for reading.
type fileObject struct {
	*os.File
	size int64
}

func (f fileObject) Size() int64 { return f.size }

// Remove removes blob key unless it is held by a writer or live says a
// live row still refers to it, and reports whether it removed it. A blob
// not stored is not an error (removed false). live runs under the store's
// lock, so no write of the same key slips between it and the removal.
func (b *FS) Remove(key string, live func(key string) (bool, error)) (bool, error) {
	if !storage.ValidBlobKey(key) {
		return false, fmt.Errorf("remove blob %q: not a SHA-256 key", key)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.held[key] > 0 {
		return false, nil
	}
	if _, err := os.Stat(b.Path(key)); errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	inUse, err := live(key)
	if err != nil || inUse {
		return false, err
	}
	if err := os.Remove(b.Path(key)); err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return false, nil
		}
		return false, fmt.Errorf("remove blob %s: %w", key, err)
	}
	if err := syncDir(b.dir); err != nil {
		return true, fmt.Errorf("remove blob %s: %w", key, err)
	}
	return true, nil
}

// Keys lists the keys of the stored blobs last written before before
// (temporary files left out), for a sweep.
func (b *FS) Keys(before time.Time) ([]string, error) {
	entries, err := os.ReadDir(b.dir)
	if err != nil {
		return nil, fmt.Errorf("list media store %s: %w", b.dir, err)
	}
	var out []string
	for _, e := range entries {
		if !e.Type().IsRegular() || !storage.ValidBlobKey(e.Name()) {
			continue
		}
		fi, err := e.Info()
		if err != nil {
			continue // removed meanwhile
		}
		if fi.ModTime().Before(before) {
			out = append(out, e.Name())
		}
	}
	return out, nil
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
