package node

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"testing"
	"time"

	"siteline/internal/testutil"
	"siteline/policy"
	"siteline/storage"
	"siteline/web"
)

// benchNode starts a real node (SQLite, single-node Raft, HTTP) whose
// organisation policy holds about lines policy lines: the default policy,
// a fifth of the lines grants of 20 permissions to each of lines/100
// custom roles, the rest assignments of two of those roles to each of
// 2*lines/5 users (policy/bench_test.go's shape).
func benchNode(b *testing.B, lines int) (*Node, []string) {
	b.Helper()
	dir, err := os.MkdirTemp("", "stlb")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { os.RemoveAll(dir) })
	n, err := New(testConfig(b, dir), Options{LogOutput: testutil.NewLog(b)})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	if err := n.Start(ctx); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = n.Shutdown(context.Background()) })

	org := n.OrgID()
	rng := rand.New(rand.NewPCG(7, 7))
	ids := policy.IDs()
	rules := n.authz.Rules(org)
	nroles := max(lines/100, 1)
	var changes []storage.Change
	var roles []string
	for r := range nroles {
		name := fmt.Sprintf("r%d", r)
		roles = append(roles, name)
		changes = append(changes, storage.Change{Op: storage.OpPutRole, Role: &storage.Role{OrgID: org, Name: name}})
		for _, k := range rng.Perm(len(ids))[:20] {
			rules = append(rules, policy.Grant(org, policy.RoleSubject(name), ids[k]))
		}
	}
	for u := 0; len(rules) < lines; u++ {
		rules = append(rules, policy.Assign(org, fmt.Sprintf("u%d", u), roles[rng.IntN(nroles)]))
	}
	rules, _, err = policy.Normalize(rules)
	if err != nil {
		b.Fatal(err)
	}
	changes = append(changes, storage.Change{Op: storage.OpReplacePolicy, OrgID: org, Rules: rules})
	if err := n.raft.Propose(ctx, storage.Command{Changes: changes, At: time.Now().UTC(), ActorID: "bench"}); err != nil {
		b.Fatal(err)
	}
	if got := len(n.authz.Rules(org)); got != len(rules) {
		b.Fatalf("enforcer holds %d lines, want %d", got, len(rules))
	}
	return n, roles
}

// waitCan polls the node's enforcer until userID's holding of permission
// is want.
func waitCan(b *testing.B, n *Node, userID, permission string, want bool) {
	deadline := time.Now().Add(10 * time.Second)
	for n.authz.Can(n.OrgID(), userID, permission) != want {
		if time.Now().After(deadline) {
			b.Fatalf("%s never became %v for %s", permission, want, userID)
		}
	}
}

// BenchmarkPolicyChangeToEffect measures the time from proposing a policy
// change to the node's enforcer deciding by it, on a real single-node Raft
// and SQLite store, with 10,000 and 100,000 policy lines:
//
//   - raft: one OpAddPolicy/OpRemovePolicy command proposed, applied to
//     SQLite and to the enforcer (the path every node's FSM takes);
//   - grant, revoke: the whole use case behind the API (validation,
//     lock-out check for a revoke, a new policy version holding the whole
//     rule set, the audit log).
func BenchmarkPolicyChangeToEffect(b *testing.B) {
	for _, lines := range []int{10_000, 100_000} {
		n, _ := benchNode(b, lines)
		org := n.OrgID()
		ctx := context.Background()
		s := n.admin
		actor := web.Actor{Local: true, OrgID: org}
		// A user holding one custom role; the benchmark grants and
		// revokes a permission that role lacks.
		user := "u0"
		role := n.authz.Roles(org, user)[0]
		perm := ""
		for _, id := range policy.IDs() {
			if !n.authz.Can(org, user, id) {
				perm = id
				break
			}
		}
		line := []storage.PolicyRule{policy.Grant(org, policy.RoleSubject(role), perm)}

		b.Run(fmt.Sprintf("raft/lines=%d", lines), func(b *testing.B) {
			grant := true
			for b.Loop() {
				op := storage.OpRemovePolicy
				if grant {
					op = storage.OpAddPolicy
				}
				if err := n.raft.Propose(ctx, storage.Command{Changes: []storage.Change{{Op: op, Rules: line}}, At: time.Now().UTC(), ActorID: "bench"}); err != nil {
					b.Fatal(err)
				}
				waitCan(b, n, user, perm, grant)
				grant = !grant
			}
			if !grant { // leave the line out
				_ = n.raft.Propose(ctx, storage.Command{Changes: []storage.Change{{Op: storage.OpRemovePolicy, Rules: line}}, At: time.Now().UTC(), ActorID: "bench"})
			}
		})
		in := web.GrantInput{Subject: "role:" + role, Permission: perm}
		b.Run(fmt.Sprintf("grant/lines=%d", lines), func(b *testing.B) {
			for b.Loop() {
				if _, err := s.Grant(ctx, actor, in); err != nil {
					b.Fatal(err)
				}
				waitCan(b, n, user, perm, true)
				b.StopTimer()
				if _, err := s.Revoke(ctx, actor, in); err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
			}
		})
		b.Run(fmt.Sprintf("revoke/lines=%d", lines), func(b *testing.B) {
			for b.Loop() {
				b.StopTimer()
				if _, err := s.Grant(ctx, actor, in); err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
				if _, err := s.Revoke(ctx, actor, in); err != nil {
					b.Fatal(err)
				}
				waitCan(b, n, user, perm, false)
			}
		})
	}
}
