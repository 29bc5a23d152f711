package blob

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"siteline/storage"
)

func TestFSPut(t *testing.T) {
	dir := t.TempDir()
	b, err := OpenFS(dir)
	if err != nil {
		t.Fatal(err)
	}
	data := bytes.Repeat([]byte("siteline "), 10000)
	sum := sha256.Sum256(data)
	want := hex.EncodeToString(sum[:])

	got, err := b.Put(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	if got.Key != want || got.Size != int64(len(data)) {
		t.Fatalf("put = %+v, want key %s size %d", got, want, len(data))
	}
	stored, err := os.ReadFile(filepath.Join(dir, want))
	if err != nil || !bytes.Equal(stored, data) {
		t.Fatalf("stored bytes differ (%d bytes, %v)", len(stored), err)
	}
	// The same bytes again: the same key, still one file.
	if again, err := b.Put(bytes.NewReader(data), 0); err != nil || again != got {
		t.Fatalf("second put = %+v, %v", again, err)
	}
	assertBlobFiles(t, dir, want)

	// Over the limit: an error, and nothing left behind.
	_, err = b.Put(bytes.NewReader(append(data, '!')), int64(len(data)))
	if !errors.Is(err, storage.ErrBlobTooLarge) {
		t.Fatalf("put over the limit = %v, want storage.ErrBlobTooLarge", err)
	}
	assertBlobFiles(t, dir, want)

	f, err := b.Open(want)
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
	for _, bad := range []string{"", "../secret", strings.Repeat("A", 64), strings.Repeat("0", 63)} {
		if _, err := b.Open(bad); err == nil {
			t.Errorf("open(%q) succeeded", bad)
		}
	}
}

func TestFSAdoptAndSweep(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, "media")
	// A temporary file a crash left behind is removed on open.
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	stale := filepath.Join(dir, TempPrefix+"123")
	if err := os.WriteFile(stale, []byte("half"), 0o600); err != nil {
		t.Fatal(err)
	}
	b, err := OpenFS(dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(stale); !os.IsNotExist(err) {
		t.Errorf("stale temporary file kept: %v", err)
	}

	// A finished recording moves in under its hash, whether or not its
	// writer gave one.
	for _, given := range []bool{true, false} {
		data := []byte("webm bytes " + map[bool]string{true: "a", false: "b"}[given])
		sum := sha256.Sum256(data)
		key := hex.EncodeToString(sum[:])
		src := filepath.Join(root, "rec.webm")
		if err := os.WriteFile(src, data, 0o600); err != nil {
			t.Fatal(err)
		}
		hint := ""
		if given {
			hint = key
		}
		got, err := b.Adopt(src, hint)
		if err != nil {
			t.Fatal(err)
		}
		if got.Key != key || got.Size != int64(len(data)) {
			t.Errorf("adopt = %+v, want %s", got, key)
		}
		if _, err := os.Stat(src); !os.IsNotExist(err) {
			t.Errorf("source still there after adopt: %v", err)
		}
		if stored, _ := os.ReadFile(filepath.Join(dir, key)); !bytes.Equal(stored, data) {
			t.Errorf("adopted bytes differ")
		}
	}
	if _, err := b.Adopt(filepath.Join(root, "missing.webm"), ""); err == nil {
		t.Error("adopt of a missing file succeeded")
	}
}

// TestFSPutKey: bytes copied from another node are kept under the key
// they were asked by only when they hash to it; a wrong key or wrong bytes
// keep nothing.
func TestFSPutKey(t *testing.T) {
	dir := t.TempDir()
	b, err := OpenFS(dir)
	if err != nil {
		t.Fatal(err)
	}
	data := []byte("a plant's photo")
	sum := sha256.Sum256(data)
	key := hex.EncodeToString(sum[:])
	if b.Has(key) {
		t.Fatal("Has before the blob was stored")
	}
	if _, err := b.Open(key); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Open of a missing blob = %v, want os.ErrNotExist", err)
	}

	if _, err := b.PutKey(bytes.NewReader([]byte("other bytes")), 0, key); !errors.Is(err, storage.ErrBlobMismatch) {
		t.Errorf("PutKey with other bytes = %v, want storage.ErrBlobMismatch", err)
	}
	if _, err := b.PutKey(bytes.NewReader(data), 0, "../"+key[3:]); err == nil || !strings.Contains(err.Error(), "not a SHA-256 key") {
		t.Errorf("PutKey under a bad key = %v, want a refusal", err)
	}
	if _, err := b.PutKey(bytes.NewReader(data), 4, key); !errors.Is(err, storage.ErrBlobTooLarge) {
		t.Errorf("PutKey over the limit = %v, want storage.ErrBlobTooLarge", err)
	}
	assertBlobFiles(t, dir)

	got, err := b.PutKey(bytes.NewReader(data), int64(len(data)), key)
	if err != nil || got != (storage.Blob{Key: key, Size: int64(len(data))}) {
		t.Fatalf("PutKey = %+v, %v", got, err)
	}
	if !b.Has(key) || b.Path(key) != filepath.Join(dir, key) || b.Dir() != dir {
		t.Errorf("after PutKey: Has %v, Path %s, Dir %s", b.Has(key), b.Path(key), b.Dir())
	}
	assertBlobFiles(t, dir, key)
}

// assertBlobFiles checks the store holds exactly the named blobs and no
// temporary file.
func assertBlobFiles(t *testing.T, dir string, keys ...string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if strings.Join(names, " ") != strings.Join(keys, " ") {
		t.Errorf("files in the store = %v, want %v", names, keys)
	}
}

// TestFSRemove: a blob goes only when no live row refers to it and no
// writer holds it; Keys lists the blobs by the time of their last write.
func TestFSRemove(t *testing.T) {
	dir := t.TempDir()
	b, err := OpenFS(dir)
	if err != nil {
		t.Fatal(err)
	}
	a, err := b.Put(strings.NewReader("blob a"), 0)
	if err != nil {
		t.Fatal(err)
	}
	live := map[string]bool{a.Key: true}
	isLive := func(key string) (bool, error) { return live[key], nil }

	if gone, err := b.Remove(a.Key, isLive); err != nil || gone {
		t.Errorf("Remove of a live blob = %v, %v", gone, err)
	}
	assertBlobFiles(t, dir, a.Key)
	if _, err := b.Remove(a.Key, func(string) (bool, error) { return false, errors.New("disk gone") }); err == nil {
		t.Error("Remove with a failing check succeeded")
	}
	assertBlobFiles(t, dir, a.Key)
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
	assertBlobFiles(t, dir)
	if gone, err := b.Remove(a.Key, isLive); err != nil || gone {
		t.Errorf("Remove of a blob not stored = %v, %v", gone, err)
	}

	// Keys: blobs last written before the time asked, no temporary file.
	old, _ := b.Put(strings.NewReader("old"), 0)
	fresh, _ := b.Put(strings.NewReader("fresh"), 0)
	long := time.Now().Add(-2 * time.Hour)
	if err := os.Chtimes(b.Path(old.Key), long, long); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, TempPrefix+"up"), []byte("half"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(filepath.Join(dir, TempPrefix+"up"), long, long); err != nil {
		t.Fatal(err)
	}
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
}
