package policy

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"siteline/storage"
)

// benchPolicy returns about n policy lines in one organisation (the worst
// case for casbin's matcher, which scans every line of every domain): a
// fifth are grants of 20 permissions to each of n/100 custom roles, the
// rest assign two roles to each of 2n/5 users. It also returns requests
// (user, permission) to check.
func benchPolicy(n int) ([]storage.PolicyRule, [][2]string) {
	rng := rand.New(rand.NewPCG(7, 7))
	ids := IDs()
	roles := max(n/100, 1)
	var rules []storage.PolicyRule
	for r := range roles {
		for _, k := range rng.Perm(len(ids))[:20] {
			rules = append(rules, Grant("o1", RoleSubject(fmt.Sprintf("r%d", r)), ids[k]))
		}
	}
	users := 2 * n / 5
	for u := range users {
		a, b := rng.IntN(roles), rng.IntN(roles)
		rules = append(rules, Assign("o1", fmt.Sprintf("u%d", u), fmt.Sprintf("r%d", a)))
		if b != a {
			rules = append(rules, Assign("o1", fmt.Sprintf("u%d", u), fmt.Sprintf("r%d", b)))
		}
	}
	reqs := make([][2]string, 4096)
	for i := range reqs {
		reqs[i] = [2]string{fmt.Sprintf("u%d", rng.IntN(users)), ids[rng.IntN(len(ids))]}
	}
	return rules, reqs
}

// BenchmarkCheck measures Check on 10,000 and 100,000 policy lines, and,
// for comparison, casbin's own matcher (Explain, i.e. EnforceEx) on the
// smaller policy.
func BenchmarkCheck(b *testing.B) {
	for _, n := range []int{10_000, 100_000} {
		rules, reqs := benchPolicy(n)
		e, err := NewEnforcer(rules)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(fmt.Sprintf("lines=%d", len(rules)), func(b *testing.B) {
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				r := reqs[i%len(reqs)]
				_ = e.Check("o1", r[0], r[1])
				i++
			}
		})
		if n > 10_000 {
			continue
		}
		b.Run(fmt.Sprintf("casbin-matcher/lines=%d", len(rules)), func(b *testing.B) {
			i := 0
			for b.Loop() {
				r := reqs[i%len(reqs)]
				_, _, _ = e.Explain("o1", r[0], r[1])
				i++
			}
		})
	}
}

// BenchmarkCheckParallel measures Check from every core at 100,000 lines.
func BenchmarkCheckParallel(b *testing.B) {
	rules, reqs := benchPolicy(100_000)
	e, err := NewEnforcer(rules)
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := rand.IntN(len(reqs))
		for pb.Next() {
			r := reqs[i%len(reqs)]
			_ = e.Check("o1", r[0], r[1])
			i++
		}
	})
}
