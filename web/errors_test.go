package web

import (
	"fmt"
	"strings"
	"testing"

	"siteline/storage"
)

// A change that was never made and one that may have been are told apart,
// though both are 503 and both are ErrFederationUnreachable to older code.
func TestFederationErrorsHaveTheirOwnCodes(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  error
		code string
		says string // in the message
	}{
		{"no leader", fmt.Errorf("propose command: %w: no raft leader", storage.ErrFederationUnreachable), "federation_unreachable", "Headquarters cannot be reached from here"},
		{"leader not dialled", fmt.Errorf("forward command to leader n1: %w: request not sent", storage.ErrFederationUnreachable), "federation_unreachable", "Calls, logins and history keep working"},
		{"leadership lost", fmt.Errorf("propose command: %w: leadership lost while committing log", storage.ErrOutcomeUnknown), "outcome_unknown", "may still be applied"},
		{"no answer", fmt.Errorf("forward command to leader n1: %w: no answer from 10.0.0.1:7000", storage.ErrOutcomeUnknown), "outcome_unknown", "may still be applied"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			he := toHTTP(tc.err)
			if he.Status != 503 || he.Code != tc.code || !strings.Contains(he.Message, tc.says) {
				t.Fatalf("toHTTP = %d %s %q, want 503 %s saying %q", he.Status, he.Code, he.Message, tc.code, tc.says)
			}
			for _, internal := range []string{"raft", "propose", "command", "leader", "federation unreachable"} {
				if strings.Contains(strings.ToLower(he.Message), internal) {
					t.Errorf("the message %q speaks of %q", he.Message, internal)
				}
			}
			status, _, ok := formError(tc.err)
			if !ok || status != 503 {
				t.Fatalf("formError = %d %v, want a 503 shown on the form", status, ok)
			}
		})
	}
}
