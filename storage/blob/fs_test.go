package blob

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// TestFSLayout: FS keeps a blob as a file named by its key, and removes
// the temporary files a crash left behind when it opens.
func TestFSLayout(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "media")
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
	data := []byte("a plant's photo")
	got, err := b.Put(bytes.NewReader(data), 0)
	if err != nil {
		t.Fatal(err)
	}
	if b.Dir() != dir || b.Path(got.Key) != filepath.Join(dir, got.Key) {
		t.Errorf("Dir %s, Path %s", b.Dir(), b.Path(got.Key))
	}
	if stored, err := os.ReadFile(filepath.Join(dir, got.Key)); err != nil || !bytes.Equal(stored, data) {
		t.Errorf("file of the blob = %q, %v", stored, err)
	}
}
