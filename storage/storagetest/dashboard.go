package storagetest

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"sort"
	"testing"
	"time"

	"siteline/storage"
)

// DashboardBackend is what Dashboard drives: the session store and the
// field setters whose writes the rollups follow, the history applier that
// brings a plant's, the readers a direct computation reads the sessions
// back with, and the dashboards' reads.
type DashboardBackend interface {
	ApplierBackend
	storage.DashboardStore
}

// Dashboard tests storage.DashboardStore: the sums of every breakdown and
// filter equal a direct computation over the sessions read back, after a
// random history written at this node and forwarded from a plant, after
// the edits of a live call, and at headquarters as at the plant. open
// returns a new store, empty but for the organisation data that holds
// Labels, closed when the test that opened it ends.
func Dashboard(t *testing.T, open func(t *testing.T) DashboardBackend) {
	for _, tc := range []struct {
		name string
		test func(t *testing.T, open func(t *testing.T) DashboardBackend)
	}{
		{"EqualADirectComputation", dashboardEqualsDirect},
		{"FollowALiveCall", dashboardFollowsALiveCall},
		{"ConcurrentWrites", dashboardConcurrentWrites},
		{"ForwardedHistoryEqualsThePlants", dashboardForwarded},
		{"RejectsCombinationsTheRollupsDoNotHold", dashboardRejects},
	} {
		t.Run(tc.name, func(t *testing.T) { tc.test(t, open) })
	}
}

// DashboardsAgree writes one random history (DashboardWorkload) to a
// store of each backend and checks that every query of the workload's
// gives the same DashboardCounts on both, buckets, order and all. short
// writes a quarter of the sessions (for the race detector, which slows
// SQLite tenfold).
func DashboardsAgree(t *testing.T, a, b func(t *testing.T) DashboardBackend, short bool) {
	ctx := context.Background()
	sessions := dashSessions
	if short {
		sessions /= 4
	}
	w := NewDashboardWorkload(7, sessions)
	sa, sb := a(t), b(t)
	w.Write(t, b(t), sa) // plants of b: a store of a is there to compare
	w.Write(t, b(t), sb)
	n := 0
	for _, q := range w.Queries() {
		ca, err := sa.DashboardCounts(ctx, q)
		if err != nil {
			t.Fatalf("%s: %v", queryName(q), err)
		}
		cb, err := sb.DashboardCounts(ctx, q)
		if err != nil {
			t.Fatalf("%s: %v", queryName(q), err)
		}
		if !reflect.DeepEqual(ca, cb) {
			t.Errorf("%s: the backends differ:\n%+v\n%+v", queryName(q), ca, cb)
		}
		if len(ca.Days) > 0 {
			n++
		}
	}
	if n < len(w.Queries())/2 {
		t.Fatalf("only %d of %d queries count a session: the comparison checks little", n, len(w.Queries()))
	}
}

// dashEnd is the end of the dashboards' workloads: their sessions start
// in the 100 days before it.
var dashEnd = time.Date(2025, 6, 20, 15, 4, 5, 987654321, time.UTC)

// dashboardEqualsDirect: after the random workload, every query equals
// the direct computation.
func dashboardEqualsDirect(t *testing.T, open func(t *testing.T) DashboardBackend) {
	w := NewDashboardWorkload(3, dashSessions)
	hq := open(t)
	w.Write(t, open(t), hq)
	qs := w.Queries()
	if n := checkDashboards(t, hq, w.ids, qs); n < len(qs)/2 {
		t.Fatalf("only %d of %d queries count a session: the check checks little", n, len(qs))
	}
}

// dashboardConcurrentWrites: sessions written from several goroutines
// while forwarded history is applied beside them add up as when written
// one after the other.
func dashboardConcurrentWrites(t *testing.T, open func(t *testing.T) DashboardBackend) {
	w := NewDashboardWorkload(11, dashSessions)
	hq := open(t)
	w.WriteConcurrently(t, open(t), hq)
	qs := w.Queries()
	if n := checkDashboards(t, hq, w.ids, qs); n < len(qs)/2 {
		t.Fatalf("only %d of %d queries count a session: the check checks little", n, len(qs))
	}
}

