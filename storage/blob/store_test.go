package blob

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"siteline/internal/s3test"
	"siteline/storage"
)

// The blob suite: every test runs against each store, the local disk and
// a real S3 server (versitygw, started by the test on loopback).

// harness is a store under test and a look behind it.
type harness struct {
	store Store
	// stored lists the keys the store's backing storage holds, failing
	// the test on anything else there (a temporary file or object).
	stored func(t *testing.T) []string
	// age sets the time blob key was last written.
	age func(t *testing.T, key string, at time.Time)
}

func eachStore(t *testing.T, test func(t *testing.T, h harness)) {
	t.Run("fs", func(t *testing.T) { test(t, fsHarness(t)) })
	t.Run("s3", func(t *testing.T) { test(t, s3Harness(t)) })
}

func fsHarness(t *testing.T) harness {
	dir := t.TempDir()
	fs, err := OpenFS(dir)
	if err != nil {
		t.Fatal(err)
	}
	return harness{
		store: fs,
		stored: func(t *testing.T) []string {
			t.Helper()
			return dirKeys(t, dir)
		},
		age: func(t *testing.T, key string, at time.Time) {
			t.Helper()
			if err := os.Chtimes(fs.Path(key), at, at); err != nil {
				t.Fatal(err)
			}
		},
	}
}

// s3Prefix is where the suite's objects go in their bucket.
const s3Prefix = "plant-7/media/"

func s3Harness(t *testing.T) harness {
	srv := s3test.Start(t)
	bucket := srv.Bucket(t)
	spoolDir := t.TempDir()
	s, err := OpenS3(context.Background(), S3Config{
		Endpoint: srv.Endpoint, Bucket: bucket, Region: s3test.Region, Prefix: s3Prefix,
		AccessKey: srv.AccessKey, SecretKey: Secret(srv.SecretKey), SpoolDir: spoolDir,
	})
	if err != nil {
		t.Fatal(err)
	}
	return harness{
		store: s,
		stored: func(t *testing.T) []string {
			t.Helper()
			var keys []string
			for _, name := range srv.Objects(t, bucket, "") {
				key, ok := strings.CutPrefix(name, s3Prefix)
				if !ok || !storage.ValidBlobKey(key) {
					t.Errorf("object %q in the bucket is no blob", name)
				}
				keys = append(keys, key)
			}
			if left := dirKeys(t, spoolDir); len(left) > 0 {
				t.Errorf("spool directory holds %v", left)
			}
			return keys
		},
		age: func(t *testing.T, key string, at time.Time) {
			t.Helper()
			// The server keeps an object as a file, its time the object's.
			if err := os.Chtimes(filepath.Join(srv.Dir, bucket, s3Prefix+key), at, at); err != nil {
				t.Fatal(err)
			}
		},
	}
}

// dirKeys lists a directory's files, failing on a temporary one.
func dirKeys(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), TempPrefix) {
			t.Errorf("temporary file %s left in %s", e.Name(), dir)
			continue
		}
		names = append(names, e.Name())
	}
	return names
}

func assertStored(t *testing.T, h harness, keys ...string) {
	t.Helper()
	got := h.stored(t)
	slices.Sort(got)
	keys = slices.Sorted(slices.Values(keys))
	if !slices.Equal(got, keys) {
		t.Errorf("stored = %v, want %v", got, keys)
	}
}

func keyOf(data []byte) string {
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])
}

