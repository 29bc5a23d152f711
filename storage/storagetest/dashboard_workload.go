package storagetest

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"siteline/storage"
)

// The random history the dashboard suites write, and their queries.

// dashOrg is an organisation of the workloads: its sites, teams, labels
// (of Labels) and users.
type dashOrg struct {
	id                   string
	sites, teams, labels []string
	users                []string
}

var dashOrgs = []dashOrg{
	{id: "o1", sites: []string{"s1", "s2", "s3"}, teams: []string{"t1", "t2"}, labels: []string{"l1", "l2", "L3"},
		users: []string{"u1", "u2", "u3", "u4", "u5", "u6", "guest-1", "guest-2"}},
	{id: "o2", sites: []string{"s9"}, teams: []string{"t9"}, labels: []string{"l9"}, users: []string{"u9", "u8"}},
}

// dashGoals are goals that count as one (case, spacing, words holding a
// digit) and goals that do not.
var dashGoals = []string{"", "Inspect boiler B-204", "inspect  Boiler C-118", "Pump 12 leaks", "pump 7 leaks", "Ölpumpe prüfen",
	"ÖLPUMPE Prüfen", "B-204", "Replace the drive belt", "Straße 7 sperren"}

// DashboardWorkload is a random history, the same for a seed: sessions of
// both organisations of dashOrgs, at their sites, some of a team, with
// participants (a user joining twice, guests), answers to service
// requests, ends, outcomes with and without a solved time, labels and
// goals set after the call (some by an earlier version that loses), some
// written at this node and some at a plant and applied from its history.
type DashboardWorkload struct {
	local, plant [][]func(ctx context.Context, s DashboardBackend) error // per session, in order
	ids          []string
}

// dashSessions is how many sessions the suite's workloads hold.
const dashSessions = 160

// NewDashboardWorkload makes the workload of seed, of n sessions.
func NewDashboardWorkload(seed uint64, n int) *DashboardWorkload {
	r := rand.New(rand.NewPCG(seed, seed^0x5eed))
	w := &DashboardWorkload{}
	for i := range n {
		id := fmt.Sprintf("d%03d", i)
		w.ids = append(w.ids, id)
		ops := dashSession(r, id)
		if r.IntN(10) < 3 {
			w.plant = append(w.plant, ops)
		} else {
			w.local = append(w.local, ops)
		}
	}
	return w
}

// dashSession is the writes of one random session.
func dashSession(r *rand.Rand, id string) []func(ctx context.Context, s DashboardBackend) error {
	org := dashOrgs[0]
	if r.IntN(5) == 0 {
		org = dashOrgs[1]
	}
	pick := func(list []string) string { return list[r.IntN(len(list))] }
	start := dashEnd.Add(-time.Duration(r.Int64N(int64(100 * 24 * time.Hour))))
	ss := storage.Session{ID: id, OrgID: org.id, SiteID: pick(org.sites), Kind: storage.SessionConference,
		Status: storage.SessionActive, CreatedBy: pick(org.users), Goal: pick(dashGoals), StartedAt: start}
	if r.IntN(3) > 0 {
		ss.TeamID = pick(org.teams)
	}
	if r.IntN(10) < 3 {
		ss.Kind, ss.Status = storage.SessionServiceRequest, storage.SessionRinging
	}
	ops := []func(ctx context.Context, s DashboardBackend) error{
		func(ctx context.Context, s DashboardBackend) error { return s.CreateSession(ctx, ss) },
	}
	at := start
	later := func() time.Time {
		at = at.Add(time.Duration(1 + r.Int64N(int64(40*time.Minute))))
		return at
	}
	seq := 0
	event := func(kind, actor string, when time.Time) storage.SessionEvent {
		seq++
		return storage.SessionEvent{ID: fmt.Sprintf("%s-e%d", id, seq), SessionID: id, At: when, Kind: kind, ActorID: actor}
	}
	if ss.Kind == storage.SessionServiceRequest && r.IntN(10) < 7 {
		ev := event(storage.EventAnswered, pick(org.users), later())
		ops = append(ops, func(ctx context.Context, s DashboardBackend) error { return s.AppendSessionEvent(ctx, ev) })
	}
	for j := range r.IntN(5) {
		user := pick(org.users)
		kind := storage.UserRegular
		if strings.HasPrefix(user, "guest") {
			kind = storage.UserGuestMobile
		}
		when := later()
		p := storage.SessionParticipant{ID: fmt.Sprintf("%s-p%d", id, j), SessionID: id, UserID: user, UserKind: kind, JoinedAt: when}
		ev := event(storage.EventJoined, user, when)
		ops = append(ops, func(ctx context.Context, s DashboardBackend) error { return s.RecordJoin(ctx, p, ev) })
	}
	ended := r.IntN(10) < 8
	if ended {
		end := later()
		ev := event(storage.EventEnded, ss.CreatedBy, end)
		ops = append(ops, func(ctx context.Context, s DashboardBackend) error { return s.EndSession(ctx, id, end, ev) })
	}
	// What people set after the call, each at a version of its own.
	v := func(n int) storage.Version {
		return storage.Version{At: dashEnd.Add(time.Duration(n) * time.Minute), Origin: "test"}
	}
	outcomes := []string{storage.OutcomeSolved, storage.OutcomeNotSolved, "escalated"}
	for n := range r.IntN(3) {
		outcome := pick(outcomes)
		var solved *time.Time // solved: the version's time
		if r.IntN(2) == 0 {
			at := start.Add(time.Duration(1 + r.Int64N(int64(3*time.Hour))))
			solved = &at
		}
		ver := v(10 + n + 3*r.IntN(4)) // the latest version wins, not the last write
		ops = append(ops, func(ctx context.Context, s DashboardBackend) error {
			_, err := s.SetSessionOutcome(ctx, id, outcome, solved, ver)
			return err
		})
	}
	if r.IntN(2) == 0 {
		var labels []string
		for _, l := range org.labels {
			if r.IntN(2) == 0 {
				labels = append(labels, l)
			}
		}
		for n, set := range [][]string{labels, slices.Clone(org.labels[:1])} {
			if n == 1 && r.IntN(2) == 0 {
				break
			}
			ver := v(30 + n)
			ops = append(ops, func(ctx context.Context, s DashboardBackend) error {
				_, err := s.SetSessionLabels(ctx, id, set, ver)
				return err
			})
		}
	}
	if r.IntN(3) == 0 {
		goal, ver := pick(dashGoals), v(40+r.IntN(3))
		ops = append(ops, func(ctx context.Context, s DashboardBackend) error {
			_, err := s.SetSessionDetails(ctx, id, "renamed", goal, ver)
			return err
		})
	}
	return ops
}