// dashboardFollowsALiveCall: a service request counts once it has ended,
// with its answer, its participants (a user joining twice counts once),
// its outcome and solved time, its labels, team and goal; edits after
// the end move it.
func dashboardFollowsALiveCall(t *testing.T, open func(t *testing.T) DashboardBackend) {
	ctx := context.Background()
	w := NewDashboardWorkload(5, dashSessions)
	s := open(t)
	w.Write(t, open(t), s)
	org := dashOrgs[0]
	ids := append(slices.Clone(w.ids), "live-1")
	qs := w.Queries()[:len(dashboardQueries(org, dashEnd))]
	v := func(i int) storage.Version {
		return storage.Version{At: dashEnd.Add(time.Duration(i) * time.Hour), Origin: "test"}
	}
	start := dashEnd.Add(-30 * time.Minute)
	live := storage.Session{ID: "live-1", OrgID: org.id, SiteID: org.sites[1], Kind: storage.SessionServiceRequest,
		Status: storage.SessionRinging, CreatedBy: org.users[0], TeamID: org.teams[0], Goal: "Pump 3 leaks", StartedAt: start}
	if err := s.CreateSession(ctx, live); err != nil {
		t.Fatal(err)
	}
	join := func(n int, user string, at time.Time) {
		t.Helper()
		p := storage.SessionParticipant{ID: fmt.Sprintf("live-p%d", n), SessionID: live.ID, UserID: user, UserKind: storage.UserRegular, JoinedAt: at}
		if err := s.RecordJoin(ctx, p, storage.SessionEvent{ID: fmt.Sprintf("live-e%d", n), SessionID: live.ID, At: at,
			Kind: storage.EventJoined, ActorID: user}); err != nil {
			t.Fatal(err)
		}
	}
	before := counts(t, s, storage.DashboardQuery{OrgID: org.id})
	join(1, org.users[0], start)
	if err := s.AppendSessionEvent(ctx, storage.SessionEvent{ID: "live-answer", SessionID: live.ID, At: start.Add(95 * time.Second),
		Kind: storage.EventAnswered, ActorID: org.users[3]}); err != nil {
		t.Fatal(err)
	}
	join(2, org.users[3], start.Add(95*time.Second))
	join(3, org.users[3], start.Add(200*time.Second)) // the same user again
	solved := start.Add(17 * time.Minute)
	if _, err := s.SetSessionOutcome(ctx, live.ID, storage.OutcomeSolved, &solved, v(1)); err != nil {
		t.Fatal(err)
	}
	if _, err := s.SetSessionLabels(ctx, live.ID, org.labels[:2], v(1)); err != nil {
		t.Fatal(err)
	}
	if got := counts(t, s, storage.DashboardQuery{OrgID: org.id}); !reflect.DeepEqual(got, before) {
		t.Errorf("a live call counts before it ended:\n%+v\n%+v", got, before)
	}
	checkDashboards(t, s, ids, qs)
	if err := s.EndSession(ctx, live.ID, start.Add(25*time.Minute), storage.SessionEvent{ID: "live-end", SessionID: live.ID,
		At: start.Add(25 * time.Minute), Kind: storage.EventEnded}); err != nil {
		t.Fatal(err)
	}
	checkDashboards(t, s, ids, qs)
	got := counts(t, s, storage.DashboardQuery{OrgID: org.id, TeamID: org.teams[0], By: storage.DimTeam})
	if len(got.Answer) == 0 {
		t.Fatal("no answer time counted for the team's service requests")
	}
	// Edits after the end: another outcome, labels, goal.
	if _, err := s.SetSessionOutcome(ctx, live.ID, storage.OutcomeNotSolved, nil, v(2)); err != nil {
		t.Fatal(err)
	}
	if _, err := s.SetSessionLabels(ctx, live.ID, org.labels[1:], v(2)); err != nil {
		t.Fatal(err)
	}
	if _, err := s.SetSessionDetails(ctx, live.ID, "renamed", "Replace the drive belt", v(2)); err != nil {
		t.Fatal(err)
	}
	checkDashboards(t, s, ids, qs)
	if _, err := s.SetSessionLabels(ctx, live.ID, nil, v(3)); err != nil {
		t.Fatal(err)
	}
	checkDashboards(t, s, ids, qs)
}

