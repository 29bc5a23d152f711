package sqlite

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"siteline/storage"
)

func TestApplySeedReadsBack(t *testing.T) {
	s, _ := openTestStore(t)
	ctx := context.Background()
	mustApply(t, s, 1, seed())

	org, err := s.Org(ctx, "o1")
	if want := (storage.Org{ID: "o1", Name: "Acme", CreatedAt: t0}); err != nil || org != want {
		t.Errorf("Org = %+v, %v; want %+v", org, err, want)
	}
	site, err := s.Site(ctx, "s1")
	if want := (storage.Site{ID: "s1", OrgID: "o1", Name: "Plant North", CreatedAt: t0}); err != nil || site != want {
		t.Errorf("Site = %+v, %v; want %+v", site, err, want)
	}
	u, err := s.User(ctx, "u1")
	want := storage.User{ID: "u1", OrgID: "o1", Email: "alice@acme.test", Name: "Alice", Kind: storage.UserRegular,
		PasswordHash: "$argon2id$alice", Active: true, CreatedAt: t0, UpdatedAt: t0}
	if err != nil || u != want {
		t.Errorf("User = %+v, %v; want %+v (password hash travels in Change.PasswordHash)", u, err, want)
	}
	tok, err := s.TokenByHash(ctx, hashOf("secret-1"))
	if err != nil || tok.ID != "k1" || tok.ExpiresAt == nil || !tok.ExpiresAt.Equal(t0.Add(90*24*time.Hour)) ||
		string(tok.Hash) != string(hashOf("secret-1")) {
		t.Errorf("TokenByHash = %+v, %v", tok, err)
	}
	team, err := s.Team(ctx, "t1")
	if err != nil || team.Name != "Maintenance" {
		t.Errorf("Team = %+v, %v", team, err)
	}
	c, err := s.Contact(ctx, "c1")
	if err != nil || c.UserID != "u2" || c.Notes != "night shift" || !c.CreatedAt.Equal(t0) {
		t.Errorf("Contact = %+v, %v", c, err)
	}

	v := viewOf(t, s)
	names := func(n int, name func(i int) string) string {
		var out []string
		for i := range n {
			out = append(out, name(i))
		}
		return strings.Join(out, ",")
	}
	lists := []struct {
		what, got, want string
	}{
		{"orgs", names(len(v.Orgs), func(i int) string { return v.Orgs[i].ID }), "o1,o2"},
		{"sites by name", names(len(v.Sites["o1"]), func(i int) string { return v.Sites["o1"][i].Name }), "HQ,Plant North"},
		{"users by name", names(len(v.Users["o1"]), func(i int) string { return v.Users["o1"][i].ID }), "u1,u2,u3"},
		{"users of o2", names(len(v.Users["o2"]), func(i int) string { return v.Users["o2"][i].ID }), "u9"},
		{"roles", names(len(v.Roles["o1"]), func(i int) string { return v.Roles["o1"][i].Name }), "administrator,regular"},
		{"team members", names(len(v.Members["t1"]), func(i int) string {
			return v.Members["t1"][i].UserID + ":" + string(v.Members["t1"][i].Role)
		}), "u1:lead,u2:member"},
		{"user teams", names(len(v.UserTeams["u1"]), func(i int) string { return v.UserTeams["u1"][i].TeamID }), "t1"},
		{"label groups", names(len(v.LabelGroups["o1"]), func(i int) string { return v.LabelGroups["o1"][i].Color }), "#ff0000"},
		{"labels by name", names(len(v.Labels["o1"]), func(i int) string { return v.Labels["o1"][i].Name }), "Lathe,Press"},
		{"contacts", names(len(v.Contacts["o1"]), func(i int) string { return v.Contacts["o1"][i].ID }), "c1,c2"},
		{"tokens of u2", names(len(v.Tokens["u2"]), func(i int) string { return v.Tokens["u2"][i].ID }), "k2"},
		{"policy", names(len(v.Policy), func(i int) string {
			return v.Policy[i].OrgID + "/" + v.Policy[i].PType + "/" + strings.Join(v.Policy[i].V, ":")
		}), "o1/g/u1:administrator:o1,o1/p/regular:o1:xa_xassist,o2/p/regular:o2:xa_xassist"},
	}
	for _, l := range lists {
		if l.got != l.want {
			t.Errorf("%s = %s, want %s", l.what, l.got, l.want)
		}
	}
	if o1, err := s.Policy(ctx, "o1"); err != nil || len(o1) != 2 {
		t.Errorf("Policy(o1) = %v, %v; want 2 rules", o1, err)
	}
	if v.Applied != 1 {
		t.Errorf("applied index = %d, want 1", v.Applied)
	}
}

