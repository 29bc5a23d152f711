package web

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"siteline/policy"
	"siteline/storage"
)

// rolesOrg is fakeOrg with the shipped roles.
type rolesOrg struct{ fakeOrg }

func (o rolesOrg) Roles(_ context.Context, orgID string) ([]storage.Role, error) {
	return policy.DefaultRoles(orgID), nil
}

// The forms that create, invite and edit registered accounts offer the
// roles such an account may hold, not the guests' roles, and say what the
// organisation-wide team roles are.
func TestUserFormsOfferNoGuestRoles(t *testing.T) {
	s, d := newTestServer(t, func(deps *Deps) { deps.Org = rolesOrg{deps.Org.(fakeOrg)} })
	d.addUser("u1", adminEmail, testPass, policy.AdminMembers)
	b := &browser{t: t, s: s}
	b.login(adminEmail, testPass)
	for _, path := range []string{"/users", "/users/u1"} {
		got := b.page(path)
		if got.status != http.StatusOK {
			t.Fatalf("%s = %d", path, got.status)
		}
		for _, r := range []string{policy.RoleRegular, policy.RoleTeamLead, policy.RoleAdministrator} {
			if !strings.Contains(got.body, `name="roles" value="`+r+`"`) {
				t.Errorf("%s does not offer the role %s", path, r)
			}
		}
		if strings.Contains(got.body, `name="roles" value="guest_`) {
			t.Errorf("%s offers a guest role to a registered account", path)
		}
		if !strings.Contains(got.body, "is set on the team") {
			t.Errorf("%s does not explain the team roles", path)
		}
	}
}