func randomBytes(t *testing.T, n int) []byte {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

// TestStorePutOpen: a blob streams in under the SHA-256 of its bytes and
// reads back whole or by ranges, in order or not; a blob over its limit
// or one whose writer fails leaves nothing.
func TestStorePutOpen(t *testing.T) {
	eachStore(t, func(t *testing.T, h harness) {
		// Larger than one part of a multipart upload (16 MiB).
		data := randomBytes(t, 17<<20+123)
		key := keyOf(data)
		got, err := h.store.Put(bytes.NewReader(data), int64(len(data)))
		if err != nil {
			t.Fatal(err)
		}
		if got != (storage.Blob{Key: key, Size: int64(len(data))}) {
			t.Fatalf("put = %+v, want key %s size %d", got, key, len(data))
		}
		// The same bytes again: the same key, still one blob.
		if again, err := h.store.Put(bytes.NewReader(data), 0); err != nil || again != got {
			t.Fatalf("second put = %+v, %v", again, err)
		}
		assertStored(t, h, key)

		o, err := h.store.Open(key)
		if err != nil {
			t.Fatal(err)
		}
		defer o.Close()
		if o.Size() != int64(len(data)) {
			t.Errorf("size = %d, want %d", o.Size(), len(data))
		}
		whole, err := io.ReadAll(io.NewSectionReader(o, 0, o.Size()))
		if err != nil || !bytes.Equal(whole, data) {
			t.Fatalf("read back %d bytes (%v), want the %d stored", len(whole), err, len(data))
		}
		// Ranges as a player asks for them: forward, back, the tail.
		for _, r := range [][2]int64{{5 << 20, 1000}, {100, 1 << 20}, {int64(len(data)) - 10, 10}, {0, 1}} {
			got, err := io.ReadAll(io.NewSectionReader(o, r[0], r[1]))
			if err != nil || !bytes.Equal(got, data[r[0]:r[0]+r[1]]) {
				t.Errorf("range %d+%d: %d bytes, %v", r[0], r[1], len(got), err)
			}
		}
		tail := make([]byte, 20)
		if n, err := o.ReadAt(tail, int64(len(data))-5); n != 5 || err != io.EOF || !bytes.Equal(tail[:5], data[len(data)-5:]) {
			t.Errorf("read over the end = %d, %v", n, err)
		}
		if n, err := o.ReadAt(tail, int64(len(data))); n != 0 || err != io.EOF {
			t.Errorf("read at the end = %d, %v", n, err)
		}

		// Over the limit: an error, and nothing left behind.
		_, err = h.store.Put(bytes.NewReader(append(data[:1000:1000], '!')), 1000)
		if !errors.Is(err, storage.ErrBlobTooLarge) {
			t.Errorf("put over the limit = %v, want storage.ErrBlobTooLarge", err)
		}
		// A writer that fails midway: an error, and nothing left behind.
		broken := io.MultiReader(bytes.NewReader(data[:4096]), iotestErr{})
		if _, err := h.store.Put(broken, 0); err == nil || !strings.Contains(err.Error(), "connection reset") {
			t.Errorf("put of a failing reader = %v", err)
		}
		assertStored(t, h, key)

		for _, bad := range []string{"", "../secret", strings.Repeat("A", 64), strings.Repeat("0", 63)} {
			if _, err := h.store.Open(bad); err == nil {
				t.Errorf("open(%q) succeeded", bad)
			}
		}
		missing := keyOf([]byte("never stored"))
		if _, err := h.store.Open(missing); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("open of a missing blob = %v, want os.ErrNotExist", err)
		}
		if h.store.Has(missing) || !h.store.Has(key) {
			t.Errorf("Has(missing) = %v, Has(stored) = %v", h.store.Has(missing), h.store.Has(key))
		}
	})
}

type iotestErr struct{}

func (iotestErr) Read([]byte) (int, error) { return 0, errors.New("connection reset by peer") }

// TestStorePutKey: bytes copied from another node are kept under the key
// they were asked by only when they hash to it; a wrong key or wrong bytes
// keep nothing.
func TestStorePutKey(t *testing.T) {
	eachStore(t, func(t *testing.T, h harness) {
		data := []byte("a plant's photo")
		key := keyOf(data)
		if _, err := h.store.PutKey(bytes.NewReader([]byte("other bytes")), 0, key); !errors.Is(err, storage.ErrBlobMismatch) {
			t.Errorf("PutKey with other bytes = %v, want storage.ErrBlobMismatch", err)
		}
		if _, err := h.store.PutKey(bytes.NewReader(data), 0, "../"+key[3:]); err == nil || !strings.Contains(err.Error(), "not a SHA-256 key") {
			t.Errorf("PutKey under a bad key = %v, want a refusal", err)
		}
		if _, err := h.store.PutKey(bytes.NewReader(data), 4, key); !errors.Is(err, storage.ErrBlobTooLarge) {
			t.Errorf("PutKey over the limit = %v, want storage.ErrBlobTooLarge", err)
		}
		assertStored(t, h)
		got, err := h.store.PutKey(bytes.NewReader(data), int64(len(data)), key)
		if err != nil || got != (storage.Blob{Key: key, Size: int64(len(data))}) {
			t.Fatalf("PutKey = %+v, %v", got, err)
		}
		assertStored(t, h, key)
	})
}

// TestStoreAdopt: a finished recording moves in under its hash, whether
// or not its writer gave one, and its file goes.
func TestStoreAdopt(t *testing.T) {
	eachStore(t, func(t *testing.T, h harness) {
		root := t.TempDir()
		var keys []string
		for _, given := range []bool{true, false} {
			data := randomBytes(t, 3000)
			key := keyOf(data)
			src := filepath.Join(root, "rec.webm")
			if err := os.WriteFile(src, data, 0o600); err != nil {
				t.Fatal(err)
			}
			hint := ""
			if given {
				hint = key
			}
			got, err := h.store.Adopt(src, hint)
			if err != nil {
				t.Fatal(err)
			}
			if got != (storage.Blob{Key: key, Size: int64(len(data))}) {
				t.Errorf("adopt = %+v, want %s", got, key)
			}
			if _, err := os.Stat(src); !os.IsNotExist(err) {
				t.Errorf("source still there after adopt: %v", err)
			}
			o, err := h.store.Open(key)
			if err != nil {
				t.Fatal(err)
			}
			if stored, err := io.ReadAll(io.NewSectionReader(o, 0, o.Size())); err != nil || !bytes.Equal(stored, data) {
				t.Errorf("adopted bytes differ (%v)", err)
			}
			o.Close()
			keys = append(keys, key)
		}
		if _, err := h.store.Adopt(filepath.Join(root, "missing.webm"), ""); err == nil {
			t.Error("adopt of a missing file succeeded")
		}
		assertStored(t, h, keys...)
	})
}

