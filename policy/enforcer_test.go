package policy

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"

	"github.com/casbin/casbin/v2"
	"github.com/casbin/casbin/v2/model"

	"siteline/storage"
)

func asForbidden(err error, target **storage.ForbiddenError) bool { return errors.As(err, target) }

func rulesEqual(a, b []storage.PolicyRule) bool {
	return slices.EqualFunc(a, b, func(x, y storage.PolicyRule) bool {
		return x.OrgID == y.OrgID && x.PType == y.PType && slices.Equal(x.V, y.V)
	})
}

func mustEnforcer(t testing.TB, rules ...storage.PolicyRule) *Enforcer {
	t.Helper()
	e, err := NewEnforcer(rules)
	if err != nil {
		t.Fatalf("NewEnforcer: %v", err)
	}
	return e
}

func TestCheckErrors(t *testing.T) {
	e := mustEnforcer(t, Grant("o1", RoleSubject("regular"), CallChat), Assign("o1", "u1", "regular"))
	tests := []struct {
		name       string
		org, user  string
		permission string
		wantErr    string
		forbidden  bool
	}{
		{"granted", "o1", "u1", CallChat, "", false},
		{"not granted", "o1", "u1", CallRecord, "permission xa_icall_record is required", true},
		{"other org", "o2", "u1", CallChat, "permission xa_icall_chat is required", true},
		{"unknown user", "o1", "nobody", CallChat, "permission xa_icall_chat is required", true},
		{"unknown id", "o1", "u1", "xa_ocall_chat", `unknown permission "xa_ocall_chat" (did you mean "xa_icall_chat"?)`, false},
		{"alias is not a check id", "o1", "u1", "xa_ocalLcalllog_call-logs",
			`unknown permission "xa_ocalLcalllog_call-logs" (did you mean "xa_ocall_calllog_call-logs"?)`, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := e.Check(tt.org, tt.user, tt.permission)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("Check = %v, want nil", err)
				}
				return
			}
			if err == nil || err.Error() != tt.wantErr {
				t.Fatalf("Check = %v, want %q", err, tt.wantErr)
			}
			var fe *storage.ForbiddenError
			if got := errors.As(err, &fe); got != tt.forbidden {
				t.Errorf("errors.As(ForbiddenError) = %v, want %v", got, tt.forbidden)
			}
			if !tt.forbidden && !errors.Is(err, storage.ErrInvalid) {
				t.Errorf("unknown id error is not ErrInvalid: %v", err)
			}
			if e.Can(tt.org, tt.user, tt.permission) {
				t.Error("Can = true for a refused check")
			}
		})
	}
}

func TestIncrementalChanges(t *testing.T) {
	e := mustEnforcer(t, DefaultPolicy("o1")...)
	steps := []struct {
		name   string
		apply  func() error
		permit bool // may u1 record in o1 afterwards?
	}{
		{"no role yet", func() error { return nil }, false},
		{"assign team_member", func() error { return e.Add([]storage.PolicyRule{Assign("o1", "u1", RoleTeamMember)}) }, false},
		{"grant team_member record", func() error {
			return e.Add([]storage.PolicyRule{Grant("o1", RoleSubject(RoleTeamMember), CallRecord)})
		}, true},
		{"add again is ignored", func() error {
			return e.Add([]storage.PolicyRule{Grant("o1", RoleSubject(RoleTeamMember), CallRecord)})
		}, true},
		{"unassign", func() error { return e.Remove([]storage.PolicyRule{Assign("o1", "u1", RoleTeamMember)}) }, false},
		{"assign regular", func() error { return e.Add([]storage.PolicyRule{Assign("o1", "u1", RoleRegular)}) }, true},
		{"revoke from regular, absent rule ignored", func() error {
			return e.Remove([]storage.PolicyRule{
				Grant("o1", RoleSubject(RoleRegular), CallRecord),
				Grant("o1", RoleSubject(RoleGuestApp), CallRecord),
			})
		}, false},
		{"grant the user directly", func() error { return e.Add([]storage.PolicyRule{Grant("o1", UserSubject("u1"), CallRecord)}) }, true},
		{"revoke the user", func() error { return e.Remove([]storage.PolicyRule{Grant("o1", UserSubject("u1"), CallRecord)}) }, false},
		{"role inherits role", func() error {
			return e.Add([]storage.PolicyRule{{OrgID: "o1", PType: "g", V: []string{RoleSubject(RoleRegular), RoleSubject(RoleAdministrator), "o1"}}})
		}, true},
	}
	for _, s := range steps {
		if err := s.apply(); err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		if got := e.Can("o1", "u1", CallRecord); got != s.permit {
			t.Fatalf("%s: Can(u1, record) = %v, want %v", s.name, got, s.permit)
		}
	}
	if got, want := e.Roles("o1", "u1"), []string{RoleAdministrator, RoleRegular}; !slices.Equal(got, want) {
		t.Errorf("Roles = %v, want %v", got, want)
	}
	if got, want := e.Users("o1", RoleAdministrator), []string{"u1"}; !slices.Equal(got, want) {
		t.Errorf("Users(administrator) = %v, want %v", got, want)
	}
}

