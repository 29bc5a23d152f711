package sqlite

import (
	"context"
	"errors"
	"reflect"
	"testing"

	"siteline/storage"
)

// scopedStore is the seed with more teams: one with no members, one whose
// members' names sort otherwise than their ids, and one of the second
// organisation, which has a contact, a site and a token too.
func scopedStore(t *testing.T) *Store {
	t.Helper()
	s, _ := openTestStore(t)
	mustApply(t, s, 1, seed())
	mustApply(t, s, 2, cmd(
		storage.Change{Op: storage.OpPutUser, User: &storage.User{ID: "u4", OrgID: "o1", Email: "aaron@acme.test", Name: "Aaron",
			Kind: storage.UserRegular, Active: true, CreatedAt: t0, UpdatedAt: t0}},
		storage.Change{Op: storage.OpPutTeam, Team: &storage.Team{ID: "t2", OrgID: "o1", Name: "assembly", CreatedAt: t0}},
		storage.Change{Op: storage.OpPutTeam, Team: &storage.Team{ID: "t3", OrgID: "o1", Name: "Empty", CreatedAt: t0}},
		storage.Change{Op: storage.OpSetTeamMember, Membership: &storage.TeamMembership{TeamID: "t2", UserID: "u3", Role: storage.TeamManager}},
		storage.Change{Op: storage.OpSetTeamMember, Membership: &storage.TeamMembership{TeamID: "t2", UserID: "u2", Role: storage.TeamMember}},
		storage.Change{Op: storage.OpSetTeamMember, Membership: &storage.TeamMembership{TeamID: "t2", UserID: "u1", Role: storage.TeamLead}},
		storage.Change{Op: storage.OpSetTeamMember, Membership: &storage.TeamMembership{TeamID: "t2", UserID: "u4", Role: storage.TeamMember}},
		storage.Change{Op: storage.OpPutTeam, Team: &storage.Team{ID: "t9", OrgID: "o2", Name: "Bolt crew", CreatedAt: t0}},
		storage.Change{Op: storage.OpSetTeamMember, Membership: &storage.TeamMembership{TeamID: "t9", UserID: "u9", Role: storage.TeamLead}},
		storage.Change{Op: storage.OpPutContact, Contact: &storage.Contact{ID: "c9", OrgID: "o2", Name: "Bolt supplier", CreatedAt: t0}},
		storage.Change{Op: storage.OpPutSite, Site: &storage.Site{ID: "s9", OrgID: "o2", Name: "Bolt plant", CreatedAt: t0}},
		storage.Change{Op: storage.OpPutToken, Token: &storage.APIToken{ID: "k9", OrgID: "o2", UserID: "u9", Name: "bolt",
			CreatedAt: t0}, TokenHash: hashOf("secret-9")},
	))
	return s
}

func same[T any](t *testing.T, what string, got, want T) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Errorf("%s = %+v\nwant %+v", what, got, want)
	}
}

// result holds what a read returned; get fails the test on its error.
type result[T any] struct {
	v   T
	err error
}

func res[T any](v T, err error) result[T] { return result[T]{v, err} }

func (r result[T]) get(t *testing.T) T {
	t.Helper()
	if r.err != nil {
		t.Fatal(r.err)
	}
	return r.v
}