// Write writes the workload: its local part to hq, its plant part to
// plant, whose history hq then applies backwards, then forwards.
func (w *DashboardWorkload) Write(t *testing.T, plant, hq DashboardBackend) {
	t.Helper()
	writeSessions(t, plant, w.plant)
	writeSessions(t, hq, w.local)
	msgs := messagesOf(t, plant, "plant-1")
	if len(msgs) == 0 {
		t.Fatal("the plant wrote no history")
	}
	for _, batch := range [][]storage.HistoryMessage{reversed(msgs), msgs} {
		mustApplyHistory(t, hq, batch)
	}
}

func writeSessions(t *testing.T, s DashboardBackend, sessions [][]func(ctx context.Context, s DashboardBackend) error) {
	t.Helper()
	for _, ops := range sessions {
		if err := writeSession(s, ops); err != nil {
			t.Fatal(err)
		}
	}
}

func writeSession(s DashboardBackend, ops []func(ctx context.Context, s DashboardBackend) error) error {
	for i, op := range ops {
		if err := op(context.Background(), s); err != nil {
			return fmt.Errorf("write %d of a session of the workload: %w", i, err)
		}
	}
	return nil
}

// WriteConcurrently writes the workload as Write does, but hq's sessions
// from several goroutines at once while hq applies the plant's history in
// small batches beside them.
func (w *DashboardWorkload) WriteConcurrently(t *testing.T, plant, hq DashboardBackend) {
	t.Helper()
	writeSessions(t, plant, w.plant)
	msgs := messagesOf(t, plant, "plant-1")
	const writers = 4
	errs := make(chan error, writers+1)
	var wg sync.WaitGroup
	for g := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := g; i < len(w.local); i += writers {
				if err := writeSession(hq, w.local[i]); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; i < len(msgs); i += 5 {
			batch := msgs[i:min(i+5, len(msgs))]
			res, err := hq.ApplyHistory(context.Background(), batch)
			if err != nil || res.Applied != len(batch) {
				errs <- fmt.Errorf("apply %d messages beside the writers = %+v, %v", len(batch), res, err)
				return
			}
		}
	}()
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

// Queries are the workload's dashboard queries: every breakdown crossed
// with the filters each allows, over every grain (open ranges, whole
// months with days at the edges, a range starting on the first of a
// month, a few days), for each organisation.
func (w *DashboardWorkload) Queries() []storage.DashboardQuery {
	var qs []storage.DashboardQuery
	for _, org := range dashOrgs {
		qs = append(qs, dashboardQueries(org, dashEnd)...)
	}
	return qs
}

func dashboardQueries(org dashOrg, end time.Time) []storage.DashboardQuery {
	from := end.Add(-40 * 24 * time.Hour).Truncate(24 * time.Hour)
	filters := []storage.DashboardQuery{
		{},
		{From: from, To: from.Add(20 * 24 * time.Hour), SiteIDs: org.sites[:1]},
		{Outcome: storage.OutcomeSolved},
		{Outcome: "escalated", By: storage.DimUser},
		{TeamID: org.teams[0]},
		{LabelID: org.labels[0], From: from},
		{UserID: org.users[1]},
		{From: end.Add(-75 * 24 * time.Hour), To: end.Add(-3 * 24 * time.Hour)},
		{From: monthFloor(end.Add(-62 * 24 * time.Hour)), To: end.Add(-3 * 24 * time.Hour), Outcome: storage.OutcomeSolved},
		{From: monthFloor(end.Add(-62 * 24 * time.Hour)), To: monthFloor(end), SiteIDs: org.sites[len(org.sites)-1:], Outcome: storage.OutcomeNotSolved},
		{From: end.Add(-9 * 24 * time.Hour), To: end.Add(-2 * 24 * time.Hour), SiteIDs: org.sites},
		{From: end.Add(-50 * 24 * time.Hour), LabelID: org.labels[len(org.labels)-1], Outcome: storage.OutcomeSolved},
		{UserID: org.users[0], SiteIDs: org.sites[:1]},
	}
	var qs []storage.DashboardQuery
	for _, by := range storage.DashboardDims {
		for _, f := range filters {
			f.OrgID, f.By = org.id, by
			if f.Check() == nil {
				qs = append(qs, f)
			}
		}
	}
	return qs
}

func monthFloor(t time.Time) time.Time {
	t = t.UTC()
	return time.Date(t.Year(), t.Month(), 1, 0, 0, 0, 0, time.UTC)
}

func queryName(q storage.DashboardQuery) string {
	return fmt.Sprintf("org=%s by=%q team=%q label=%q user=%q outcome=%q sites=%v from=%v to=%v",
		q.OrgID, q.By, q.TeamID, q.LabelID, q.UserID, q.Outcome, q.SiteIDs, q.From, q.To)
}
