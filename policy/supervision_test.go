package policy

import (
	"errors"
	"slices"
	"testing"

	"siteline/storage"
)

// TestSupervisionScope: leads reach the members of their own teams,
// managers the members and leads of theirs; nobody reaches themself,
// managers, or other teams.
func TestSupervisionScope(t *testing.T) {
	ms := []storage.TeamMembership{
		{TeamID: "A", UserID: "lead-a", Role: storage.TeamLead},
		{TeamID: "A", UserID: "mgr-a", Role: storage.TeamManager},
		{TeamID: "A", UserID: "mem-a1", Role: storage.TeamMember},
		{TeamID: "A", UserID: "mem-a2", Role: storage.TeamMember},
		{TeamID: "A", UserID: "lead-a2", Role: storage.TeamLead},
		{TeamID: "B", UserID: "lead-b", Role: storage.TeamLead},
		{TeamID: "B", UserID: "mem-b", Role: storage.TeamMember},
		{TeamID: "B", UserID: "mgr-b", Role: storage.TeamManager},
		{TeamID: "B", UserID: "mem-a1", Role: storage.TeamLead}, // a member of A leads B
		{TeamID: "C", UserID: "mgr-a", Role: storage.TeamMember},
		{TeamID: "C", UserID: "mem-c", Role: storage.TeamMember},
	}
	rules := DefaultPolicy("o1")
	for _, u := range []string{"lead-a", "lead-a2", "mgr-a", "lead-b", "mgr-b", "mem-a1"} {
		role := RoleTeamLead
		if u[:3] == "mgr" {
			role = RoleTeamManager
		}
		rules = append(rules, Assign("o1", u, role))
	}
	rules = append(rules, Assign("o1", "mem-a2", RoleRegular), Assign("o1", "admin", RoleAdministrator))
	e, err := NewEnforcer(rules)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		supervisor, target string
		want               bool
	}{
		{"lead-a", "mem-a1", true},
		{"lead-a", "mem-a2", true},
		{"lead-a", "lead-a2", false}, // a lead does not watch another lead
		{"lead-a", "mgr-a", false},   // nor a manager
		{"lead-a", "mem-b", false},   // nor another team's member
		{"lead-a", "lead-a", false},  // nor themself
		{"mgr-a", "mem-a1", true},
		{"mgr-a", "lead-a", true}, // a manager watches leads
		{"mgr-a", "lead-a2", true},
		{"mgr-a", "mem-b", false},
		{"mgr-a", "mem-c", false}, // a member of team C supervises nobody there
		{"mgr-b", "mem-a1", true}, // mem-a1 leads B: managers of B reach them
		{"mgr-b", "lead-b", true},
		{"lead-b", "mem-b", true},
		{"lead-b", "mem-a1", false},
		{"mem-a1", "mem-b", true}, // as lead of B
		{"mem-a1", "mem-a2", false},
		{"mem-a2", "mem-a1", false}, // no supervision right, no team lead
		{"admin", "mem-c", true},    // an administrator reaches everyone, in no team
		{"admin", "mgr-b", true},
		{"admin", "admin", false}, // but themself
	}
	for _, tt := range tests {
		err := CanSupervise(e, ms, "o1", tt.supervisor, tt.target, CallSitIn)
		if got := err == nil; got != tt.want {
			t.Errorf("CanSupervise(%s, %s) = %v, want allowed=%v", tt.supervisor, tt.target, err, tt.want)
		}
		var fe *storage.ForbiddenError
		if err != nil && (!errors.As(err, &fe) || fe.Permission != CallSitIn) {
			t.Errorf("CanSupervise(%s, %s) error %v does not name %s", tt.supervisor, tt.target, err, CallSitIn)
		}
	}
	if got, want := Supervisees(ms, "mgr-a"), []string{"lead-a", "lead-a2", "mem-a1", "mem-a2"}; !slices.Equal(got, want) {
		t.Errorf("Supervisees(mgr-a) = %v, want %v", got, want)
	}
}
