package node

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"siteline/internal/testutil"
	"siteline/web"
)

// BenchmarkRingLatency measures a direct call from the phonebook: from the
// caller's POST (the click) to the incoming call on the callee's events
// socket, with the callee's page at the caller's node (same-node) and at a
// plant linked to it (across-nodes). Each ring is declined before the
// next.
func BenchmarkRingLatency(b *testing.B) {
	hq, plant := historyFederation(b, func(c *Config) { c.Media.MaxActiveCalls = 10000 }, nil)
	testutil.Eventually(b, 20*time.Second, "leaf link", func() bool { return plant.n.bus.LeafLinks() == 1 })
	ada := hq.admin()
	for _, tc := range []struct {
		name  string
		where *testNode
	}{{"same-node", hq}, {"across-nodes", plant}} {
		{
			email := "callee-" + tc.name + "@plant.example"
			var u struct {
				ID string `json:"id"`
			}
			if st := ada.do("POST", "/api/v1/users", web.UserInput{Email: email, Name: "Callee " + tc.name,
				Password: "callee password 1", Roles: []string{"regular"}}, &u); st != 201 {
				b.Fatalf("create callee = %d", st)
			}
			testutil.Eventually(b, 20*time.Second, "callee replicated", func() bool { return tc.where.tryLogin(email, "callee password 1") })
			callee := tc.where.login(email, "callee password 1")
			conn, status, body, err := dialEvents(tc.where.url, callee.cookie, tc.where.url)
			if err != nil {
				b.Fatalf("events socket = %d %s: %v", status, body, err)
			}
			defer conn.Close()
			next := func() web.Event {
				_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
				_, data, err := conn.ReadMessage()
				if err != nil {
					b.Fatalf("events socket: %v", err)
				}
				var e web.Event
				if err := json.Unmarshal(data, &e); err != nil {
					b.Fatal(err)
				}
				return e
			}
			for next().Type != web.EventReady {
			}
			testutil.Eventually(b, 20*time.Second, "callee online at the caller's node", func() bool {
				var out web.InternalContacts
				ada.do("GET", "/api/v1/phonebook/users?q="+strings.Split(email, "@")[0], nil, &out)
				return len(out.Contacts) == 1 && out.Contacts[0].Presence == web.PresenceOnline
			})
			b.Run(tc.name, func(b *testing.B) {
				lat := make([]time.Duration, 0, b.N)
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					start := time.Now()
					var dial web.DialOut
					if st := ada.do("POST", "/api/v1/phonebook/users/"+u.ID+"/call", nil, &dial); st != 201 {
						b.Fatalf("call = %d %+v", st, dial)
					}
					for {
						e := next()
						if e.Type == web.EventIncomingCall && e.CallID == dial.CallID {
							break
						}
					}
					lat = append(lat, time.Since(start))
					b.StopTimer()
					if st := callee.do("POST", "/api/v1/calls/"+dial.CallID+"/decline", nil, nil); st != 204 {
						b.Fatalf("decline = %d", st)
					}
					for e := next(); e.Type != web.EventRingStopped; e = next() {
					}
					b.StartTimer()
				}
				b.StopTimer()
				b.ReportMetric(float64(percentile(lat, 0.50).Microseconds())/1000, "p50-ms")
				b.ReportMetric(float64(percentile(lat, 0.99).Microseconds())/1000, "p99-ms")
			})
		}
	}
}
