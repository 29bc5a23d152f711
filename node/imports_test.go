package node

import (
	"encoding/json"
	"io"
	"os/exec"
	"strings"
	"testing"
)

// allowedImports is DESIGN.md's import direction: for each top-level folder
// (each command, for cmd), the top-level folders of the project its
// packages may import besides their own.
var allowedImports = map[string][]string{
	"cmd/siteline":      {"node"},
	"cmd/siteline-load": {"media"},
	"node":              {"web", "media", "cluster", "policy", "storage"},
	"web":               {"policy", "storage"},
	"media":             {"storage"},
	"cluster":           {"storage"},
	"policy":            {"storage"},
	"storage":           {},
	"internal":          {}, // test helpers, imported by tests only
}

// TestImportDirection fails on a forbidden import between the project's
// folders, as tailscale's deptest does for its binaries.
func TestImportDirection(t *testing.T) {
	out, err := exec.Command("go", "list", "-json=ImportPath,Imports", "siteline/...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	dec := json.NewDecoder(strings.NewReader(string(out)))
	seen := 0
	for {
		var p struct {
			ImportPath string
			Imports    []string
		}
		if err := dec.Decode(&p); err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		seen++
		from := topFolder(p.ImportPath)
		allowed, ok := allowedImports[from]
		if !ok {
			t.Errorf("package %s is in folder %q, which DESIGN.md does not name", p.ImportPath, from)
			continue
		}
		for _, imp := range p.Imports {
			if !strings.HasPrefix(imp, "siteline/") {
				continue
			}
			to := topFolder(imp)
			if to != from && !contains(allowed, to) {
				t.Errorf("%s imports %s: %s may import only %v", p.ImportPath, imp, from, allowed)
			}
		}
	}
	if seen < 8 {
		t.Fatalf("go list saw only %d packages", seen)
	}
}

// topFolder names the unit the rules speak of: the top-level folder, or
// for commands the command's own folder.
func topFolder(importPath string) string {
	rest := strings.TrimPrefix(importPath, "siteline/")
	folder, sub, _ := strings.Cut(rest, "/")
	if folder == "cmd" {
		name, _, _ := strings.Cut(sub, "/")
		return "cmd/" + name
	}
	return folder
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
