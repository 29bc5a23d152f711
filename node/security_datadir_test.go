package node

import (
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"siteline/internal/testutil"
)

// The data directory and everything in it are the owner's alone once the
// node has started: directories 0700, files 0600 (the database, the Raft
// and bus stores, keys, blobs), even when they existed with looser modes
// (issue 13, item 17).
func TestDataDirectoryIsOwnerOnly(t *testing.T) {
	testutil.System(t)
	cfg := testConfig(t, shortTempDir(t))
	// A first start creates the files; it is stopped, and an operator's
	// copy or a careless umask loosens every mode.
	n, err := New(cfg, cheapHashes(Options{LogOutput: testutil.NewLog(t)}))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := n.Start(ctx); err != nil {
		t.Fatal(err)
	}
	assertOwnerOnly(t, cfg.DataDir)
	b, err := n.blobs.Put(strings.NewReader("a blob"), 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	loose := 0
	filepath.WalkDir(cfg.DataDir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			t.Fatal(err)
		}
		switch {
		case d.IsDir():
			os.Chmod(path, 0o755)
		case d.Type().IsRegular():
			os.Chmod(path, 0o644)
			loose++
		}
		return nil
	})
	if loose < 5 {
		t.Fatalf("only %d files in the data directory", loose)
	}

	startNode(t, cfg)
	assertOwnerOnly(t, cfg.DataDir)
	if fi, err := os.Stat(filepath.Join(cfg.DataDir, mediaDir, b.Key)); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("blob %s: %v, %v", b.Key, fi, err)
	}
}

// assertOwnerOnly fails the test for a directory not 0700 or a file not
// 0600 under dir.
func assertOwnerOnly(t *testing.T, dir string) {
	t.Helper()
	filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil // removed while walking
		}
		info, err := d.Info()
		if err != nil {
			return nil
		}
		switch {
		case d.IsDir() && info.Mode().Perm() != 0o700:
			t.Errorf("directory %s is %v, want 0700", path, info.Mode().Perm())
		case d.Type().IsRegular() && info.Mode().Perm() != 0o600:
			t.Errorf("file %s is %v, want 0600", path, info.Mode().Perm())
		}
		return nil
	})
}
