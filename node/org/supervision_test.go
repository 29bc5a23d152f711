package org

import (
	"context"
	"errors"
	"testing"

	"siteline/policy"
	"siteline/storage"
)

// A team lead supervises the members of their team and nobody else; the
// calls service asks through CanSupervise.
func TestSupervisionFollowsTheTeams(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	lead := f.user(f.local, "lead@plant.example", policy.RoleRegular, policy.RoleTeamLead)
	member := f.user(f.local, "member@plant.example", policy.RoleRegular)
	outsider := f.user(f.local, "outsider@plant.example", policy.RoleRegular)
	team, err := f.svc.CreateTeam(ctx, f.local, "Night shift")
	if err != nil {
		t.Fatal(err)
	}
	for id, role := range map[string]storage.TeamRole{lead.ID: storage.TeamLead, member.ID: storage.TeamMember} {
		if err := f.svc.SetTeamMember(ctx, f.local, team.ID, id, role); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.svc.CanSupervise(ctx, f.orgID, lead.ID, member.ID, policy.CallSitIn); err != nil {
		t.Errorf("lead sits in with a member: %v", err)
	}
	var scope *policy.ScopeError
	if err := f.svc.CanSupervise(ctx, f.orgID, lead.ID, outsider.ID, policy.CallSitIn); !errors.As(err, &scope) {
		t.Errorf("lead sits in with an outsider = %v, want a scope refusal", err)
	}
	wantForbidden(t, "member sits in with the lead", f.svc.CanSupervise(ctx, f.orgID, member.ID, lead.ID, policy.CallSitIn), policy.CallSitIn)

	got, err := f.svc.SupervisionScope(ctx, f.admin, "lead@plant.example")
	if err != nil || len(got) != 1 || got[0].ID != member.ID {
		t.Errorf("the lead's supervision scope = %+v, %v; want the member alone", got, err)
	}
}