// TestStoreRemove: a blob goes only when no live row refers to it and no
// writer holds it; Keys lists the blobs by the time of their last write.
func TestStoreRemove(t *testing.T) {
	eachStore(t, func(t *testing.T, h harness) {
		b := h.store
		a, err := b.Put(strings.NewReader("blob a"), 0)
		if err != nil {
			t.Fatal(err)
		}
		live := map[string]bool{a.Key: true}
		isLive := func(key string) (bool, error) { return live[key], nil }

		if gone, err := b.Remove(a.Key, isLive); err != nil || gone {
			t.Errorf("Remove of a live blob = %v, %v", gone, err)
		}
		assertStored(t, h, a.Key)
		if _, err := b.Remove(a.Key, func(string) (bool, error) { return false, errors.New("disk gone") }); err == nil {
			t.Error("Remove with a failing check succeeded")
		}
		assertStored(t, h, a.Key)
		if _, err := b.Remove("../x", isLive); err == nil {
			t.Error("Remove of a bad key succeeded")
		}

		// Held by a writer that has not written its row yet: kept until it
		// lets go, even though no row refers to it.
		held, release, err := b.PutHeld(strings.NewReader("blob a"), 0)
		if err != nil || held.Key != a.Key {
			t.Fatalf("PutHeld = %+v, %v", held, err)
		}
		live[a.Key] = false
		if gone, err := b.Remove(a.Key, isLive); err != nil || gone {
			t.Errorf("Remove of a held blob = %v, %v", gone, err)
		}
		release()
		release() // twice is once
		if gone, err := b.Remove(a.Key, isLive); err != nil || !gone {
			t.Errorf("Remove once released = %v, %v", gone, err)
		}
		assertStored(t, h)
		if _, err := b.Open(a.Key); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("open of a removed blob = %v, want os.ErrNotExist", err)
		}
		if gone, err := b.Remove(a.Key, isLive); err != nil || gone {
			t.Errorf("Remove of a blob not stored = %v, %v", gone, err)
		}

		// Keys: blobs last written before the time asked.
		old, _ := b.Put(strings.NewReader("old"), 0)
		fresh, _ := b.Put(strings.NewReader("fresh"), 0)
		h.age(t, old.Key, time.Now().Add(-2*time.Hour))
		hour := time.Now().Add(-time.Hour)
		if keys, err := b.Keys(hour); err != nil || strings.Join(keys, " ") != old.Key {
			t.Errorf("Keys(an hour ago) = %v, %v; want %s", keys, err, old.Key)
		}
		if keys, _ := b.Keys(time.Now().Add(time.Minute)); len(keys) != 2 || !slices.Contains(keys, fresh.Key) {
			t.Errorf("Keys(now) = %v, want old and fresh", keys)
		}
		// The same bytes written again count from the new write.
		if _, err := b.Put(strings.NewReader("old"), 0); err != nil {
			t.Fatal(err)
		}
		if keys, _ := b.Keys(hour); len(keys) != 0 {
			t.Errorf("Keys(an hour ago) after a rewrite = %v, want none", keys)
		}
	})
}

// TestStoreHeldAgainstRemoval: writers storing the same bytes while a
// sweep removes them as fast as it can never find their blob gone
// between their write and their release.
func TestStoreHeldAgainstRemoval(t *testing.T) {
	eachStore(t, func(t *testing.T, h harness) {
		data := []byte("the same snapshot, shared again and again")
		key := keyOf(data)
		stop := make(chan struct{})
		var sweeps sync.WaitGroup
		sweeps.Add(1)
		go func() {
			defer sweeps.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				if _, err := h.store.Remove(key, func(string) (bool, error) { return false, nil }); err != nil {
					t.Errorf("remove: %v", err)
					return
				}
			}
		}()
		var writers sync.WaitGroup
		for w := 0; w < 3; w++ {
			writers.Add(1)
			go func() {
				defer writers.Done()
				for i := 0; i < 15; i++ {
					b, release, err := h.store.PutHeld(bytes.NewReader(data), 0)
					if err != nil {
						t.Errorf("put: %v", err)
						return
					}
					o, err := h.store.Open(b.Key)
					if err != nil {
						t.Errorf("a held blob went: %v", err)
						release()
						return
					}
					o.Close()
					release()
				}
			}()
		}
		writers.Wait()
		close(stop)
		sweeps.Wait()
		// Nobody holds it now: the sweep may take it.
		if _, err := h.store.Remove(key, func(string) (bool, error) { return false, nil }); err != nil {
			t.Fatal(err)
		}
		assertStored(t, h)
	})
}
