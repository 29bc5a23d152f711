package node

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

// blobTempPrefix starts the name of a blob being written. A file with it
// was never acknowledged; one left by a crash is removed when the store
// opens.
const blobTempPrefix = ".tmp-"

// blobStore keeps session media (snapshots, files, recordings) as files in
// one directory of the local disk, content-addressed: a blob's key is the
// hex SHA-256 of its bytes and its file name. A blob is written to a
// temporary file in the same directory, synced, renamed to its key and the
// directory synced, so that a key, once returned, names complete bytes
// that survive a crash. Callers write the database row only after that:
// there is never a row without its bytes, at worst bytes without a row
// (an orphan, which a sweep may remove).
type blobStore struct {
	dir string
}

// blob is a stored blob's key and size.
type blob struct {
	Key  string
	Size int64
}

// errBlobTooLarge is returned by put when the bytes exceed its limit.
var errBlobTooLarge = errors.New("blob exceeds the size limit")

// openBlobStore opens (creating it if needed) the store in dir and removes
// the temporary files a crash left there.
func openBlobStore(dir string) (*blobStore, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("open media store %s: %w", dir, err)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("open media store %s: %w", dir, err)
	}
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), blobTempPrefix) {
			_ = os.Remove(filepath.Join(dir, e.Name()))
		}
	}
	return &blobStore{dir: dir}, nil
}

func (b *blobStore) path(key string) string { return filepath.Join(b.dir, key) }

// put streams r into the store and returns the blob's key and size. More
// than max bytes (max > 0) is errBlobTooLarge and stores nothing.
func (b *blobStore) put(r io.Reader, max int64) (blob, error) {
	return b.write(r, max, "")
}

// errBlobMismatch is returned by putKey when the bytes are not the ones
// the key names.
var errBlobMismatch = errors.New("the bytes do not match their SHA-256")

// putKey stores the bytes of a blob whose key is known (copied from
// another node) and stores nothing if they hash to anything else.
func (b *blobStore) putKey(r io.Reader, max int64, key string) (blob, error) {
	if !storage.ValidBlobKey(key) {
		return blob{}, fmt.Errorf("store blob %q: not a SHA-256 key", key)
	}
	return b.write(r, max, key)
}

// write stores r, checking its key against want unless want is "".
func (b *blobStore) write(r io.Reader, max int64, want string) (blob, error) {
	tmp, err := os.CreateTemp(b.dir, blobTempPrefix+"*")
	if err != nil {
		return blob{}, fmt.Errorf("store blob: %w", err)
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
		return blob{}, fmt.Errorf("store blob: %w", err)
	}
	if max > 0 && n > max {
		return blob{}, fmt.Errorf("store blob: %w of %d bytes", errBlobTooLarge, max)
	}
	if err := tmp.Sync(); err != nil {
		return blob{}, fmt.Errorf("store blob: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return blob{}, fmt.Errorf("store blob: %w", err)
	}
	key := hex.EncodeToString(h.Sum(nil))
	if want != "" && key != want {
		return blob{}, fmt.Errorf("store blob %s: %w (got %s)", want, errBlobMismatch, key)
	}
	if err := b.commit(tmp.Name(), key); err != nil {
		return blob{}, err
	}
	committed = true
	return blob{Key: key, Size: n}, nil
}

// adopt moves a finished, synced file (a recording) into the store. sum is
// its SHA-256 as its writer computed it; the file is hashed again when sum
// is not a valid key. A file on another file system is copied.
func (b *blobStore) adopt(path, sum string) (blob, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return blob{}, fmt.Errorf("adopt %s: %w", path, err)
	}
	if !fi.Mode().IsRegular() {
		return blob{}, fmt.Errorf("adopt %s: not a regular file", path)
	}
	if !storage.ValidBlobKey(sum) {
		if sum, err = hashFile(path); err != nil {
			return blob{}, fmt.Errorf("adopt %s: %w", path, err)
		}
	}
	if err := b.commit(path, sum); err != nil {
		if !isCrossDevice(err) {
			return blob{}, fmt.Errorf("adopt %s: %w", path, err)
		}
		f, err := os.Open(path)
		if err != nil {
			return blob{}, fmt.Errorf("adopt %s: %w", path, err)
		}
		defer f.Close()
		out, err := b.put(f, 0)
		if err != nil {
			return blob{}, fmt.Errorf("adopt %s: %w", path, err)
		}
		_ = os.Remove(path)
		return out, nil
	}
	return blob{Key: sum, Size: fi.Size()}, nil
}

// commit renames a synced file to key and syncs the directory. When key is
// already stored the bytes are the same, and the file is removed instead.
func (b *blobStore) commit(path, key string) error {
	final := b.path(key)
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

// open opens a blob for reading.
func (b *blobStore) open(key string) (*os.File, error) {
	if !storage.ValidBlobKey(key) {
		return nil, fmt.Errorf("open blob %q: not a SHA-256 key", key)
	}
	f, err := os.Open(b.path(key))
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
