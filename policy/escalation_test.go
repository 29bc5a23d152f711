package policy

import (
	"slices"
	"testing"

	"siteline/storage"
)

func TestRoleAndTeamPermissionsFollowInheritance(t *testing.T) {
	const org = "o1"
	rules := append(DefaultPolicy(org),
		Grant(org, RoleSubject("helpdesk"), AdminMembers),
		// helpdesk inherits regular.
		storage.PolicyRule{OrgID: org, PType: PTypeAssign, V: []string{RoleSubject("helpdesk"), RoleSubject(RoleRegular), org}},
		AssignTeam(org, "t1", "helpdesk"),
		Grant(org, RoleSubject("other"), AdminMembers),
	)
	e, err := NewEnforcer(rules)
	if err != nil {
		t.Fatal(err)
	}
	help := e.RolePermissions(org, "helpdesk")
	if !slices.Contains(help, AdminMembers) || !slices.Contains(help, CallChat) || slices.Contains(help, AdminPolicies) {
		t.Errorf("helpdesk carries %v", help)
	}
	if team := e.TeamPermissions(org, "t1"); !slices.Equal(team, help) {
		t.Errorf("team t1 carries %v, want the helpdesk role's %v", team, help)
	}
	if got := e.RolePermissions("o2", "helpdesk"); len(got) != 0 {
		t.Errorf("helpdesk in another organisation carries %v", got)
	}
	if got := e.RolePermissions(org, "nosuchrole"); len(got) != 0 {
		t.Errorf("an undefined role carries %v", got)
	}
	if m := Missing(help, e.RolePermissions(org, RoleAdministrator)); m == "" || slices.Contains(help, m) {
		t.Errorf("Missing(helpdesk, administrator) = %q", m)
	}
	if m := Missing(e.RolePermissions(org, RoleAdministrator), help); m != "" {
		t.Errorf("Missing(administrator, helpdesk) = %q, want none", m)
	}
}