// TestApplyOps applies one command per case, in order, on one store, and
// checks what it changed.
func TestApplyOps(t *testing.T) {
	s, _ := openTestStore(t)
	ctx := context.Background()
	mustApply(t, s, 1, seed())

	tests := []struct {
		name    string
		changes []storage.Change
		check   func(t *testing.T)
	}{{
		name:    "org.put renames",
		changes: []storage.Change{{Op: storage.OpPutOrg, Org: &storage.Org{ID: "o1", Name: "Acme Corp", CreatedAt: t0}}},
		check: func(t *testing.T) {
			if o, _ := s.Org(ctx, "o1"); o.Name != "Acme Corp" {
				t.Errorf("org name %q", o.Name)
			}
			if sites, _ := s.Sites(ctx, "o1"); len(sites) != 2 {
				t.Errorf("replacing an org lost its sites: %v", sites)
			}
		},
	}, {
		name:    "site.put inserts",
		changes: []storage.Change{{Op: storage.OpPutSite, Site: &storage.Site{ID: "s3", OrgID: "o2", Name: "Bolt plant"}}},
		check: func(t *testing.T) {
			if site, err := s.Site(ctx, "s3"); err != nil || site.OrgID != "o2" || !site.CreatedAt.IsZero() {
				t.Errorf("site %+v, %v", site, err)
			}
		},
	}, {
		name: "user.put replaces, keeps memberships, lower-cases e-mail",
		changes: []storage.Change{{Op: storage.OpPutUser, User: &storage.User{ID: "u2", OrgID: "o1", Email: "Robert@ACME.test",
			Name: "Robert", Kind: storage.UserRegular, Active: false, CreatedAt: t0, UpdatedAt: t0.Add(time.Hour)}, PasswordHash: "$argon2id$bob"}},
		check: func(t *testing.T) {
			u, err := s.UserByEmail(ctx, "o1", "ROBERT@acme.TEST")
			if err != nil || u.ID != "u2" || u.Email != "robert@acme.test" || u.Active || u.PasswordHash != "$argon2id$bob" ||
				!u.UpdatedAt.Equal(t0.Add(time.Hour)) {
				t.Errorf("user %+v, %v", u, err)
			}
			if m, _ := s.UserTeams(ctx, "u2"); len(m) != 1 {
				t.Errorf("replacing a user lost its memberships: %v", m)
			}
			if k, _ := s.Tokens(ctx, "u2"); len(k) != 1 {
				t.Errorf("replacing a user lost its tokens: %v", k)
			}
		},
	}, {
		name:    "role.put and role.delete",
		changes: []storage.Change{{Op: storage.OpPutRole, Role: &storage.Role{OrgID: "o1", Name: "auditor"}}, {Op: storage.OpDeleteRole, OrgID: "o1", ID: "regular"}},
		check: func(t *testing.T) {
			roles, _ := s.Roles(ctx, "o1")
			if len(roles) != 2 || roles[0].Name != "administrator" || roles[1].Name != "auditor" {
				t.Errorf("roles %+v", roles)
			}
		},
	}, {
		name: "team.member.set changes role, team.member.del removes",
		changes: []storage.Change{
			{Op: storage.OpSetTeamMember, Membership: &storage.TeamMembership{TeamID: "t1", UserID: "u1", Role: storage.TeamManager}},
			{Op: storage.OpDelTeamMember, Membership: &storage.TeamMembership{TeamID: "t1", UserID: "u2"}},
		},
		check: func(t *testing.T) {
			m, _ := s.TeamMembers(ctx, "t1")
			if want := []storage.TeamMembership{{TeamID: "t1", UserID: "u1", Role: storage.TeamManager}}; !reflect.DeepEqual(m, want) {
				t.Errorf("members %+v, want %+v", m, want)
			}
		},
	}, {
		name: "team.put then team.delete cascades memberships",
		changes: []storage.Change{
			{Op: storage.OpPutTeam, Team: &storage.Team{ID: "t2", OrgID: "o1", Name: "Night"}},
			{Op: storage.OpSetTeamMember, Membership: &storage.TeamMembership{TeamID: "t2", UserID: "u3"}},
			{Op: storage.OpDeleteTeam, ID: "t1"},
		},
		check: func(t *testing.T) {
			if _, err := s.Team(ctx, "t1"); !errors.Is(err, storage.ErrNotFound) {
				t.Errorf("deleted team: %v", err)
			}
			if m, _ := s.UserTeams(ctx, "u1"); len(m) != 0 {
				t.Errorf("memberships of a deleted team remain: %v", m)
			}
			if m, _ := s.TeamMembers(ctx, "t2"); len(m) != 1 || m[0].Role != storage.TeamMember {
				t.Errorf("t2 members %+v (an empty role means member)", m)
			}
		},
	}, {
		name: "label.put moves a label, label.del removes",
		changes: []storage.Change{
			{Op: storage.OpPutLabelGroup, LabelGroup: &storage.LabelGroup{ID: "g2", OrgID: "o1", Name: "Area", Color: "#00ff00"}},
			{Op: storage.OpPutLabel, Label: &storage.Label{ID: "l1", OrgID: "o1", GroupID: "g2", Name: "Press"}},
			{Op: storage.OpDelLabel, ID: "l2"},
		},
		check: func(t *testing.T) {
			labels, _ := s.Labels(ctx, "o1")
			if want := []storage.Label{{ID: "l1", OrgID: "o1", GroupID: "g2", Name: "Press"}}; !reflect.DeepEqual(labels, want) {
				t.Errorf("labels %+v", labels)
			}
		},
	}, {
		name:    "labelgroup.del cascades labels",
		changes: []storage.Change{{Op: storage.OpDelLabelGroup, ID: "g2"}},
		check: func(t *testing.T) {
			if labels, _ := s.Labels(ctx, "o1"); len(labels) != 0 {
				t.Errorf("labels of a deleted group remain: %+v", labels)
			}
			if groups, _ := s.LabelGroups(ctx, "o1"); len(groups) != 1 || groups[0].ID != "g1" {
				t.Errorf("groups %+v", groups)
			}
		},
	}, {
		name: "contact.put and contact.del",
		changes: []storage.Change{
			{Op: storage.OpPutContact, Contact: &storage.Contact{ID: "c3", OrgID: "o1", Name: "Aaron", Phone: "+1"}},
			{Op: storage.OpDelContact, ID: "c2"},
		},
		check: func(t *testing.T) {
			cs, _ := s.Contacts(ctx, "o1")
			if len(cs) != 2 || cs[0].ID != "c3" || cs[1].ID != "c1" {
				t.Errorf("contacts %+v", cs)
			}
		},
	}, {
		name: "policy.add ignores duplicates, policy.remove ignores absent",
		changes: []storage.Change{
			{Op: storage.OpAddPolicy, Rules: []storage.PolicyRule{
				{OrgID: "o1", PType: "p", V: []string{"regular", "o1", "xa_xassist"}},
				{OrgID: "o1", PType: "p", V: []string{"regular", "o1", "home_dashboard_access"}},
			}},
			{Op: storage.OpRemovePolicy, Rules: []storage.PolicyRule{
				{OrgID: "o1", PType: "g", V: []string{"u1", "administrator", "o1"}},
				{OrgID: "o1", PType: "g", V: []string{"nobody", "administrator", "o1"}},
			}},
		},
		check: func(t *testing.T) {
			rules, _ := s.Policy(ctx, "o1")
			want := []storage.PolicyRule{
				{OrgID: "o1", PType: "p", V: []string{"regular", "o1", "home_dashboard_access"}},
				{OrgID: "o1", PType: "p", V: []string{"regular", "o1", "xa_xassist"}},
			}
			if !reflect.DeepEqual(rules, want) {
				t.Errorf("policy %+v, want %+v", rules, want)
			}
		},
	}, {
		name: "policy.replace replaces one org's policy only",
		changes: []storage.Change{{Op: storage.OpReplacePolicy, OrgID: "o1", Rules: []storage.PolicyRule{
			{PType: "p", V: []string{"administrator", "o1", "*"}},
			{OrgID: "o1", PType: "g", V: []string{"u1", "administrator", "o1"}},
		}}},
		check: func(t *testing.T) {
			rules, _ := s.Policy(ctx, "")
			want := []storage.PolicyRule{
				{OrgID: "o1", PType: "g", V: []string{"u1", "administrator", "o1"}},
				{OrgID: "o1", PType: "p", V: []string{"administrator", "o1", "*"}},
				{OrgID: "o2", PType: "p", V: []string{"regular", "o2", "xa_xassist"}},
			}
			if !reflect.DeepEqual(rules, want) {
				t.Errorf("policy %+v, want %+v", rules, want)
			}
		},
	}, {
		name: "token.put and token.del",
		changes: []storage.Change{
			{Op: storage.OpPutToken, Token: &storage.APIToken{ID: "k3", OrgID: "o1", UserID: "u1", Name: "automation"}, TokenHash: hashOf("secret-3")},
			{Op: storage.OpDelToken, ID: "k1"},
		},
		check: func(t *testing.T) {
			toks, _ := s.Tokens(ctx, "u1")
			if len(toks) != 1 || toks[0].ID != "k3" || toks[0].ExpiresAt != nil {
				t.Errorf("tokens %+v", toks)
			}
			if _, err := s.TokenByHash(ctx, hashOf("secret-1")); !errors.Is(err, storage.ErrNotFound) {
				t.Errorf("deleted token still found: %v", err)
			}
		},
	}, {
		name: "deletes of absent ids are no-ops",
		changes: []storage.Change{
			{Op: storage.OpDeleteUser, ID: "nobody"}, {Op: storage.OpDeleteRole, OrgID: "o1", ID: "nobody"},
			{Op: storage.OpDeleteTeam, ID: "nobody"}, {Op: storage.OpDelTeamMember, Membership: &storage.TeamMembership{TeamID: "x", UserID: "y"}},
			{Op: storage.OpDelLabelGroup, ID: "nobody"}, {Op: storage.OpDelLabel, ID: "nobody"},
			{Op: storage.OpDelContact, ID: "nobody"}, {Op: storage.OpDelToken, ID: "nobody"},
		},
		check: func(t *testing.T) {},
	}, {
		name:    "user.delete cascades tokens and memberships, unlinks contacts",
		changes: []storage.Change{{Op: storage.OpDeleteUser, ID: "u2"}, {Op: storage.OpDeleteUser, ID: "u3"}},
		check: func(t *testing.T) {
			if _, err := s.User(ctx, "u2"); !errors.Is(err, storage.ErrNotFound) {
				t.Errorf("deleted user: %v", err)
			}
			if toks, _ := s.Tokens(ctx, "u2"); len(toks) != 0 {
				t.Errorf("tokens of a deleted user remain: %v", toks)
			}
			if m, _ := s.TeamMembers(ctx, "t2"); len(m) != 0 {
				t.Errorf("memberships of a deleted user remain: %v", m)
			}
			if c, err := s.Contact(ctx, "c1"); err != nil || c.UserID != "" {
				t.Errorf("contact of a deleted user = %+v, %v; want kept, unlinked", c, err)
			}
		},
	}}

	index := uint64(1)
	for _, tt := range tests {
		index++
		t.Run(tt.name, func(t *testing.T) {
			mustApply(t, s, index, cmd(tt.changes...))
			tt.check(t)
			if got, _ := s.AppliedIndex(ctx); got != index {
				t.Errorf("applied index %d, want %d", got, index)
			}
		})
	}
}

