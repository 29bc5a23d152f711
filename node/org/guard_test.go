package org

import (
	"context"
	"errors"
	"testing"

	"siteline/policy"
	"siteline/storage"
	"siteline/web"
)

// No change may leave the organisation without an active user able to
// administer its policies; each refusal changes nothing.
func TestLockoutIsRefused(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	root := f.admin.UserID
	team, err := f.svc.CreateTeam(ctx, f.local, "Admins")
	if err != nil {
		t.Fatal(err)
	}
	regular := []string{policy.RoleRegular}
	off := false
	for _, tt := range []struct {
		name string
		do   func() error
	}{
		{"take the last administrator's role", func() error {
			_, err := f.svc.UpdateUser(ctx, f.local, root, web.UserPatch{Roles: &regular})
			return err
		}},
		{"deactivate the last administrator", func() error {
			_, err := f.svc.UpdateUser(ctx, f.local, root, web.UserPatch{Active: &off})
			return err
		}},
		{"revoke the policy permission from administrators", func() error {
			_, err := f.svc.Revoke(ctx, f.local, web.GrantInput{Subject: "role:administrator", Permission: policy.AdminPolicies})
			return err
		}},
		{"unassign the last administrator", func() error {
			_, err := f.svc.Unassign(ctx, f.local, web.AssignInput{Subject: "user:" + root, Role: policy.RoleAdministrator})
			return err
		}},
		{"import a policy without the permission", func() error {
			_, err := f.svc.ImportPolicy(ctx, f.local, web.ImportInput{CSV: "p, role:regular, " + f.orgID + ", " + policy.CallJoin + "\n"})
			return err
		}},
	} {
		audited := f.audits.count()
		err := tt.do()
		var le *policy.LockoutError
		if !errors.As(err, &le) || !errors.Is(err, storage.ErrConflict) {
			t.Errorf("%s = %v, want a lock-out refusal", tt.name, err)
		}
		if f.audits.count() != audited {
			t.Errorf("%s: refused, yet audited", tt.name)
		}
	}
	if !f.log.authz.Can(f.orgID, root, policy.AdminPolicies) {
		t.Fatal("the administrator lost the policy permission")
	}
	if u, _ := f.log.store.User(ctx, root); !u.Active {
		t.Fatal("the administrator was deactivated")
	}

	// Oneself is never deactivated, lock-out or not.
	if _, err := f.svc.UpdateUser(ctx, f.admin, root, web.UserPatch{Active: &off}); !isField(err, "active") {
		t.Errorf("deactivate oneself = %v, want a refusal of active", err)
	}

	// With a second administrator, the first may go.
	second := f.user(f.local, "second@plant.example", policy.RoleAdministrator)
	if _, err := f.svc.UpdateUser(ctx, as(second), root, web.UserPatch{Roles: &regular}); err != nil {
		t.Errorf("take the role of one of two administrators = %v", err)
	}
	// A team holding the role counts as long as a member is active: the
	// team goes, and with it the last administrator.
	if _, err := f.svc.Assign(ctx, f.local, web.AssignInput{Subject: "team:" + team.ID, Role: policy.RoleAdministrator}); err != nil {
		t.Fatal(err)
	}
	if err := f.svc.SetTeamMember(ctx, f.local, team.ID, root, storage.TeamMember); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.UpdateUser(ctx, f.local, second.ID, web.UserPatch{Roles: &regular}); err != nil {
		t.Fatalf("take the role of the second administrator while a team holds it = %v", err)
	}
	if err := f.svc.DeleteTeam(ctx, f.local, team.ID); !errors.Is(err, storage.ErrConflict) {
		t.Errorf("delete the team that makes the last administrator = %v, want a lock-out refusal", err)
	}
	if err := f.svc.RemoveTeamMember(ctx, f.local, team.ID, root); !errors.Is(err, storage.ErrConflict) {
		t.Errorf("remove the last administrator from the team = %v, want a lock-out refusal", err)
	}
}

