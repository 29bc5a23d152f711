package node

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"siteline/policy"
	"siteline/storage"
)

// benchFederation starts voters (and plants) for a benchmark and returns
// the leader first.
func benchFederation(b *testing.B, voters, plants int) []*testNode {
	nodes := startFederation(b, voters, plants, nil)
	for i, tn := range nodes {
		if tn.n.raft.IsLeader() {
			nodes[0], nodes[i] = nodes[i], nodes[0]
		}
	}
	return nodes
}

func contactCmd(orgID string, i int) storage.Command {
	c := storage.Contact{ID: newID(), OrgID: orgID, Name: fmt.Sprintf("Contact %d", i), CreatedAt: time.Now().UTC()}
	return storage.Command{Changes: []storage.Change{{Op: storage.OpPutContact, Contact: &c}}, At: c.CreatedAt, ActorID: "bench"}
}

// BenchmarkOrgWrite measures committing an organisation change at the
// leader: latency one at a time (p50, p99) and throughput with 16 writers.
func BenchmarkOrgWrite(b *testing.B) {
	for _, voters := range []int{1, 3} {
		b.Run(fmt.Sprintf("voters=%d/sequential", voters), func(b *testing.B) {
			leader := benchFederation(b, voters, 0)[0]
			ctx := context.Background()
			lat := make([]time.Duration, 0, b.N)
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				start := time.Now()
				if err := leader.n.raft.Propose(ctx, contactCmd(leader.n.OrgID(), i)); err != nil {
					b.Fatal(err)
				}
				lat = append(lat, time.Since(start))
			}
			b.StopTimer()
			b.ReportMetric(float64(percentile(lat, 0.50).Microseconds())/1000, "p50-ms")
			b.ReportMetric(float64(percentile(lat, 0.99).Microseconds())/1000, "p99-ms")
		})
		b.Run(fmt.Sprintf("voters=%d/16-writers", voters), func(b *testing.B) {
			leader := benchFederation(b, voters, 0)[0]
			ctx := context.Background()
			var wg sync.WaitGroup
			next := make(chan int)
			b.ResetTimer()
			start := time.Now()
			for w := 0; w < 16; w++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := range next {
						if err := leader.n.raft.Propose(ctx, contactCmd(leader.n.OrgID(), i)); err != nil {
							b.Error(err)
						}
					}
				}()
			}
			for i := 0; i < b.N; i++ {
				next <- i
			}
			close(next)
			wg.Wait()
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "writes/s")
		})
	}
}

// BenchmarkPolicyEnforcement measures a policy change (a role granted, then
// revoked) from the proposal at the leader to its enforcement by the
// enforcer of every node, three voters and two plants.
func BenchmarkPolicyEnforcement(b *testing.B) {
	nodes := benchFederation(b, 3, 2)
	leader := nodes[0]
	ctx := context.Background()
	org := leader.n.OrgID()
	user := newID()
	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		grant := i%2 == 0
		rule := []storage.PolicyRule{policy.Assign(org, user, policy.RoleAdministrator)}
		op := storage.OpRemovePolicy
		if grant {
			op = storage.OpAddPolicy
		}
		start := time.Now()
		if err := leader.n.raft.Propose(ctx, storage.Command{Changes: []storage.Change{{Op: op, Rules: rule}}, At: time.Now().UTC(), ActorID: "bench"}); err != nil {
			b.Fatal(err)
		}
		for _, tn := range nodes {
			for (tn.n.authz.Check(org, user, policy.AdminMembers) == nil) != grant {
				if time.Since(start) > 30*time.Second {
					b.Fatalf("not enforced at %s", tn.cfg.Node.Site)
				}
				time.Sleep(100 * time.Microsecond)
			}
		}
		lat = append(lat, time.Since(start))
	}
	b.StopTimer()
	b.ReportMetric(float64(percentile(lat, 0.50).Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(percentile(lat, 0.99).Microseconds())/1000, "p99-ms")
}