// dashboardForwarded: headquarters' rollups of forwarded history equal
// the plant's, whatever order and however often the records arrive.
func dashboardForwarded(t *testing.T, open func(t *testing.T) DashboardBackend) {
	ctx := context.Background()
	plant, hq := open(t), open(t)
	recordPlantHistory(t, plant, "c1")
	recordPlantHistory(t, plant, "c2")
	solved := t0.Add(5 * time.Minute)
	if _, err := plant.SetSessionOutcome(ctx, "c2", storage.OutcomeSolved, &solved, storage.Version{At: t0.Add(time.Hour), Origin: "plant-1"}); err != nil {
		t.Fatal(err)
	}
	if _, err := plant.SetSessionLabels(ctx, "c1", []string{"l2", "L3"}, storage.Version{At: t0.Add(time.Hour), Origin: "plant-1"}); err != nil {
		t.Fatal(err)
	}
	if _, err := plant.SetSessionDetails(ctx, "c1", "Pump", "Pump 4 leaks", storage.Version{At: t0.Add(time.Hour), Origin: "plant-1"}); err != nil {
		t.Fatal(err)
	}
	msgs := messagesOf(t, plant, "plant-1")
	for _, batch := range [][]storage.HistoryMessage{reversed(msgs), msgs, msgs[3:]} {
		mustApplyHistory(t, hq, batch)
	}
	for _, by := range storage.DashboardDims {
		q := storage.DashboardQuery{OrgID: "o1", By: by}
		want := counts(t, plant, q)
		if len(want.Days) == 0 && by != storage.DimTeam { // no team here
			t.Fatalf("by %q: the plant counts no session", by)
		}
		if got := counts(t, hq, q); !reflect.DeepEqual(got, want) {
			t.Errorf("by %q: headquarters counts\n%+v\nthe plant\n%+v", by, got, want)
		}
	}
	if n := checkDashboards(t, hq, []string{"c1", "c2"}, dashboardQueries(dashOrg{id: "o1", sites: []string{"plant"}, teams: []string{"t1"},
		labels: []string{"l2"}, users: []string{"up1", "up2"}}, t0.Add(24*time.Hour))); n == 0 {
		t.Fatal("no query counts the forwarded sessions")
	}
}

// dashboardRejects: a query the rollups cannot answer is a validation
// error.
func dashboardRejects(t *testing.T, open func(t *testing.T) DashboardBackend) {
	s := open(t)
	for _, q := range []storage.DashboardQuery{
		{},
		{OrgID: "o", TeamID: "t", LabelID: "l"},
		{OrgID: "o", LabelID: "l", By: storage.DimTeam},
		{OrgID: "o", By: "shoe size"},
		{OrgID: "o", From: t0, To: t0},
	} {
		var v *storage.ValidationError
		if _, err := s.DashboardCounts(context.Background(), q); !errors.As(err, &v) || !errors.Is(err, storage.ErrInvalid) {
			t.Errorf("%+v: err = %v, want a validation error", q, err)
		}
	}
}

func counts(t *testing.T, s DashboardBackend, q storage.DashboardQuery) storage.DashboardCounts {
	t.Helper()
	c, err := s.DashboardCounts(context.Background(), q)
	if err != nil {
		t.Fatalf("%s: %v", queryName(q), err)
	}
	return c
}

// checkDashboards compares every query's counts and percentiles with the
// direct computation over the sessions ids, read back.
// It returns how many of the queries count a session.
func checkDashboards(t *testing.T, s DashboardBackend, ids []string, qs []storage.DashboardQuery) int {
	t.Helper()
	counted := 0
	for _, c := range CompareDashboards(t, s, readSessions(t, s, ids), qs) {
		if c {
			counted++
		}
	}
	return counted
}

