package org

import (
	"strings"
	"testing"
)

// A role that an imported or restored policy named is described in words,
// not by the internal name of the action.
func TestCreatedRoleDescriptions(t *testing.T) {
	for action, want := range map[string]string{
		"policy.import":  "added by a policy import",
		"policy.restore": "added when an earlier version of the policy was restored",
	} {
		got := createdRoleDescription(action)
		if got != want || strings.Contains(got, "policy.") {
			t.Errorf("%s: %q, want %q", action, got, want)
		}
	}
}