func TestApplySkipsAppliedIndexes(t *testing.T) {
	s, _ := openTestStore(t)
	ctx := context.Background()
	mustApply(t, s, 5, seed())
	rename := cmd(storage.Change{Op: storage.OpPutOrg, Org: &storage.Org{ID: "o1", Name: "Renamed"}})

	for _, index := range []uint64{5, 4, 1} {
		if err := s.Apply(ctx, index, rename); err != nil {
			t.Fatalf("Apply(%d) of an applied index: %v", index, err)
		}
		if o, _ := s.Org(ctx, "o1"); o.Name != "Acme" {
			t.Fatalf("Apply(%d) below the applied index changed data: %q", index, o.Name)
		}
	}
	if got, _ := s.AppliedIndex(ctx); got != 5 {
		t.Errorf("applied index %d, want 5", got)
	}
	// The same command applied twice at the same index applies once.
	addRule := cmd(storage.Change{Op: storage.OpAddPolicy, Rules: []storage.PolicyRule{{OrgID: "o1", PType: "p", V: []string{"x", "o1", "y"}}}})
	for range 2 {
		mustApply(t, s, 6, addRule)
	}
	if rules, _ := s.Policy(ctx, "o1"); len(rules) != 3 {
		t.Errorf("policy after replay: %v", rules)
	}
}