func TestReplaceTouchesOnlyItsOrg(t *testing.T) {
	e := mustEnforcer(t, append(DefaultPolicy("o1"), append(DefaultPolicy("o2"),
		Assign("o1", "u1", RoleRegular), Assign("o2", "u2", RoleRegular))...)...)
	before := e.Rules("o2")

	err := e.Replace("o1", []storage.PolicyRule{
		Grant("o1", RoleSubject(RoleRegular), CallJoin),
		Assign("o1", "u1", RoleRegular),
	})
	if err != nil {
		t.Fatalf("Replace: %v", err)
	}
	if got, want := e.Permissions("o1", "u1"), []string{CallJoin}; !slices.Equal(got, want) {
		t.Errorf("o1 after Replace: Permissions = %v, want %v", got, want)
	}
	if !rulesEqual(e.Rules("o2"), before) {
		t.Error("Replace of o1 changed o2's rules")
	}
	if !e.Can("o2", "u2", HomeDashboardAccess) {
		t.Error("Replace of o1 removed o2's grant")
	}

	bad := []struct {
		name  string
		org   string
		rules []storage.PolicyRule
	}{
		{"rule of another org", "o1", []storage.PolicyRule{Grant("o2", RoleSubject(RoleRegular), CallJoin)}},
		{"empty org", "", nil},
		{"unknown id", "o1", []storage.PolicyRule{Grant("o1", RoleSubject(RoleRegular), "nope")}},
	}
	for _, tt := range bad {
		if err := e.Replace(tt.org, tt.rules); !errors.Is(err, storage.ErrInvalid) {
			t.Errorf("%s: Replace = %v, want ErrInvalid", tt.name, err)
		}
	}
	if got, want := e.Permissions("o1", "u1"), []string{CallJoin}; !slices.Equal(got, want) {
		t.Errorf("refused Replace changed o1: Permissions = %v, want %v", got, want)
	}
}

func TestExplain(t *testing.T) {
	e := defaultEnforcer(t, "o1")
	ok, rule, err := e.Explain("o1", RoleRegular, CallLogs)
	if err != nil || !ok || !slices.Equal(rule, []string{"role:regular", "o1", CallLogs}) {
		t.Errorf("Explain(regular, call-logs) = %v, %v, %v", ok, rule, err)
	}
	ok, rule, err = e.Explain("o1", RoleGuestApp, CallLogs)
	if err != nil || ok || len(rule) != 0 {
		t.Errorf("Explain(guest, call-logs) = %v, %v, %v; want denied with no rule", ok, rule, err)
	}
	if _, _, err := e.Explain("o1", RoleRegular, "nope"); !errors.Is(err, storage.ErrInvalid) {
		t.Errorf("Explain(unknown id) = %v, want ErrInvalid", err)
	}
}

