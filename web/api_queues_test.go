package web

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"testing"

	"siteline/policy"
	"siteline/storage"
)

// fakeQueues answers as node/queue does: the permission of each action
// from the fake policy, team "t1" the only team, the strategy checked.
type fakeQueues struct{ d *fakeData }

func (f fakeQueues) has(a Actor, perm string) error {
	if slices.Contains(f.d.perms[a.UserID], perm) {
		return nil
	}
	return &storage.ForbiddenError{Permission: perm}
}

func (f fakeQueues) AutoAssign(_ context.Context, a Actor, userID string) (AutoAssignState, error) {
	perm := policy.AutoAssign
	if userID != "" {
		perm = policy.ManageQueues
	}
	if err := f.has(a, perm); err != nil {
		return AutoAssignState{}, err
	}
	return AutoAssignState{UserID: a.UserID, On: true, Eligible: true}, nil
}

func (f fakeQueues) SetAutoAssign(ctx context.Context, a Actor, userID string, on bool) (AutoAssignState, error) {
	st, err := f.AutoAssign(ctx, a, userID)
	st.On = on
	return st, err
}

func (f fakeQueues) ListTeamQueue(_ context.Context, a Actor, teamID string) ([]QueuedRequest, error) {
	if teamID != "t1" {
		return nil, fmt.Errorf("team %s: %w", teamID, storage.ErrNotFound)
	}
	return nil, nil
}

func (f fakeQueues) SetStrategy(_ context.Context, a Actor, teamID, strategy string) (storage.TeamQueue, error) {
	if teamID != "t1" {
		return storage.TeamQueue{}, fmt.Errorf("team %s: %w", teamID, storage.ErrNotFound)
	}
	if err := f.has(a, policy.ManageQueues); err != nil {
		return storage.TeamQueue{}, err
	}
	tq := storage.TeamQueue{OrgID: "o", TeamID: teamID, Strategy: strategy}
	return tq, tq.Validate()
}

func (f fakeQueues) Strategy(_ context.Context, a Actor, teamID string) (storage.TeamQueue, error) {
	if teamID != "t1" {
		return storage.TeamQueue{}, fmt.Errorf("team %s: %w", teamID, storage.ErrNotFound)
	}
	return storage.TeamQueue{OrgID: "o", TeamID: teamID, Strategy: storage.StrategyRoundRobin}, nil
}

func (f fakeQueues) Teams(context.Context, Actor) ([]storage.Team, error) { return nil, nil }

func TestQueueRoutesPermissionsAndBadInput(t *testing.T) {
	// The routes exist only with a Queues service; the fake reads the
	// policy of the server's own data.
	s, d := newTestServer(t, func(deps *Deps) { deps.Queues = fakeQueues{} })
	s.deps.Queues = fakeQueues{d: d}
	d.addUser("m1", "member@plant.example", testPass, policy.AutoAssign)
	d.addUser("l1", "lead@plant.example", testPass, policy.ManageQueues)
	d.addUser("x1", "other@plant.example", testPass)
	member, lead, other := &browser{t: t, s: s}, &browser{t: t, s: s}, &browser{t: t, s: s}
	member.login("member@plant.example", testPass)
	lead.login("lead@plant.example", testPass)
	other.login("other@plant.example", testPass)

	for _, c := range []struct {
		name         string
		b            *browser
		method, path string
		body         string
		status       int
		permission   string
	}{
		{"member reads own switch", member, "GET", "/api/v1/me/auto-assign", "", http.StatusOK, ""},
		{"member switches off", member, "PUT", "/api/v1/me/auto-assign", `{"on":false}`, http.StatusOK, ""},
		{"switch without on", member, "PUT", "/api/v1/me/auto-assign", `{}`, http.StatusBadRequest, ""},
		{"no auto-assign permission", other, "PUT", "/api/v1/me/auto-assign", `{"on":false}`, http.StatusForbidden, policy.AutoAssign},
		{"member switches another", member, "PUT", "/api/v1/users/m2/auto-assign", `{"on":false}`, http.StatusForbidden, policy.ManageQueues},
		{"lead switches a member", lead, "PUT", "/api/v1/users/m1/auto-assign", `{"on":false}`, http.StatusOK, ""},
		{"member sets strategy", member, "PUT", "/api/v1/teams/t1/queue", `{"strategy":"round-robin"}`, http.StatusForbidden, policy.ManageQueues},
		{"lead sets strategy", lead, "PUT", "/api/v1/teams/t1/queue", `{"strategy":"longest-idle"}`, http.StatusOK, ""},
		{"bad strategy", lead, "PUT", "/api/v1/teams/t1/queue", `{"strategy":"random"}`, http.StatusBadRequest, ""},
		{"unknown team strategy", lead, "PUT", "/api/v1/teams/nope/queue", `{"strategy":"round-robin"}`, http.StatusNotFound, ""},
		{"unknown team queue", member, "GET", "/api/v1/teams/nope/queue", "", http.StatusNotFound, ""},
		{"team queue", member, "GET", "/api/v1/teams/t1/queue", "", http.StatusOK, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			a := c.b.api(c.method, c.path, c.body)
			if a.status != c.status {
				t.Fatalf("%s %s = %d %s, want %d", c.method, c.path, a.status, a.body, c.status)
			}
			if c.permission != "" {
				if e := errorBody(t, a); e.Permission != c.permission {
					t.Fatalf("403 names %q, want %q (%s)", e.Permission, c.permission, a.body)
				}
			}
		})
	}
}
