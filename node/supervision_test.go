package node

import (
	"slices"
	"strings"
	"testing"

	"siteline/internal/testutil"
	"siteline/policy"
	"siteline/storage"
	"siteline/web"
)

// supervisionOrg is an organisation with two teams: A (lead, manager,
// member, and nested, a member of A who leads B) and B (nested as lead,
// other as member); outsider is in no team.
type supervisionOrg struct {
	tn                                             *testNode
	teamA, teamB                                   string
	lead, manager, member, nested, other, outsider userJSON
}

const supervisionPassword = "supervision password 1"

func newSupervisionOrg(t *testing.T, tn *testNode) *supervisionOrg {
	t.Helper()
	adm := tn.admin()
	o := &supervisionOrg{tn: tn}
	o.lead = createUser(t, adm, "lead@plant.example", supervisionPassword, policy.RoleTeamLead)
	o.manager = createUser(t, adm, "manager@plant.example", supervisionPassword, policy.RoleTeamManager)
	o.member = createUser(t, adm, "member@plant.example", supervisionPassword, policy.RoleTeamMember)
	o.nested = createUser(t, adm, "nested@plant.example", supervisionPassword, policy.RoleTeamLead)
	o.other = createUser(t, adm, "other@plant.example", supervisionPassword, policy.RoleTeamMember)
	o.outsider = createUser(t, adm, "outsider@plant.example", supervisionPassword, policy.RoleRegular)
	team := func(name string) string {
		var out storage.Team
		if st := adm.do("POST", "/api/v1/teams", map[string]string{"name": name}, &out); st != 201 {
			t.Fatalf("create team %s = %d", name, st)
		}
		return out.ID
	}
	o.teamA, o.teamB = team("Line A"), team("Line B")
	for _, m := range []struct {
		team string
		user userJSON
		role storage.TeamRole
	}{
		{o.teamA, o.lead, storage.TeamLead}, {o.teamA, o.manager, storage.TeamManager}, {o.teamA, o.member, storage.TeamMember},
		{o.teamA, o.nested, storage.TeamMember}, {o.teamB, o.nested, storage.TeamLead}, {o.teamB, o.other, storage.TeamMember},
	} {
		if st := adm.do("PUT", "/api/v1/teams/"+m.team+"/members/"+m.user.ID, map[string]any{"role": m.role}, nil); st != 204 && st != 200 {
			t.Fatalf("put %s in team = %d", m.user.Email, st)
		}
	}
	return o
}

// TestTeamDashboardScope: lead, manager, member, outsider, administrator
// and a user nested in two teams (member of A, lead of B), each on their
// own team and another team: the teams listed, the board's members, and
// a 403 naming xa_sup_team-dashboard for everything else.
func TestTeamDashboardScope(t *testing.T) {
	testutil.System(t)
	tn := startNode(t, Config{})
	o := newSupervisionOrg(t, tn)
	type want struct {
		teams   []string            // teams listed; nil: 403
		members map[string][]string // team -> members on its board; a team absent: 403
	}
	cases := []struct {
		who string
		b   *browser
		w   want
	}{
		{"lead", tn.login(o.lead.Email, supervisionPassword), want{[]string{o.teamA}, map[string][]string{o.teamA: {o.member.ID, o.nested.ID}}}},
		{"manager", tn.login(o.manager.Email, supervisionPassword), want{[]string{o.teamA}, map[string][]string{o.teamA: {o.lead.ID, o.member.ID, o.nested.ID}}}},
		{"member", tn.login(o.member.Email, supervisionPassword), want{}},
		{"outsider", tn.login(o.outsider.Email, supervisionPassword), want{}},
		{"nested", tn.login(o.nested.Email, supervisionPassword), want{[]string{o.teamB}, map[string][]string{o.teamB: {o.other.ID}}}},
		{"administrator", tn.admin(), want{[]string{o.teamA, o.teamB}, map[string][]string{
			o.teamA: {o.lead.ID, o.manager.ID, o.member.ID, o.nested.ID}, o.teamB: {o.nested.ID, o.other.ID}}}},
	}
	forbidden := func(what string, st int, body []byte) {
		t.Helper()
		e := apiError(t, body)
		if st != 403 || e.Permission != policy.TeamDashboard || !strings.Contains(e.Error, policy.TeamDashboard) {
			t.Errorf("%s = %d %+v, want 403 naming %s", what, st, e, policy.TeamDashboard)
		}
	}
	for _, c := range cases {
		st, body := c.b.raw("GET", "/api/v1/supervision/teams", "", nil)
		if c.w.teams == nil {
			forbidden(c.who+" lists teams", st, body)
		} else {
			var got []web.SupervisedTeam
			if st != 200 || c.b.do("GET", "/api/v1/supervision/teams", nil, &got) != 200 {
				t.Fatalf("%s lists teams = %d", c.who, st)
			}
			var ids []string
			for _, x := range got {
				ids = append(ids, x.ID)
			}
			if slices.Sort(ids); !slices.Equal(ids, sorted(c.w.teams)) {
				t.Errorf("%s lists teams %v, want %v", c.who, ids, c.w.teams)
			}
		}
		for _, team := range []string{o.teamA, o.teamB} {
			path := "/api/v1/supervision/teams/" + team
			want, ok := c.w.members[team]
			if !ok {
				st, body := c.b.raw("GET", path, "", nil)
				forbidden(c.who+" on team "+team, st, body)
				continue
			}
			var b web.TeamBoard
			if st := c.b.do("GET", path, nil, &b); st != 200 {
				t.Fatalf("%s on team %s = %d", c.who, team, st)
			}
			var ids []string
			for _, m := range b.Members {
				ids = append(ids, m.ID)
			}
			if slices.Sort(ids); !slices.Equal(ids, sorted(want)) {
				t.Errorf("%s on team %s sees %v, want %v", c.who, team, ids, want)
			}
		}
		// The page and its navigation entry follow the permission.
		st, page := c.b.raw("GET", "/supervision", "", nil)
		if c.w.teams == nil {
			if st != 403 || !strings.Contains(string(page), policy.TeamDashboard) {
				t.Errorf("%s opens /supervision = %d, want 403 naming %s", c.who, st, policy.TeamDashboard)
			}
		} else if st != 200 || !strings.Contains(string(page), `href="/supervision"`) || !strings.Contains(string(page), `id="sv-team"`) {
			t.Errorf("%s opens /supervision = %d, want the page with its navigation entry", c.who, st)
		}
	}
	if st := tn.admin().do("GET", "/api/v1/supervision/teams/no-such-team", nil, nil); st != 404 {
		t.Errorf("unknown team = %d, want 404", st)
	}
}

func sorted(s []string) []string {
	out := slices.Clone(s)
	slices.Sort(out)
	return out
}