// TestCheckMatchesCasbin compares the indexed decision of Check with
// casbin's own matcher (EnforceEx) on random policies with role
// inheritance, direct grants and several organisations.
func TestCheckMatchesCasbin(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	ids := IDs()
	orgs := []string{"o1", "o2"}
	for round := range 20 {
		var rules []storage.PolicyRule
		for range 150 {
			org := orgs[rng.IntN(len(orgs))]
			role := RoleSubject(fmt.Sprintf("r%d", rng.IntN(8)))
			switch rng.IntN(4) {
			case 0:
				rules = append(rules, Grant(org, role, ids[rng.IntN(len(ids))]))
			case 1:
				rules = append(rules, Grant(org, UserSubject(fmt.Sprintf("u%d", rng.IntN(6))), ids[rng.IntN(len(ids))]))
			case 2:
				rules = append(rules, Assign(org, fmt.Sprintf("u%d", rng.IntN(6)), fmt.Sprintf("r%d", rng.IntN(8))))
			case 3:
				other := RoleSubject(fmt.Sprintf("r%d", rng.IntN(8)))
				if other != role {
					rules = append(rules, storage.PolicyRule{OrgID: org, PType: "g", V: []string{role, other, org}})
				}
			}
		}
		e := mustEnforcer(t, rules...)
		for _, org := range orgs {
			for u := range 6 {
				user := fmt.Sprintf("u%d", u)
				for _, id := range ids {
					want, _, err := e.Explain(org, user, id)
					if err != nil {
						t.Fatal(err)
					}
					if got := e.Can(org, user, id); got != want {
						t.Fatalf("round %d: Can(%s, %s, %s) = %v, casbin says %v", round, org, user, id, got, want)
					}
				}
			}
		}
	}
}

// TestConcurrentChecksAndChanges is meant for go test -race.
func TestConcurrentChecksAndChanges(t *testing.T) {
	e := defaultEnforcer(t, "o1")
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for i := range 300 {
				_ = e.Check("o1", RoleRegular, CallLogs)
				_ = e.Can("o1", fmt.Sprintf("x%d-%d", w, i), CallChat)
				_ = e.Permissions("o1", RoleGuestDesktop)
				_ = e.Roles("o1", RoleRegular)
				_ = e.Users("o1", RoleRegular)
				_, _, _ = e.Explain("o1", RoleTeamLead, CallSitIn)
			}
		})
	}
	for w := range 2 {
		wg.Go(func() {
			for i := range 100 {
				user := fmt.Sprintf("w%d-%d", w, i)
				grant := []storage.PolicyRule{Assign("o1", user, RoleRegular)}
				if err := e.Add(grant); err != nil {
					t.Error(err)
					return
				}
				if !e.Can("o1", user, CallLogs) {
					t.Errorf("%s: grant not seen by the next check", user)
				}
				if err := e.Remove(grant); err != nil {
					t.Error(err)
					return
				}
				if e.Can("o1", user, CallLogs) {
					t.Errorf("%s: revocation not seen by the next check", user)
				}
				if i%25 == 0 {
					if err := e.Replace("o2", DefaultPolicy("o2")); err != nil {
						t.Error(err)
					}
				}
			}
		})
	}
	wg.Wait()
	if !e.Can("o1", RoleRegular, CallLogs) {
		t.Error("default grant lost")
	}
}

// TestCasbinCachedEnforcerIsStale pins why Enforcer keeps no decision
// cache: casbin's SyncedCachedEnforcer keeps answering "allow" after the
// user's role is taken away. If this test fails, casbin has fixed it and
// the comment on Enforcer should be revisited.
func TestCasbinCachedEnforcerIsStale(t *testing.T) {
	m, err := model.NewModelFromString(ModelText)
	if err != nil {
		t.Fatal(err)
	}
	ce, err := casbin.NewSyncedCachedEnforcer(m)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ce.AddPolicy("role:regular", "o1", CallChat); err != nil {
		t.Fatal(err)
	}
	if _, err := ce.AddGroupingPolicy("user:u1", "role:regular", "o1"); err != nil {
		t.Fatal(err)
	}
	if ok, _ := ce.Enforce("user:u1", "o1", CallChat); !ok {
		t.Fatal("casbin denies a granted request")
	}
	if _, err := ce.RemoveGroupingPolicy("user:u1", "role:regular", "o1"); err != nil {
		t.Fatal(err)
	}
	if ok, _ := ce.Enforce("user:u1", "o1", CallChat); !ok {
		t.Error("casbin's cached enforcer now sees the revocation; revisit the no-cache note on Enforcer")
	}
}
