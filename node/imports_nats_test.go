package node

import (
	"os/exec"
	"strings"
	"testing"
)

// TestNodeReachesNATSOnlyThroughCluster: the NATS client (nats.go) is
// cluster's business (DESIGN.md): node, and every package of the project
// it imports outside cluster, stays off it.
func TestNodeReachesNATSOnlyThroughCluster(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "-f", "{{.ImportPath}} {{join .Imports \" \"}}", "siteline/node").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	seen := 0
	for line := range strings.Lines(string(out)) {
		pkg, imports, _ := strings.Cut(strings.TrimSpace(line), " ")
		if !strings.HasPrefix(pkg, "siteline/") || strings.HasPrefix(pkg, "siteline/cluster/") {
			continue
		}
		seen++
		for imp := range strings.FieldsSeq(imports) {
			if imp == "github.com/nats-io/nats.go" || strings.HasPrefix(imp, "github.com/nats-io/nats.go/") {
				t.Errorf("%s imports %s: only cluster packages may use the NATS client", pkg, imp)
			}
		}
	}
	if seen < 5 {
		t.Fatalf("go list saw only %d packages of the project", seen)
	}
}