func TestApplyErrors(t *testing.T) {
	never := time.Date(9999, 12, 31, 0, 0, 0, 0, time.UTC)
	user := func(id, org, email string) storage.Change {
		return storage.Change{Op: storage.OpPutUser, User: &storage.User{ID: id, OrgID: org, Email: email, Name: id}}
	}
	tests := []struct {
		name    string
		changes []storage.Change
		want    error
		says    string
	}{
		{"empty command", nil, storage.ErrInvalid, "no changes"},
		{"unknown op", []storage.Change{{Op: "org.explode"}}, storage.ErrInvalid, "org.explode"},
		{"missing record", []storage.Change{{Op: storage.OpPutUser}}, storage.ErrInvalid, "user is required"},
		{"missing id", []storage.Change{user("", "o1", "x@acme.test")}, storage.ErrInvalid, "user.id is required"},
		{"duplicate e-mail", []storage.Change{user("u7", "o1", "ALICE@acme.test")}, storage.ErrConflict, "alice@acme.test is already used by user u1"},
		{"duplicate team name", []storage.Change{{Op: storage.OpPutTeam, Team: &storage.Team{ID: "t9", OrgID: "o1", Name: "MAINTENANCE"}}}, storage.ErrConflict, `a team named "MAINTENANCE" already exists (t1)`},
		{"user moved to another org", []storage.Change{user("u1", "o2", "alice2@acme.test")}, storage.ErrConflict, "user u1 exists in another organisation"},
		{"unknown org", []storage.Change{user("u7", "nope", "x@acme.test")}, storage.ErrNotFound, "org nope"},
		{"unknown team", []storage.Change{{Op: storage.OpSetTeamMember, Membership: &storage.TeamMembership{TeamID: "nope", UserID: "u1"}}}, storage.ErrNotFound, "team nope"},
		{"unknown user", []storage.Change{{Op: storage.OpSetTeamMember, Membership: &storage.TeamMembership{TeamID: "t1", UserID: "nope"}}}, storage.ErrNotFound, "user nope"},
		{"member of another org", []storage.Change{{Op: storage.OpSetTeamMember, Membership: &storage.TeamMembership{TeamID: "t1", UserID: "u9"}}}, storage.ErrInvalid, "another organisation"},
		{"bad team role", []storage.Change{{Op: storage.OpSetTeamMember, Membership: &storage.TeamMembership{TeamID: "t1", UserID: "u3", Role: "boss"}}}, storage.ErrInvalid, "CHECK"},
		{"bad user kind", []storage.Change{{Op: storage.OpPutUser, User: &storage.User{ID: "u7", OrgID: "o1", Email: "k@acme.test", Kind: "robot"}}}, storage.ErrInvalid, "CHECK"},
		{"label in a group of another org", []storage.Change{
			{Op: storage.OpPutLabelGroup, LabelGroup: &storage.LabelGroup{ID: "g9", OrgID: "o2", Name: "x"}},
			{Op: storage.OpPutLabel, Label: &storage.Label{ID: "l9", OrgID: "o1", GroupID: "g9", Name: "x"}},
		}, storage.ErrInvalid, "another organisation"},
		{"token without hash", []storage.Change{{Op: storage.OpPutToken, Token: &storage.APIToken{ID: "k9", OrgID: "o1", UserID: "u1"}}}, storage.ErrInvalid, "token_hash"},
		{"duplicate token hash", []storage.Change{{Op: storage.OpPutToken, Token: &storage.APIToken{ID: "k9", OrgID: "o1", UserID: "u1"}, TokenHash: hashOf("secret-2")}}, storage.ErrConflict, "UNIQUE"},
		{"time out of range", []storage.Change{{Op: storage.OpPutToken, Token: &storage.APIToken{ID: "k9", OrgID: "o1", UserID: "u1", ExpiresAt: &never}, TokenHash: hashOf("secret-9")}}, storage.ErrInvalid, "out of the range"},
		{"policy rule without values", []storage.Change{{Op: storage.OpAddPolicy, Rules: []storage.PolicyRule{{OrgID: "o1", PType: "p"}}}}, storage.ErrInvalid, "rule.v"},
		{"policy rule of an unknown org", []storage.Change{{Op: storage.OpAddPolicy, Rules: []storage.PolicyRule{{OrgID: "nope", PType: "p", V: []string{"a"}}}}}, storage.ErrNotFound, "org nope"},
		{"update of a team deleted meanwhile", []storage.Change{{Op: storage.OpPutTeam, Existing: true, Team: &storage.Team{ID: "t404", OrgID: "o1", Name: "Back"}}}, storage.ErrNotFound, "team t404 no longer exists"},
		{"update of a user deleted meanwhile", []storage.Change{{Op: storage.OpPutUser, Existing: true, User: &storage.User{ID: "u404", OrgID: "o1", Email: "z@acme.test", Kind: storage.UserRegular}}}, storage.ErrNotFound, "user u404 no longer exists"},
		{"update of a contact deleted meanwhile", []storage.Change{{Op: storage.OpPutContact, Existing: true, Contact: &storage.Contact{ID: "c404", OrgID: "o1", Name: "Z"}}}, storage.ErrNotFound, "contact c404 no longer exists"},
		{"existing on a policy change", []storage.Change{{Op: storage.OpAddPolicy, Existing: true, Rules: []storage.PolicyRule{{OrgID: "o1", PType: "p", V: []string{"a"}}}}}, storage.ErrInvalid, "existing"},
		{"policy replace with a rule of another org", []storage.Change{{Op: storage.OpReplacePolicy, OrgID: "o1", Rules: []storage.PolicyRule{{OrgID: "o2", PType: "p", V: []string{"a"}}}}}, storage.ErrInvalid, "rule.org_id"},
	}
	s, _ := openTestStore(t)
	ctx := context.Background()
	mustApply(t, s, 1, seed())
	before := viewOf(t, s)
	index := uint64(1)
	for _, tt := range tests {
		index++
		t.Run(tt.name, func(t *testing.T) {
			// A good change first: it must be rolled back with the bad one.
			var changes []storage.Change
			if len(tt.changes) > 0 {
				changes = append([]storage.Change{{Op: storage.OpPutOrg, Org: &storage.Org{ID: "o3", Name: "Rolled back"}}}, tt.changes...)
			}
			err := s.Apply(ctx, index, viaJSON(t, cmd(changes...)))
			if !errors.Is(err, tt.want) {
				t.Fatalf("Apply error = %v, want %v", err, tt.want)
			}
			if !strings.Contains(err.Error(), tt.says) {
				t.Errorf("error %q does not say %q", err, tt.says)
			}
			t.Log(err)
			after := viewOf(t, s)
			if after.Applied != index {
				t.Errorf("applied index after a refused command = %d, want %d", after.Applied, index)
			}
			after.Applied = before.Applied
			sameView(t, after, before)
		})
	}
}