// A record read by id through Scoped is the Store's record in its own
// organisation, and not found in any other, just like an id nobody has.
func TestScopedReadsKeepToTheOrganisation(t *testing.T) {
	ctx := context.Background()
	s := scopedStore(t)
	v := s.Scoped()
	for _, tc := range []struct {
		what, org, id string
		scoped        func(orgID, id string) (any, error)
		plain         func(id string) (any, error)
	}{
		{"site", "o1", "s1", func(o, id string) (any, error) { return v.Site(ctx, o, id) }, func(id string) (any, error) { return s.Site(ctx, id) }},
		{"user", "o1", "u1", func(o, id string) (any, error) { return v.User(ctx, o, id) }, func(id string) (any, error) { return s.User(ctx, id) }},
		{"user", "o2", "u9", func(o, id string) (any, error) { return v.User(ctx, o, id) }, func(id string) (any, error) { return s.User(ctx, id) }},
		{"team", "o1", "t1", func(o, id string) (any, error) { return v.Team(ctx, o, id) }, func(id string) (any, error) { return s.Team(ctx, id) }},
		{"contact", "o1", "c1", func(o, id string) (any, error) { return v.Contact(ctx, o, id) }, func(id string) (any, error) { return s.Contact(ctx, id) }},
		{"team with members", "o2", "t9", func(o, id string) (any, error) {
			tm, err := v.TeamWithMembers(ctx, o, id)
			return tm.Team, err
		}, func(id string) (any, error) { return s.Team(ctx, id) }},
	} {
		other := map[string]string{"o1": "o2", "o2": "o1"}[tc.org]
		got, err := tc.scoped(tc.org, tc.id)
		if err != nil {
			t.Errorf("%s %s in %s: %v", tc.what, tc.id, tc.org, err)
			continue
		}
		same(t, tc.what+" "+tc.id, got, res(tc.plain(tc.id)).get(t))
		for _, org := range []string{other, "", "o-none"} {
			if _, err := tc.scoped(org, tc.id); !errors.Is(err, storage.ErrNotFound) {
				t.Errorf("%s %s of %s read in %q: err = %v, want ErrNotFound", tc.what, tc.id, tc.org, org, err)
			}
		}
		if _, err := tc.scoped(tc.org, "nobody"); !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("unknown %s in %s: err = %v, want ErrNotFound", tc.what, tc.org, err)
		}
	}

	// Lists by owner hold nothing of the owner in another organisation.
	same(t, "tokens of u1 in o1", res(v.Tokens(ctx, "o1", "u1")).get(t), res(s.Tokens(ctx, "u1")).get(t))
	same(t, "tokens of u9 in o1", res(v.Tokens(ctx, "o1", "u9")).get(t), []storage.APIToken{})
	same(t, "teams of u9 in o1", res(v.UserTeams(ctx, "o1", "u9")).get(t), []storage.UserTeam{})
	same(t, "teams of u1 in o2", res(v.UserTeams(ctx, "o2", "u1")).get(t), []storage.UserTeam{})
	same(t, "policy of o1", res(v.Policy(ctx, "o1")).get(t), res(s.Policy(ctx, "o1")).get(t))
	same(t, "policy of no organisation", res(v.Policy(ctx, "")).get(t), []storage.PolicyRule{})
	same(t, "sites of o2", res(v.Sites(ctx, "o2")).get(t), res(s.Sites(ctx, "o2")).get(t))
}

// The joined reads give what reading the list and then each item's part
// gives, in the same order.
func TestScopedJoinsMatchTheNaiveReads(t *testing.T) {
	ctx := context.Background()
	s := scopedStore(t)
	v := s.Scoped()
	for _, org := range []string{"o1", "o2", "o-none"} {
		var want []storage.TeamWithMembers
		for _, tm := range res(s.Teams(ctx, org)).get(t) {
			want = append(want, storage.TeamWithMembers{Team: tm, Members: res(s.TeamMembers(ctx, tm.ID)).get(t)})
			same(t, "team "+tm.ID+" with members", res(v.TeamWithMembers(ctx, org, tm.ID)).get(t), want[len(want)-1])
		}
		if want == nil {
			want = []storage.TeamWithMembers{}
		}
		same(t, "teams with members of "+org, res(v.TeamsWithMembers(ctx, org)).get(t), want)

		users := res(s.Users(ctx, org)).get(t)
		for _, u := range users {
			wantTeams := []storage.UserTeam{}
			for _, m := range res(s.UserTeams(ctx, u.ID)).get(t) {
				tm := res(s.Team(ctx, m.TeamID)).get(t)
				wantTeams = append(wantTeams, storage.UserTeam{TeamMembership: m, TeamName: tm.Name})
			}
			same(t, "teams of "+u.ID, res(v.UserTeams(ctx, org, u.ID)).get(t), wantTeams)
		}

		want2 := storage.OrgCounts{Users: len(users), Teams: len(res(s.Teams(ctx, org)).get(t)),
			Contacts: len(res(s.Contacts(ctx, org)).get(t)), LabelGroups: len(res(s.LabelGroups(ctx, org)).get(t)),
			Labels: len(res(s.Labels(ctx, org)).get(t))}
		for _, u := range users {
			if u.Active {
				want2.ActiveUsers++
			}
		}
		same(t, "counts of "+org, res(v.Counts(ctx, org)).get(t), want2)
	}

	// The seed is what the comparisons above are about: a team with no
	// members, one with three, and counts that are not all alike.
	teams := res(v.TeamsWithMembers(ctx, "o1")).get(t)
	if len(teams) != 3 || len(teams[0].Members) != 4 || teams[0].Members[0].UserID != "u4" || len(teams[1].Members) != 0 {
		t.Errorf("teams of o1 = %+v, want assembly with four members, Aaron (u4) first, then Empty with none, then Maintenance", teams)
	}
	if c := res(v.Counts(ctx, "o1")).get(t); c.Users != 4 || c.ActiveUsers != 3 || c.Teams != 3 || c.Labels != 2 {
		t.Errorf("counts of o1 = %+v", c)
	}
}
