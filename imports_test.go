// Package siteline_test holds the module's dependency rules: which folders
// of the project may import which, and which third-party modules each
// folder may reach. It reads `go list`, so it costs no build of the code.
package siteline_test

import (
	"encoding/json"
	"errors"
	"io"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// layers is DESIGN.md's import direction (cmd → node → web, media,
// cluster, policy → storage): for each folder (each command, for cmd), the
// folders of the project its packages may import besides their own. A
// sub-folder named here has rules of its own: node/pdf, which renders
// a session's history, reads storage's types and nothing of the node.
var layers = map[string][]string{
	"cmd/siteline":      {"node"},
	"cmd/siteline-load": {"media"},
	// The TURN load tool drives pion's TURN client against a relay, ours
	// (media/turn, which -serve runs) or coturn.
	"cmd/siteline-turnload": {"media"},
	"node":                  {"node/pdf", "web", "media", "cluster", "policy", "storage"},
	"node/pdf":              {"storage"},
	"web":                   {"policy", "storage"},
	"media":                 {"storage"},
	"cluster":               {"storage"},
	"policy":                {"storage"},
	"storage":               {},
	"internal":              {},
}

// owners pins third-party modules to the folders that wrap them: a module
// (or every module under a path ending in "/") listed here may be imported
// directly only by its owners' packages; the rest of the project goes
// through those packages. Modules not listed (yaml, x/crypto, prometheus)
// may be imported anywhere the layers allow.
var owners = map[string][]string{
	"github.com/pion/":              {"media", "cmd/siteline-turnload"},
	"github.com/at-wat/ebml-go":     {"media"},
	"github.com/fasthttp/websocket": {"media", "cmd/siteline-load"},
	"github.com/gofiber/":           {"web"},
	"github.com/valyala/fasthttp":   {"web"},
	"github.com/hashicorp/":         {"cluster"},
	"go.etcd.io/bbolt":              {"cluster"},
	"github.com/nats-io/":           {"cluster"},
	"github.com/casbin/":            {"policy"},
	"modernc.org/sqlite":            {"storage"},
	"github.com/pressly/goose/":     {"storage"},
	"github.com/wneessen/go-mail":   {"node"},
	"codeberg.org/go-pdf/":          {"node/pdf"},
	// The media store on S3 (storage/blob), and the test helper that
	// starts an S3 server and makes its buckets (internal/s3test).
	"github.com/minio/minio-go/": {"storage", "internal"},
	// The history store on PostgreSQL (storage/postgres), the copy of a
	// node's history into it (storage/pgmigrate, which `siteline storage
	// migrate` reaches through node), and the test helper that starts a
	// PostgreSQL cluster and makes its databases (internal/pgtest).
	"github.com/jackc/pgx/": {"storage", "internal"},
}

// forbidden names, per folder, the modules none of its packages may depend
// on at all, not even through other packages: the HTTP layer knows nothing
// of media, the bus or Raft, and the use-case folders reach storage
// through its interfaces, never the SQLite driver.
var forbidden = map[string][]string{
	"web":     {"github.com/pion/", "github.com/nats-io/", "github.com/hashicorp/raft", "modernc.org/sqlite"},
	"policy":  {"github.com/pion/", "github.com/nats-io/", "github.com/hashicorp/", "github.com/gofiber/", "modernc.org/sqlite"},
	"media":   {"github.com/nats-io/", "github.com/hashicorp/", "github.com/gofiber/", "github.com/casbin/", "modernc.org/sqlite"},
	"cluster": {"github.com/pion/", "github.com/gofiber/", "github.com/casbin/", "modernc.org/sqlite"},
}

// useCaseBans names what the use-case packages under node (node/invites,
// node/attachments, ...) must not import: the node itself, which wires
// them, and the stores (SQLite, PostgreSQL), which they reach through the
// narrow interfaces they declare.
var useCaseBans = []string{"siteline/node", "siteline/storage/sqlite", "siteline/storage/postgres"}

// TestUseCasePackagesStayNarrow fails when a package under node imports
// what useCaseBans names.
func TestUseCasePackagesStayNarrow(t *testing.T) {
	seen := 0
	for _, p := range listPackages(t) {
		if !strings.HasPrefix(p.ImportPath, "siteline/node/") || strings.Contains(p.ImportPath, "/internal/") {
			continue
		}
		seen++
		for _, imp := range p.Imports {
			if slices.Contains(useCaseBans, imp) {
				t.Errorf("%s imports %s: a use case takes what it needs through interfaces it declares", p.ImportPath, imp)
			}
		}
	}
	if seen == 0 {
		t.Fatal("no package under node/: the rule checks nothing")
	}
}

type pkg struct {
	ImportPath   string
	GoFiles      []string
	Imports      []string
	Deps         []string
	TestImports  []string
	XTestImports []string
}

// testHelpers are packages for tests alone: no package of the binaries
// may import them, and a test may import one only where its folder's
// layer allows (web's tests reach no pion through media/mediatest).
var testHelpers = []string{"siteline/internal/testutil", "siteline/internal/s3test", "siteline/internal/pgtest",
	"siteline/media/mediatest", "siteline/storage/storagetest"}

// TestImports fails on an import between the project's folders against
// DESIGN.md's direction, and on a third-party module reached from a folder
// that must not reach it, as tailscale's depaware does for its binaries.
func TestImports(t *testing.T) {
	pkgs := listPackages(t)
	used := map[string]bool{} // rule keys some package imports or depends on
	for _, p := range pkgs {
		from := folder(p.ImportPath)
		allowed, ok := layers[from]
		if !ok {
			t.Errorf("package %s is in folder %q, which DESIGN.md does not name", p.ImportPath, from)
			continue
		}
		for _, imp := range p.Imports {
			// A test helper may build on another; nothing else may.
			if slices.Contains(testHelpers, imp) && !slices.Contains(testHelpers, p.ImportPath) {
				t.Errorf("%s imports %s, which is for tests only", p.ImportPath, imp)
			}
			if strings.HasPrefix(imp, "siteline/") {
				if to := folder(imp); to != from && !slices.Contains(allowed, to) {
					t.Errorf("%s imports %s: %s may import only %v", p.ImportPath, imp, from, allowed)
				}
				continue
			}
			if key := ownerKey(imp); key != "" {
				used[key] = true
				if !slices.Contains(owners[key], from) {
					t.Errorf("%s imports %s: only %v may import %s directly", p.ImportPath, imp, owners[key], key)
				}
			}
		}
		for _, imp := range slices.Concat(p.TestImports, p.XTestImports) {
			if slices.Contains(testHelpers, imp) && folder(imp) != "internal" && folder(imp) != from && !slices.Contains(allowed, folder(imp)) {
				t.Errorf("tests of %s import %s: %s may import only %v", p.ImportPath, imp, from, allowed)
			}
		}
		for _, dep := range p.Deps {
			for _, m := range forbidden[from] {
				if within(dep, m) {
					t.Errorf("%s depends on %s: %s must not depend on %s", p.ImportPath, dep, from, m)
				}
			}
			for _, rules := range forbidden {
				for _, m := range rules {
					if within(dep, m) {
						used[m] = true
					}
				}
			}
		}
	}
	// A rule naming a module nothing uses is a typo or outlived its module.
	for key := range owners {
		if !used[key] {
			t.Errorf("owners names %s, which no package of the project imports", key)
		}
	}
	for _, rules := range forbidden {
		for _, m := range rules {
			if !used[m] {
				t.Errorf("forbidden names %s, which no package of the project depends on", m)
			}
		}
	}
}

// listPackages returns the project's packages that hold code; test-only
// packages do not go into the binaries and are left out.
func listPackages(t *testing.T) []pkg {
	t.Helper()
	out, err := exec.Command("go", "list", "-json=ImportPath,GoFiles,Imports,Deps,TestImports,XTestImports", "siteline/...").Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			t.Fatalf("go list: %v\n%s", err, ee.Stderr)
		}
		t.Fatalf("go list: %v", err)
	}
	var pkgs []pkg
	dec := json.NewDecoder(strings.NewReader(string(out)))
	for {
		var p pkg
		if err := dec.Decode(&p); err == io.EOF {
			break
		} else if err != nil {
			t.Fatalf("decode go list: %v", err)
		}
		if len(p.GoFiles) > 0 {
			pkgs = append(pkgs, p)
		}
	}
	if len(pkgs) < 10 {
		t.Fatalf("go list saw only %d packages", len(pkgs))
	}
	return pkgs
}

// folder names the unit the rules speak of: the top-level folder, for
// commands the command's own folder, and a sub-folder that layers names.
func folder(importPath string) string {
	rest := strings.TrimPrefix(importPath, "siteline/")
	top, sub, _ := strings.Cut(rest, "/")
	name, _, _ := strings.Cut(sub, "/")
	if top == "cmd" {
		return "cmd/" + name
	}
	if _, ok := layers[top+"/"+name]; ok && name != "" {
		return top + "/" + name
	}
	return top
}

// ownerKey returns the most specific key of owners that covers the import
// path, or "" when no rule speaks of it.
func ownerKey(importPath string) string {
	best := ""
	for key := range owners {
		if within(importPath, key) && len(key) > len(best) {
			best = key
		}
	}
	return best
}

// within reports whether the import path is the module m or inside it; an
// m ending in "/" covers every path below it.
func within(importPath, m string) bool {
	if strings.HasSuffix(m, "/") {
		return strings.HasPrefix(importPath, m)
	}
	return importPath == m || strings.HasPrefix(importPath, m+"/")
}
