package sso

import (
	"slices"
	"testing"

	"siteline/storage"
)

func TestMap(t *testing.T) {
	st := storage.SSOSettings{Mapping: []storage.SSOMapping{
		{Group: "Plant-Admins", Roles: []string{"administrator"}, Teams: []string{"t1"}},
		{Group: "line-1", Teams: []string{"t2"}, Labels: []string{"l1"}},
		{Group: "line-1", Teams: []string{"t1"}},
	}}
	p := Map(st, Identity{Email: " Ada@Plant.Example ", Name: " Ada ", Groups: []string{"plant-admins", "other"}})
	if p.Email != "ada@plant.example" || p.Name != "Ada" {
		t.Fatalf("email %q name %q", p.Email, p.Name)
	}
	if !slices.Equal(p.Roles, []string{"administrator", "regular"}) || !slices.Equal(p.Teams, []string{"t1"}) || len(p.Labels) != 0 {
		t.Fatalf("given %v %v %v", p.Roles, p.Teams, p.Labels)
	}
	if !slices.Equal(p.GovernedRoles, []string{"administrator", "regular"}) || !slices.Equal(p.GovernedTeams, []string{"t1", "t2"}) || !slices.Equal(p.GovernedLabels, []string{"l1"}) {
		t.Fatalf("governed %v %v %v", p.GovernedRoles, p.GovernedTeams, p.GovernedLabels)
	}

	st.DefaultRoles = []string{"viewer"}
	p = Map(st, Identity{Email: "b@x.example", Groups: []string{"line-1"}})
	if !slices.Equal(p.Roles, []string{"viewer"}) || !slices.Equal(p.Teams, []string{"t1", "t2"}) || !slices.Equal(p.Labels, []string{"l1"}) {
		t.Fatalf("line-1: %v %v %v", p.Roles, p.Teams, p.Labels)
	}
}