// CompareDashboards compares every query's DashboardCounts from s with
// the direct computation over the sessions all (DirectDashboard), and the
// exact percentiles of the time to solve with the buckets s gives them;
// it fails t at the first difference. It returns, per query, whether it
// counted a session.
func CompareDashboards(t *testing.T, s storage.DashboardStore, all []*DashboardSession, qs []storage.DashboardQuery) []bool {
	t.Helper()
	counted := make([]bool, len(qs))
	for i, q := range qs {
		got, err := s.DashboardCounts(context.Background(), q)
		if err != nil {
			t.Fatalf("%s: %v", queryName(q), err)
		}
		want, tts := DirectDashboard(all, q, got.Buckets)
		name := queryName(q)
		for _, part := range []struct {
			what      string
			got, want []storage.DashboardCount
		}{
			{"days", got.Days, want.Days}, {"hours", got.Hours, want.Hours}, {"outcomes", got.Outcomes, want.Outcomes},
			{"people", got.People, want.People}, {"to solve", got.ToSolve, want.ToSolve}, {"answer", got.Answer, want.Answer},
			{"goals", got.Goals, want.Goals}, {"distinct", got.Distinct, want.Distinct},
		} {
			if g, w := countMap(part.got), countMap(part.want); !maps.Equal(g, w) {
				t.Fatalf("%s: %s differ:\n got %v\nwant %v", name, part.what, g, w)
			}
		}
		counted[i] = len(got.Days) > 0
		for group, values := range tts {
			slices.Sort(values)
			var mine []storage.DashboardCount
			for _, c := range got.ToSolve {
				if c.Group == group {
					mine = append(mine, c)
				}
			}
			for _, p := range []float64{0.5, 0.9, 0.99} {
				exact := values[storage.NearestRank(int64(len(values)), p)-1]
				lo, hi, ok := storage.BucketPercentile(got.Buckets, mine, p)
				if !ok || exact < lo || (hi != 0 && exact >= hi) {
					t.Fatalf("%s group %q: p%.0f = %v, outside its bucket [%v, %v)", name, group, p*100, exact, lo, hi)
				}
				if hi != 0 && float64(hi-lo) > 0.1*float64(lo)+float64(time.Millisecond) {
					t.Fatalf("bucket [%v, %v) is wider than 10 %%", lo, hi)
				}
			}
		}
	}
	return counted
}

func countMap(list []storage.DashboardCount) map[string]int64 {
	m := map[string]int64{}
	for _, c := range list {
		if c.N != 0 {
			m[fmt.Sprintf("%s|%d|%s", c.Group, c.Value, c.Text)] += c.N
		}
	}
	return m
}

// DashboardSession is a session as the direct computation needs it.
type DashboardSession struct {
	storage.SessionSummary
	Team     string
	Users    []string   // distinct, in join order
	Answered *time.Time // the first answer
}

