package node

import (
	"os"
	"strings"
	"testing"

	"siteline/storage/blob"
)

// blobTempPrefix starts the name of a blob the store is writing.
const blobTempPrefix = blob.TempPrefix

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
