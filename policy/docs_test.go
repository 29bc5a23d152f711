package policy

import (
	"fmt"
	"os"
	"strings"
	"testing"
)

const (
	docsPath    = "../docs/permissions.md"
	docsBegin   = "<!-- catalogue:begin (generated: go test ./policy -run TestDocs -update) -->\n"
	docsEnd     = "<!-- catalogue:end -->\n"
	docsMissing = "run go test ./policy -run TestDocs -update"
)

// renderCatalogue renders the catalogue as one Markdown table per area,
// with the built-in roles that hold each permission by default.
func renderCatalogue() string {
	holders := map[string][]string{}
	for _, r := range builtinRoles() {
		for _, id := range r.grants {
			holders[id] = append(holders[id], r.name)
		}
	}
	var b strings.Builder
	area := ""
	for _, p := range All() {
		if p.Area != area {
			area = p.Area
			fmt.Fprintf(&b, "\n### %s\n\n", area)
			b.WriteString("| permission id | area | feature set | meaning | built-in roles |\n")
			b.WriteString("|---|---|---|---|---|\n")
		}
		fmt.Fprintf(&b, "| `%s` | %s | %s | %s | %s |\n", p.ID, p.Area, p.FeatureSet, p.Meaning, strings.Join(holders[p.ID], ", "))
	}
	b.WriteString("\n")
	return b.String()
}

// TestDocsCatalogue fails when docs/permissions.md lacks a catalogue id or
// its generated tables differ from the code; -update rewrites the tables
// and leaves the prose alone.
func TestDocsCatalogue(t *testing.T) {
	raw, err := os.ReadFile(docsPath)
	if err != nil {
		t.Fatalf("%v (write docs/permissions.md)", err)
	}
	doc := string(raw)
	before, rest, ok := strings.Cut(doc, docsBegin)
	_, after, ok2 := strings.Cut(rest, docsEnd)
	if !ok || !ok2 {
		t.Fatalf("%s lacks the markers %q and %q", docsPath, docsBegin, docsEnd)
	}
	want := before + docsBegin + renderCatalogue() + docsEnd + after
	if *update {
		if err := os.WriteFile(docsPath, []byte(want), 0o644); err != nil {
			t.Fatal(err)
		}
		doc = want
	}
	for _, id := range IDs() {
		if !strings.Contains(doc, "`"+id+"`") {
			t.Errorf("%s does not document %s; %s", docsPath, id, docsMissing)
		}
	}
	for _, role := range BuiltinRoleNames() {
		if !strings.Contains(doc, "`"+role+"`") {
			t.Errorf("%s does not describe role %s", docsPath, role)
		}
	}
	if doc != want {
		t.Errorf("%s tables drifted from the catalogue; %s", docsPath, docsMissing)
	}
}
