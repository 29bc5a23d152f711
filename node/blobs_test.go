package node

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestBlobStorePut(t *testing.T) {
	dir := t.TempDir()
	b, err := openBlobStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	data := bytes.Repeat([]byte("siteline "), 10000)
	sum := sha256.Sum256(data)
	want := hex.EncodeToString(sum[:])

	got, err := b.put(bytes.NewReader(data), int64(len(data)))
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
	if again, err := b.put(bytes.NewReader(data), 0); err != nil || again != got {
		t.Fatalf("second put = %+v, %v", again, err)
	}
	assertBlobFiles(t, dir, want)

	// Over the limit: an error, and nothing left behind.
	_, err = b.put(bytes.NewReader(append(data, '!')), int64(len(data)))
	if !errors.Is(err, errBlobTooLarge) {
		t.Fatalf("put over the limit = %v, want errBlobTooLarge", err)
	}
	assertBlobFiles(t, dir, want)

	f, err := b.open(want)
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
	for _, bad := range []string{"", "../secret", strings.Repeat("A", 64), strings.Repeat("0", 63)} {
		if _, err := b.open(bad); err == nil {
			t.Errorf("open(%q) succeeded", bad)
		}
	}
}

func TestBlobStoreAdoptAndSweep(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, "media")
	// A temporary file a crash left behind is removed on open.
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	stale := filepath.Join(dir, blobTempPrefix+"123")
	if err := os.WriteFile(stale, []byte("half"), 0o600); err != nil {
		t.Fatal(err)
	}
	b, err := openBlobStore(dir)
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
		got, err := b.adopt(src, hint)
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
	if _, err := b.adopt(filepath.Join(root, "missing.webm"), ""); err == nil {
		t.Error("adopt of a missing file succeeded")
	}
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
