package web

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"

	"siteline/policy"
	"siteline/storage"
)

// fakeSupervision watches team t1 only, and records activity.
type fakeSupervision struct {
	mu     sync.Mutex
	active []string
}

func (f *fakeSupervision) Teams(_ context.Context, a Actor) ([]SupervisedTeam, error) {
	return []SupervisedTeam{{Team: storage.Team{ID: "t1", OrgID: a.OrgID, Name: "Line 1"}, Role: storage.TeamLead, Members: 1,
		Counts: map[string]int{StatusBusy: 1}}}, nil
}

func (f *fakeSupervision) Board(_ context.Context, a Actor, teamID string) (TeamBoard, error) {
	if teamID != "t1" {
		return TeamBoard{}, fmt.Errorf("team %s is not yours: %w", teamID, &storage.ForbiddenError{Permission: policy.TeamDashboard})
	}
	return TeamBoard{Team: storage.Team{ID: "t1", Name: "Line 1"}, Members: []BoardMember{{ID: "u1", Name: "Ann", Status: StatusBusy, CallID: "c1"}},
		Sessions: []BoardSession{}, Queue: []QueueItem{}}, nil
}

func (f *fakeSupervision) Watch(Actor, func(Event) error) func() { return func() {} }

func (f *fakeSupervision) Active(a Actor) {
	f.mu.Lock()
	f.active = append(f.active, a.UserID)
	f.mu.Unlock()
}

// TestSupervisionRoutes: the dashboard's API and page answer a holder of
// xa_sup_team-dashboard, refuse anyone else with a 403 naming it, and
// pass the service's scope refusal on as a 403 naming it too; the page
// links itself in the navigation; activity a page reports reaches the
// service, anything else it sends does not.
func TestSupervisionRoutes(t *testing.T) {
	sup := &fakeSupervision{}
	s, d, _, nobody := loggedIn(t, func(deps *Deps) { deps.Supervision = sup })
	d.addUser("u-lead", "lead@plant.example", testPass, policy.TeamDashboard)
	lead := &browser{t: t, s: s}
	lead.login("lead@plant.example", testPass)

	var teams []SupervisedTeam
	decodeBody(t, lead.send("GET", APIPrefix+"/supervision/teams", "", "", "Accept", "application/json"), &teams)
	if len(teams) != 1 || teams[0].ID != "t1" || teams[0].Counts[StatusBusy] != 1 {
		t.Fatalf("teams = %+v", teams)
	}
	var b TeamBoard
	decodeBody(t, lead.send("GET", APIPrefix+"/supervision/teams/t1", "", "", "Accept", "application/json"), &b)
	if len(b.Members) != 1 || b.Members[0].CallID != "c1" {
		t.Fatalf("board = %+v", b)
	}
	for _, tc := range []struct {
		who  *browser
		path string
	}{
		{lead, APIPrefix + "/supervision/teams/t2"},
		{nobody, APIPrefix + "/supervision/teams"},
		{nobody, APIPrefix + "/supervision/teams/t1"},
	} {
		got := tc.who.send("GET", tc.path, "", "", "Accept", "application/json")
		if e := errorBody(t, got); got.status != http.StatusForbidden || e.Permission != policy.TeamDashboard {
			t.Errorf("%s = %d %+v, want 403 naming %s", tc.path, got.status, e, policy.TeamDashboard)
		}
	}
	page := lead.page("/supervision")
	if page.status != http.StatusOK || !strings.Contains(page.body, `href="/supervision"`) || !strings.Contains(page.body, `data-team="t1"`) ||
		!strings.Contains(page.body, "/static/uplot-1.6.32.min.") {
		t.Fatalf("page = %d", page.status)
	}
	if got := nobody.page("/"); strings.Contains(got.body, `href="/supervision"`) {
		t.Error("the navigation links the dashboard for a user without the permission")
	}

	a := Actor{UserID: "u-lead", OrgID: "o1"}
	s.pageMessage(a, []byte(`{"type":"activity"}`))
	s.pageMessage(a, []byte(`{"type":"decline"}`))
	s.pageMessage(a, []byte(`not json`))
	if len(sup.active) != 1 || sup.active[0] != "u-lead" {
		t.Fatalf("activity recorded = %v, want one of u-lead", sup.active)
	}
}
