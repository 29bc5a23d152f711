package org

import (
	"context"
	"slices"
	"strings"
	"testing"

	"siteline/policy"
	"siteline/storage"
	"siteline/web"
)

func TestImportMembersIsAllOrNothingAndNamesTheFirstBadLine(t *testing.T) {
	f := newMemberFixture(t)
	ctx := context.Background()
	team, err := f.svc.CreateTeam(ctx, f.admin, "Maintenance")
	if err != nil {
		t.Fatal(err)
	}
	g, err := f.svc.PutLabelGroup(ctx, f.admin, storage.LabelGroup{Name: "Skill", Color: "#00aa00"})
	if err != nil {
		t.Fatal(err)
	}
	welder, err := f.svc.PutLabel(ctx, f.admin, storage.Label{GroupID: g.ID, Name: "Welder"})
	if err != nil {
		t.Fatal(err)
	}
	member := f.user(f.admin, "member@plant.example")

	const header = "email,roles,teams,labels\n"
	good := "ann@plant.example,team_lead,maintenance,Welder\n" +
		"bob@plant.example,,,\n"
	for _, c := range []struct{ name, file, mention string }{
		{"bad e-mail", good + "not-an-address,,,\n", "line 4: email"},
		{"unknown role", good + "cy@plant.example,wizard,,\n", `line 4: roles "wizard" is not a role`},
		{"unknown team", good + "cy@plant.example,,Night shift,\n", `line 4: teams "Night shift" is not a team`},
		{"unknown label", good + "cy@plant.example,,,Painter\n", `line 4: labels "Painter" is not a label`},
		{"duplicate", good + "Ann@plant.example,,,\n", "line 4: ann@plant.example is on line 2 already"},
		{"member", good + member.Email + ",,,\n", "line 4: email member@plant.example is already a member"},
		{"first bad line", "cy@plant.example,wizard,,\n" + "not-an-address,,,\n", "line 2: roles"},
		{"columns", "email,surname\n", `line 1: unknown column "surname"`},
		{"fields", good + "cy@plant.example,,\n", "line 4: has a different number of fields"},
	} {
		file := header + c.file
		if c.name == "columns" {
			file = c.file
		}
		_, err := f.m.ImportMembers(ctx, f.admin, strings.NewReader(file))
		wantInvalid(t, c.name, err, c.mention)
	}
	if invs, _ := f.log.store.MemberInvitations(ctx, f.admin.OrgID); len(invs) != 0 || f.box.count() != 0 {
		t.Fatalf("refused imports left %d invitations and sent %d mails", len(invs), f.box.count())
	}

	// A regular user may not hand out roles above their own.
	regular := as(f.user(f.admin, "reg@plant.example", policy.RoleRegular))
	_, err = f.m.ImportMembers(ctx, regular, strings.NewReader(header+"cy@plant.example,administrator,,\n"))
	if err == nil {
		t.Fatal("a regular user invited an administrator")
	}

	out, err := f.m.ImportMembers(ctx, f.admin, strings.NewReader(header+good))
	if err != nil {
		t.Fatal(err)
	}
	if out.Imported != 2 || f.box.count() != 2 {
		t.Fatalf("imported %d, mailed %d; want 2 and 2", out.Imported, f.box.count())
	}
	inv, err := f.log.store.MemberInvitation(ctx, out.Invitations[0].ID)
	if err != nil || inv.Email != "ann@plant.example" || !slices.Equal(inv.Roles, []string{policy.RoleTeamLead}) ||
		!slices.Equal(inv.TeamIDs, []string{team.ID}) || !slices.Equal(inv.LabelIDs, []string{welder.ID}) {
		t.Fatalf("invitation of ann = %+v, %v", inv, err)
	}
	// Activation applies the labels.
	u, err := f.m.Activate(ctx, f.box.token(t, "ann@plant.example"), web.ActivationInput{Name: "Ann", Password: "a long and unusual passphrase"})
	if err != nil {
		t.Fatal(err)
	}
	labels, err := f.log.store.UserLabels(ctx, f.admin.OrgID)
	if err != nil || !slices.Equal(labels[u.ID], []string{welder.ID}) {
		t.Fatalf("labels of the activated user = %v, %v", labels[u.ID], err)
	}
	// Invited already: a second import of bob is refused.
	_, err = f.m.ImportMembers(ctx, f.admin, strings.NewReader(header+"bob@plant.example,,,\n"))
	wantInvalid(t, "pending", err, "line 2: email bob@plant.example is invited already")
}

