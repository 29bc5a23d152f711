package sqlite

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"siteline/storage"
)

// t0 has nanoseconds on purpose: times must survive storage exactly.
var t0 = time.Date(2025, 3, 1, 8, 30, 0, 123456789, time.UTC)

func openTestStore(t *testing.T) (*Store, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "siteline.db")
	s, err := Open(context.Background(), path, nil)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s, path
}

func hashOf(secret string) []byte {
	h := sha256.Sum256([]byte(secret))
	return h[:]
}

func cmd(changes ...storage.Change) storage.Command {
	return storage.Command{Changes: changes, At: t0, ActorID: "test"}
}

// viaJSON sends a command through JSON as Raft does, so that fields kept
// out of JSON on the records are lost exactly as in production.
func viaJSON(t *testing.T, c storage.Command) storage.Command {
	t.Helper()
	data, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	var out storage.Command
	if err := json.Unmarshal(data, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

func mustApply(t *testing.T, s *Store, index uint64, c storage.Command) {
	t.Helper()
	if err := s.Apply(context.Background(), index, viaJSON(t, c)); err != nil {
		t.Fatalf("Apply(%d): %v", index, err)
	}
}

// seed is a populated organisation touching every table Apply writes.
func seed() storage.Command {
	expires := t0.Add(90 * 24 * time.Hour)
	return cmd(
		storage.Change{Op: storage.OpPutOrg, Org: &storage.Org{ID: "o1", Name: "Acme", CreatedAt: t0}},
		storage.Change{Op: storage.OpPutOrg, Org: &storage.Org{ID: "o2", Name: "Bolt", CreatedAt: t0}},
		storage.Change{Op: storage.OpPutSite, Site: &storage.Site{ID: "s1", OrgID: "o1", Name: "Plant North", CreatedAt: t0}},
		storage.Change{Op: storage.OpPutSite, Site: &storage.Site{ID: "s2", OrgID: "o1", Name: "HQ", CreatedAt: t0}},
		storage.Change{Op: storage.OpPutUser, User: &storage.User{ID: "u1", OrgID: "o1", Email: "alice@acme.test", Name: "Alice",
			Kind: storage.UserRegular, Active: true, CreatedAt: t0, UpdatedAt: t0}, PasswordHash: "$argon2id$alice"},
		storage.Change{Op: storage.OpPutUser, User: &storage.User{ID: "u2", OrgID: "o1", Email: "bob@acme.test", Name: "Bob",
			Kind: storage.UserRegular, Active: true, CreatedAt: t0, UpdatedAt: t0}},
		storage.Change{Op: storage.OpPutUser, User: &storage.User{ID: "u3", OrgID: "o1", Email: "guest@acme.test", Name: "Guest",
			Kind: storage.UserGuestMobile, CreatedAt: t0, UpdatedAt: t0}},
		storage.Change{Op: storage.OpPutUser, User: &storage.User{ID: "u9", OrgID: "o2", Email: "alice@acme.test", Name: "Alice at Bolt",
			Kind: storage.UserRegular, Active: true, CreatedAt: t0, UpdatedAt: t0}},
		storage.Change{Op: storage.OpPutRole, Role: &storage.Role{OrgID: "o1", Name: "administrator", Description: "everything", Builtin: true}},
		storage.Change{Op: storage.OpPutRole, Role: &storage.Role{OrgID: "o1", Name: "regular", Description: "the matrix", Builtin: true}},
		storage.Change{Op: storage.OpPutTeam, Team: &storage.Team{ID: "t1", OrgID: "o1", Name: "Maintenance", CreatedAt: t0}},
		storage.Change{Op: storage.OpSetTeamMember, Membership: &storage.TeamMembership{TeamID: "t1", UserID: "u1", Role: storage.TeamLead}},
		storage.Change{Op: storage.OpSetTeamMember, Membership: &storage.TeamMembership{TeamID: "t1", UserID: "u2", Role: storage.TeamMember}},
		storage.Change{Op: storage.OpPutLabelGroup, LabelGroup: &storage.LabelGroup{ID: "g1", OrgID: "o1", Name: "Machine", Color: "#ff0000"}},
		storage.Change{Op: storage.OpPutLabel, Label: &storage.Label{ID: "l1", OrgID: "o1", GroupID: "g1", Name: "Press"}},
		storage.Change{Op: storage.OpPutLabel, Label: &storage.Label{ID: "l2", OrgID: "o1", GroupID: "g1", Name: "Lathe"}},
		storage.Change{Op: storage.OpPutContact, Contact: &storage.Contact{ID: "c1", OrgID: "o1", UserID: "u2", Name: "Bob",
			Email: "bob@acme.test", Phone: "+41 00", Company: "Acme", Notes: "night shift", CreatedAt: t0}},
		storage.Change{Op: storage.OpPutContact, Contact: &storage.Contact{ID: "c2", OrgID: "o1", Name: "Supplier", CreatedAt: t0}},
		storage.Change{Op: storage.OpAddPolicy, Rules: []storage.PolicyRule{
			{OrgID: "o1", PType: "p", V: []string{"regular", "o1", "xa_xassist"}},
			{OrgID: "o1", PType: "g", V: []string{"u1", "administrator", "o1"}},
			{OrgID: "o2", PType: "p", V: []string{"regular", "o2", "xa_xassist"}},
		}},
		storage.Change{Op: storage.OpPutToken, Token: &storage.APIToken{ID: "k1", OrgID: "o1", UserID: "u1", Name: "cli",
			CreatedAt: t0, ExpiresAt: &expires}, TokenHash: hashOf("secret-1")},
		storage.Change{Op: storage.OpPutToken, Token: &storage.APIToken{ID: "k2", OrgID: "o1", UserID: "u2", Name: "ci",
			CreatedAt: t0}, TokenHash: hashOf("secret-2")},
	)
}

// orgView is everything OrgReader lists, for every organisation, user and
// team: two stores with equal views hold the same organisation data.
type orgView struct {
	Orgs        []storage.Org
	Sites       map[string][]storage.Site
	Users       map[string][]storage.User
	Roles       map[string][]storage.Role
	Teams       map[string][]storage.Team
	Members     map[string][]storage.TeamMembership
	UserTeams   map[string][]storage.TeamMembership
	LabelGroups map[string][]storage.LabelGroup
	Labels      map[string][]storage.Label
	Contacts    map[string][]storage.Contact
	Policy      []storage.PolicyRule
	Tokens      map[string][]storage.APIToken
	Applied     uint64
}

func viewOf(t *testing.T, s *Store) orgView {
	t.Helper()
	ctx := context.Background()
	check := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	v := orgView{
		Sites: map[string][]storage.Site{}, Users: map[string][]storage.User{}, Roles: map[string][]storage.Role{},
		Teams: map[string][]storage.Team{}, Members: map[string][]storage.TeamMembership{},
		UserTeams: map[string][]storage.TeamMembership{}, LabelGroups: map[string][]storage.LabelGroup{},
		Labels: map[string][]storage.Label{}, Contacts: map[string][]storage.Contact{}, Tokens: map[string][]storage.APIToken{},
	}
	var err error
	v.Orgs, err = s.Orgs(ctx)
	check(err)
	for _, o := range v.Orgs {
		v.Sites[o.ID], err = s.Sites(ctx, o.ID)
		check(err)
		v.Users[o.ID], err = s.Users(ctx, o.ID)
		check(err)
		v.Roles[o.ID], err = s.Roles(ctx, o.ID)
		check(err)
		v.Teams[o.ID], err = s.Teams(ctx, o.ID)
		check(err)
		v.LabelGroups[o.ID], err = s.LabelGroups(ctx, o.ID)
		check(err)
		v.Labels[o.ID], err = s.Labels(ctx, o.ID)
		check(err)
		v.Contacts[o.ID], err = s.Contacts(ctx, o.ID)
		check(err)
		for _, u := range v.Users[o.ID] {
			v.UserTeams[u.ID], err = s.UserTeams(ctx, u.ID)
			check(err)
			v.Tokens[u.ID], err = s.Tokens(ctx, u.ID)
			check(err)
		}
		for _, tm := range v.Teams[o.ID] {
			v.Members[tm.ID], err = s.TeamMembers(ctx, tm.ID)
			check(err)
		}
	}
	v.Policy, err = s.Policy(ctx, "")
	check(err)
	v.Applied, err = s.AppliedIndex(ctx)
	check(err)
	return v
}

func sameView(t *testing.T, got, want orgView) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		g, _ := json.MarshalIndent(got, "", " ")
		w, _ := json.MarshalIndent(want, "", " ")
		t.Fatalf("organisation data differs\n got: %s\nwant: %s", g, w)
	}
}