// readSessions reads the sessions ids back through the store's readers.
func readSessions(t *testing.T, s DashboardBackend, ids []string) []*DashboardSession {
	t.Helper()
	ctx := context.Background()
	var list []*DashboardSession
	for _, id := range ids {
		ss, err := s.Session(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		sum, err := s.SessionSummary(ctx, ss.OrgID, id)
		if err != nil {
			t.Fatal(err)
		}
		r := &DashboardSession{SessionSummary: sum, Team: ss.TeamID}
		for _, p := range participants(t, s, id) {
			if !slices.Contains(r.Users, p.UserID) {
				r.Users = append(r.Users, p.UserID)
			}
		}
		for _, ev := range events(t, s, id) {
			if ev.Kind == storage.EventAnswered && (r.Answered == nil || ev.At.Before(*r.Answered)) {
				at := ev.At
				r.Answered = &at
			}
		}
		list = append(list, r)
	}
	return list
}

// DirectDashboard computes what DashboardCounts should answer from the
// sessions themselves, and the exact times to solve per group.
func DirectDashboard(all []*DashboardSession, q storage.DashboardQuery, buckets []time.Duration) (storage.DashboardCounts, map[string][]time.Duration) {
	var out storage.DashboardCounts
	add := func(list *[]storage.DashboardCount, group string, value int64, text string) {
		*list = append(*list, storage.DashboardCount{Group: group, Value: value, Text: text, N: 1})
	}
	tts := map[string][]time.Duration{}
	distinct := map[string]map[string]bool{}
	type goalKey struct{ outcome, goal string }
	goals := map[goalKey]int64{}
	fromDay, toDay := int64(-1<<62), int64(1<<62)
	if !q.From.IsZero() {
		fromDay = q.From.Unix() / 86400
	}
	if !q.To.IsZero() {
		toDay = q.To.Add(24*time.Hour-1).Unix() / 86400
	}
	for _, r := range all {
		day := r.StartedAt.UnixNano() / int64(24*time.Hour)
		if r.EndedAt == nil || r.OrgID != q.OrgID || day < fromDay || day >= toDay ||
			(len(q.SiteIDs) > 0 && !slices.Contains(q.SiteIDs, r.SiteID)) ||
			(q.Outcome != "" && r.Outcome != q.Outcome) ||
			(q.TeamID != "" && r.Team != q.TeamID) ||
			(q.LabelID != "" && !slices.Contains(r.Labels, q.LabelID)) ||
			(q.UserID != "" && !slices.Contains(r.Users, q.UserID)) {
			continue
		}
		var groups []string
		switch q.By {
		case storage.DimNone:
			groups = []string{""}
		case storage.DimSite:
			groups = []string{r.SiteID}
		case storage.DimTeam:
			if r.Team != "" {
				groups = []string{r.Team}
			}
		case storage.DimLabel:
			groups = r.Labels
		case storage.DimUser:
			groups = r.Users
		}
		for _, g := range groups {
			if (q.By == storage.DimLabel && q.LabelID != "" && g != q.LabelID) ||
				(q.By == storage.DimUser && q.UserID != "" && g != q.UserID) {
				continue
			}
			add(&out.Days, g, day, "")
			add(&out.Hours, g, int64(r.StartedAt.UTC().Hour()), "")
			add(&out.Outcomes, g, 0, r.Outcome)
			add(&out.People, g, int64(len(r.Users)), "")
			if d, ok := r.TimeToSolve(); ok {
				add(&out.ToSolve, g, int64(storage.Bucket(buckets, d)), "")
				tts[g] = append(tts[g], d)
			}
			if r.Kind == storage.SessionServiceRequest && r.Answered != nil {
				add(&out.Answer, g, int64(storage.Bucket(buckets, r.Answered.Sub(r.StartedAt))), "")
			}
			if goal := storage.GoalKey(r.Goal); goal != "" {
				goals[goalKey{r.Outcome, goal}]++
			}
			if distinct[g] == nil {
				distinct[g] = map[string]bool{}
			}
			for _, u := range r.Users {
				distinct[g][u] = true
			}
		}
	}
	keys := slices.Collect(maps.Keys(goals))
	sort.Slice(keys, func(i, j int) bool {
		a, b := keys[i], keys[j]
		if goals[a] != goals[b] {
			return goals[a] > goals[b]
		}
		if a.goal != b.goal {
			return a.goal < b.goal
		}
		return a.outcome < b.outcome
	})
	for _, k := range keys[:min(200, len(keys))] {
		out.Goals = append(out.Goals, storage.DashboardCount{Group: k.outcome, Text: k.goal, N: goals[k]})
	}
	if q.TeamID == "" && q.LabelID == "" && q.UserID == "" && (q.By == storage.DimNone || q.By == storage.DimSite) {
		for g, users := range distinct {
			if len(users) > 0 {
				out.Distinct = append(out.Distinct, storage.DashboardCount{Group: g, Value: int64(len(users)), N: int64(len(users))})
			}
		}
	}
	return out, tts
}
