package sfu_test

import (
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestImports keeps the import direction of DESIGN.md for the media
// packages built here: of the project, only storage and media itself.
func TestImports(t *testing.T) {
	for _, dir := range []string{"../signal", ".", "../client"} {
		entries, err := os.ReadDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		fset := token.NewFileSet()
		for _, e := range entries {
			name := e.Name()
			if !strings.HasSuffix(name, ".go") || strings.HasSuffix(name, "_test.go") {
				continue
			}
			f, err := parser.ParseFile(fset, filepath.Join(dir, name), nil, parser.ImportsOnly)
			if err != nil {
				t.Fatal(err)
			}
			for _, imp := range f.Imports {
				path, _ := strconv.Unquote(imp.Path.Value)
				if strings.HasPrefix(path, "siteline/") && path != "siteline/storage" && !strings.HasPrefix(path, "siteline/media/") {
					t.Errorf("%s/%s imports %s; media may import only siteline/storage", dir, name, path)
				}
			}
		}
	}
}
