package node

import (
	"io"
	"strings"
	"testing"

	"siteline/node/org"
)

// Options.PasswordCost, for tests, sets the cost of the hashes a node
// makes; without it a node hashes at org.DefaultCost (pinned in node/org).
func TestPasswordCostOption(t *testing.T) {
	cheap := org.Cost{Time: 1, Memory: 64, Threads: 1}
	n, err := New(testConfig(t, t.TempDir()), Options{PasswordCost: &cheap, LogOutput: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	n.startPasswords()
	hash, err := n.passwords.Hash("a password 12345")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(hash, "$argon2id$v=19$m=64,t=1,p=1$") {
		t.Errorf("hash %q is not at the cost asked", hash)
	}
}