func TestReadsNotFound(t *testing.T) {
	s, _ := openTestStore(t)
	ctx := context.Background()
	mustApply(t, s, 1, seed())
	tests := []struct {
		name string
		read func() error
		says string
	}{
		{"org", func() error { _, err := s.Org(ctx, "nope"); return err }, "org nope"},
		{"site", func() error { _, err := s.Site(ctx, "nope"); return err }, "site nope"},
		{"user", func() error { _, err := s.User(ctx, "nope"); return err }, "user nope"},
		{"user by email", func() error { _, err := s.UserByEmail(ctx, "o1", "nope@acme.test"); return err }, "nope@acme.test"},
		{"user by email, other org", func() error { _, err := s.UserByEmail(ctx, "o2", "bob@acme.test"); return err }, "bob@acme.test"},
		{"user by login", func() error { _, err := s.UserByLogin(ctx, "nope@acme.test"); return err }, "nope@acme.test"},
		{"team", func() error { _, err := s.Team(ctx, "nope"); return err }, "team nope"},
		{"contact", func() error { _, err := s.Contact(ctx, "nope"); return err }, "contact nope"},
		{"token", func() error { _, err := s.TokenByHash(ctx, hashOf("nope")); return err }, "api token"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.read()
			if !errors.Is(err, storage.ErrNotFound) || !strings.Contains(err.Error(), tt.says) {
				t.Errorf("error = %v, want ErrNotFound naming %q", err, tt.says)
			}
		})
	}
	// Lists of unknown parents are empty, not errors.
	if users, err := s.Users(ctx, "nope"); err != nil || users == nil || len(users) != 0 {
		t.Errorf("Users(nope) = %#v, %v; want an empty list", users, err)
	}
}