func TestImportContactsIsAllOrNothing(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	if _, err := f.svc.PutContact(ctx, f.admin, storage.Contact{Name: "Known", Email: "known@supplier.example"}); err != nil {
		t.Fatal(err)
	}
	const header = "name,email,phone,company,notes\n"
	good := "Vera,vera@supplier.example,+41 22 000,Pumps Inc,night shift\n" +
		"\"Smith, John\",,+41 22 001,,\n"
	for _, c := range []struct{ name, file, mention string }{
		{"bad phone", good + "Zed,,call me,,\n", "line 4: phone"},
		{"no name", good + ",zed@supplier.example,,,\n", "line 4: name is required"},
		{"duplicate", good + "Vera Again,VERA@supplier.example,,,\n", "line 4: vera@supplier.example is on line 2 already"},
		{"in the phonebook", good + "K,known@supplier.example,,,\n", "line 4: known@supplier.example is in the phonebook already"},
	} {
		_, err := f.svc.ImportContacts(ctx, f.admin, strings.NewReader(header+c.file))
		wantInvalid(t, c.name, err, c.mention)
	}
	if cs, _ := f.log.store.Contacts(ctx, f.admin.OrgID); len(cs) != 1 {
		t.Fatalf("refused imports left %d contacts, want 1", len(cs))
	}
	out, err := f.svc.ImportContacts(ctx, f.admin, strings.NewReader("name,phone\nOnly Name,\nWith Phone,+1 555\n"))
	if err != nil || out.Imported != 2 {
		t.Fatalf("import = %+v, %v", out, err)
	}
	out, err = f.svc.ImportContacts(ctx, f.admin, strings.NewReader(header+good))
	if err != nil || out.Imported != 2 {
		t.Fatalf("import = %+v, %v", out, err)
	}
	cs, _ := f.log.store.Contacts(ctx, f.admin.OrgID)
	if len(cs) != 5 || !slices.ContainsFunc(cs, func(c storage.Contact) bool { return c.Name == "Smith, John" && c.Phone == "+41 22 001" }) {
		t.Fatalf("phonebook after the imports: %+v", cs)
	}
	if a := f.audits.last(); a.action != "contact.import" {
		t.Errorf("last audit %+v, want contact.import", a)
	}
}

// A login, and an activation (which logs in), is recorded at this node,
// not proposed: the replicated log does not move.
func TestLoginsAreRecordedLocally(t *testing.T) {
	f := newMemberFixture(t)
	ctx := context.Background()
	f.svc.d.Logins = f.log.store
	before := f.log.index
	if _, err := f.svc.Authenticate(ctx, "root@plant.example", "wrong password"); err == nil {
		t.Fatal("a wrong password logged in")
	}
	if logins, _ := f.log.store.LastLogins(ctx, f.orgID); len(logins) != 0 {
		t.Fatalf("a failed login was recorded: %v", logins)
	}
	if _, err := f.svc.Authenticate(ctx, "root@plant.example", adminPassword); err != nil {
		t.Fatal(err)
	}
	if f.log.index != before {
		t.Errorf("the login went through the replicated log (%d commands)", f.log.index-before)
	}
	if _, err := f.m.InviteMembers(ctx, f.admin, web.MemberInviteInput{Emails: []string{"ann@plant.example"}}); err != nil {
		t.Fatal(err)
	}
	u, err := f.m.Activate(ctx, f.box.token(t, "ann@plant.example"), web.ActivationInput{Name: "Ann", Password: "a long and unusual passphrase"})
	if err != nil {
		t.Fatal(err)
	}
	logins, err := f.log.store.LastLogins(ctx, f.orgID)
	if err != nil || !logins[f.admin.UserID].Equal(f.clock.now()) || !logins[u.ID].Equal(f.clock.now()) {
		t.Fatalf("last logins = %v, %v; want the administrator's and Ann's at %s", logins, err, f.clock.now())
	}
}