// Whoever administers members hands out, and takes over, no more than
// they hold themselves.
func TestNoOneGrantsMoreThanTheyHold(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	mia := f.user(f.local, "mia@plant.example", policy.RoleRegular)
	if _, err := f.svc.Grant(ctx, f.local, web.GrantInput{Subject: "user:" + mia.ID, Permission: policy.AdminMembers}); err != nil {
		t.Fatal(err)
	}
	root, _ := f.log.store.User(ctx, f.admin.UserID)
	pat := f.user(f.local, "pat@plant.example", policy.RoleRegular)
	m := as(mia)
	admins := []string{policy.RoleRegular, policy.RoleAdministrator}
	password := "taken over 12345"
	off := false
	login := "mia2@plant.example"

	for _, tt := range []struct {
		name, permission string
		do               func() error
	}{
		{"make herself administrator", policy.AdminPolicies, func() error {
			_, err := f.svc.UpdateUser(ctx, m, mia.ID, web.UserPatch{Roles: &admins})
			return err
		}},
		{"make another administrator", "", func() error {
			_, err := f.svc.UpdateUser(ctx, m, pat.ID, web.UserPatch{Roles: &admins})
			return err
		}},
		{"create an administrator", "", func() error {
			_, err := f.svc.CreateUser(ctx, m, web.UserInput{Email: "sock@plant.example", Password: "sock's password 1", Roles: admins})
			return err
		}},
		{"reset an administrator's password", "", func() error {
			_, err := f.svc.UpdateUser(ctx, m, root.ID, web.UserPatch{Password: &password})
			return err
		}},
		{"deactivate an administrator", "", func() error {
			_, err := f.svc.UpdateUser(ctx, m, root.ID, web.UserPatch{Active: &off})
			return err
		}},
		{"change an administrator's login", "", func() error {
			_, err := f.svc.UpdateUser(ctx, m, root.ID, web.UserPatch{Email: &login})
			return err
		}},
	} {
		err := tt.do()
		var fe *storage.ForbiddenError
		if !errors.As(err, &fe) {
			t.Errorf("mia may %s: %v", tt.name, err)
			continue
		}
		if tt.permission != "" && fe.Permission != tt.permission {
			t.Errorf("%s: refusal names %s, want %s", tt.name, fe.Permission, tt.permission)
		}
		if f.log.authz.Can(f.orgID, mia.ID, fe.Permission) {
			t.Errorf("%s: refusal names %s, which mia holds", tt.name, fe.Permission)
		}
	}
	if f.log.authz.Can(f.orgID, pat.ID, policy.AdminPolicies) || f.log.authz.Can(f.orgID, mia.ID, policy.AdminPolicies) {
		t.Error("a refused change gave the policy permission")
	}
	if u, _ := f.log.store.User(ctx, root.ID); !u.Active || u.Email != root.Email || u.PasswordHash != root.PasswordHash {
		t.Error("a refused change touched the administrator")
	}

	// A team whose roles carry more than mia holds is closed to her.
	team, err := f.svc.CreateTeam(ctx, f.local, "Admins")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.Assign(ctx, f.local, web.AssignInput{Subject: "team:" + team.ID, Role: policy.RoleAdministrator}); err != nil {
		t.Fatal(err)
	}
	err = f.svc.SetTeamMember(ctx, m, team.ID, mia.ID, storage.TeamMember)
	var fe *storage.ForbiddenError
	if !errors.As(err, &fe) {
		t.Errorf("mia joins a team of administrators: %v", err)
	}

	// Within what she holds, she manages users.
	name := "Pat P."
	if _, err := f.svc.UpdateUser(ctx, m, pat.ID, web.UserPatch{Name: &name, Password: &password}); err != nil {
		t.Errorf("mia renames pat and resets his password: %v", err)
	}
	if _, err := f.svc.CreateUser(ctx, m, web.UserInput{Email: "sam@plant.example", Password: "sam's password 1"}); err != nil {
		t.Errorf("mia creates a regular user: %v", err)
	}
}

func isField(err error, field string) bool {
	var ve *storage.ValidationError
	return errors.As(err, &ve) && ve.Field == field
}