func TestUserByLogin(t *testing.T) {
	s, _ := openTestStore(t)
	ctx := context.Background()
	mustApply(t, s, 1, seed())
	u, err := s.UserByLogin(ctx, "BOB@acme.test")
	if err != nil || u.ID != "u2" {
		t.Errorf("UserByLogin(bob) = %+v, %v", u, err)
	}
	// alice@acme.test is a user of o1 and of o2: the login is ambiguous.
	if _, err := s.UserByLogin(ctx, "alice@acme.test"); !errors.Is(err, storage.ErrConflict) {
		t.Errorf("UserByLogin of an address in two organisations = %v, want ErrConflict", err)
	}
}

// A failure local to this node (here a cancelled context) does not advance
// the index: the command was not judged and must be applied again.
func TestApplyCancelledDoesNotAdvance(t *testing.T) {
	s, _ := openTestStore(t)
	mustApply(t, s, 1, seed())
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := s.Apply(ctx, 2, cmd(storage.Change{Op: storage.OpPutOrg, Org: &storage.Org{ID: "o3", Name: "x"}}))
	if err == nil {
		t.Fatal("Apply with a cancelled context succeeded")
	}
	if got, _ := s.AppliedIndex(context.Background()); got != 1 {
		t.Errorf("applied index %d, want 1", got)
	}
}

// TestApplyExistingUpdates: an update applies to a record that is there,
// and does not bring back one deleted before it was applied.
func TestApplyExistingUpdates(t *testing.T) {
	s, _ := openTestStore(t)
	ctx := context.Background()
	mustApply(t, s, 1, seed())
	rename := func(name string) storage.Command {
		return cmd(storage.Change{Op: storage.OpPutTeam, Existing: true, Team: &storage.Team{ID: "t1", OrgID: "o1", Name: name, CreatedAt: t0}})
	}
	mustApply(t, s, 2, rename("Night shift"))
	if tm, err := s.Team(ctx, "t1"); err != nil || tm.Name != "Night shift" {
		t.Fatalf("renamed team = %+v, %v", tm, err)
	}
	mustApply(t, s, 3, cmd(storage.Change{Op: storage.OpDeleteTeam, ID: "t1"}))
	if err := s.Apply(ctx, 4, rename("Day shift")); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("rename after the delete = %v, want not found", err)
	}
	if _, err := s.Team(ctx, "t1"); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("the deleted team came back: %v", err)
	}
}
