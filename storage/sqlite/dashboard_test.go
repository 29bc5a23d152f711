package sqlite

import (
	"context"
	"fmt"
	"hash/fnv"
	"maps"
	"slices"
	"sort"
	"testing"
	"time"

	"siteline/storage"
	"siteline/storage/historygen"
	"siteline/storage/storagetest"
)

// The dashboards' rollups are checked against a direct computation over
// every stored session (sessions, labels, participants and answered
// events read back row by row, time to solve by
// storage.SessionSummary.TimeToSolve), for every breakdown and filter.

// teamLoader gives generated sessions a team (two in three) and service
// requests an answered event, which historygen does not make.
type teamLoader struct{ s *Store }

func (l teamLoader) LoadSessions(ctx context.Context, bundles []storage.SessionBundle) error {
	for i := range bundles {
		withTeamAndAnswer(&bundles[i])
	}
	return l.s.LoadSessions(ctx, bundles)
}

func withTeamAndAnswer(b *storage.SessionBundle) {
	h := fnv.New32a()
	h.Write([]byte(b.Session.ID))
	x := h.Sum32()
	if x%3 != 0 {
		b.Session.TeamID = fmt.Sprintf("%s-team-%d", b.Session.OrgID, x%4)
	}
	if b.Session.Kind == storage.SessionServiceRequest {
		b.Events = append(b.Events, storage.SessionEvent{ID: b.Session.ID + "-answered", SessionID: b.Session.ID,
			Seq: int64(len(b.Events) + 1), At: b.Session.StartedAt.Add(time.Duration(x%400) * time.Second),
			Kind: storage.EventAnswered, Payload: []byte(`{}`)})
	}
}

var dashCfg = historygen.Config{Seed: 19, Sessions: 1500, Orgs: 2, SitesPerOrg: 4, UsersPerOrg: 30, LabelsPerOrg: 6,
	End: historygen.Defaults.End, Span: 90 * 24 * time.Hour, Batch: 300}

// dashboardQueries are the breakdowns crossed with the filters each
// allows.
func dashboardQueries(org historygen.Org, end time.Time) []storage.DashboardQuery {
	from := end.Add(-40 * 24 * time.Hour).Truncate(24 * time.Hour)
	filters := []storage.DashboardQuery{
		{},
		{From: from, To: from.Add(20 * 24 * time.Hour), SiteIDs: org.Sites[:2]},
		{Outcome: storage.OutcomeSolved},
		{TeamID: org.ID + "-team-1"},
		{LabelID: org.Labels[0], From: from},
		{UserID: org.Users[3].ID},
		// Whole months and the days at either edge; a range starting on
		// the first of a month; whole months of one site and outcome.
		{From: end.Add(-75 * 24 * time.Hour), To: end.Add(-3 * 24 * time.Hour)},
		{From: monthFloor(end.Add(-62 * 24 * time.Hour)), To: end.Add(-3 * 24 * time.Hour), Outcome: storage.OutcomeSolved},
		{From: monthFloor(end.Add(-62 * 24 * time.Hour)), To: monthFloor(end), SiteIDs: org.Sites[1:2], Outcome: storage.OutcomeSolved},
	}
	var qs []storage.DashboardQuery
	for _, by := range storage.DashboardDims {
		for _, f := range filters {
			f.OrgID, f.By = org.ID, by
			dims := map[storage.DashboardDim]string{storage.DimTeam: f.TeamID, storage.DimLabel: f.LabelID, storage.DimUser: f.UserID}
			ok := true
			for d, id := range dims {
				if id != "" && (by == storage.DimTeam || by == storage.DimLabel || by == storage.DimUser) && by != d {
					ok = false
				}
			}
			if ok {
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

// TestDashboard runs the dashboards' conformance suite, which
// storage/postgres runs too, on SQLite files whose organisation data
// holds storagetest.Labels.
func TestDashboard(t *testing.T) {
	storagetest.Dashboard(t, func(t *testing.T) storagetest.DashboardBackend {
		s, _ := openTestStore(t)
		mustApply(t, s, 1, labelsCommand(storagetest.Labels))
		return s
	})
}

func TestDashboardCountsEqualADirectComputation(t *testing.T) {
	s, orgs := filledStore(t, dashCfg, func(s *Store) historygen.Loader { return teamLoader{s} })
	checkDashboards(t, s, orgs)
}

func TestDashboardCountsOfABulkLoadEqualADirectComputation(t *testing.T) {
	var bulk *BulkLoad
	s, orgs := filledStore(t, dashCfg, func(s *Store) historygen.Loader {
		var err error
		if bulk, err = s.BulkLoad(context.Background()); err != nil {
			t.Fatal(err)
		}
		return bulkTeamLoader{bulk}
	})
	if err := bulk.Finish(context.Background()); err != nil {
		t.Fatal(err)
	}
	checkDashboards(t, s, orgs)
	// The load dropped the rollups' triggers; they are all back.
	var triggers int
	if err := s.read.QueryRow(`SELECT count(*) FROM sqlite_schema WHERE type = 'trigger' AND name LIKE 'dashboard%'`).Scan(&triggers); err != nil {
		t.Fatal(err)
	}
	if want := 24; triggers != want {
		t.Fatalf("%d dashboard triggers after the load, want %d", triggers, want)
	}
}

type bulkTeamLoader struct{ *BulkLoad }

func (l bulkTeamLoader) LoadSessions(ctx context.Context, bundles []storage.SessionBundle) error {
	for i := range bundles {
		withTeamAndAnswer(&bundles[i])
	}
	return l.BulkLoad.LoadSessions(ctx, bundles)
}

// A plant's backlog arriving after an outage: the sessions of one site
// come last, and older than what is already there.
func TestDashboardCountsStayCorrectWhenSessionsArriveLate(t *testing.T) {
	ctx := context.Background()
	s, _ := openTestStore(t)
	orgs, cmd := historygen.Orgs(dashCfg)
	if err := s.Apply(ctx, 1, cmd); err != nil {
		t.Fatal(err)
	}
	var late []storage.SessionBundle
	backlog := loaderFunc(func(ctx context.Context, bundles []storage.SessionBundle) error {
		var now []storage.SessionBundle
		for _, b := range bundles {
			withTeamAndAnswer(&b)
			if b.Session.SiteID == orgs[0].Sites[0] {
				late = append(late, b)
			} else {
				now = append(now, b)
			}
		}
		return s.LoadSessions(ctx, now)
	})
	if _, err := historygen.Fill(ctx, backlog, orgs, dashCfg); err != nil {
		t.Fatal(err)
	}
	if len(late) == 0 {
		t.Fatal("no session of the late site")
	}
	checkDashboards(t, s, orgs)
	slices.Reverse(late) // oldest last, in small batches
	for len(late) > 0 {
		n := min(7, len(late))
		if err := s.LoadSessions(ctx, late[:n]); err != nil {
			t.Fatal(err)
		}
		late = late[n:]
	}
	checkDashboards(t, s, orgs)
}

type loaderFunc func(context.Context, []storage.SessionBundle) error

func (f loaderFunc) LoadSessions(ctx context.Context, b []storage.SessionBundle) error {
	return f(ctx, b)
}

func TestDashboardCountsFollowEditsEndsAndDeletions(t *testing.T) {
	ctx := context.Background()
	cfg := dashCfg
	cfg.Sessions = 400
	s, orgs := filledStore(t, cfg, func(s *Store) historygen.Loader { return teamLoader{s} })
	org := orgs[0]
	ids := sessionIDs(t, s, org.ID)
	at := cfg.End.Add(time.Hour)
	v := func(i int) storage.Version {
		return storage.Version{At: at.Add(time.Duration(i) * time.Second), Origin: "test"}
	}
	for i, id := range ids[:40] {
		switch i % 4 {
		case 0:
			if _, err := s.SetSessionOutcome(ctx, id, storage.OutcomeNotSolved, nil, v(i)); err != nil {
				t.Fatal(err)
			}
		case 1:
			if _, err := s.SetSessionLabels(ctx, id, org.Labels[:i%3+1], v(i)); err != nil {
				t.Fatal(err)
			}
		case 2:
			if _, err := s.SetSessionDetails(ctx, id, "renamed", "Replace the drive belt", v(i)); err != nil {
				t.Fatal(err)
			}
		case 3:
			if _, err := s.write.ExecContext(ctx, `DELETE FROM sessions WHERE id = ?`, id); err != nil {
				t.Fatal(err)
			}
		}
	}
	// A live call: created, joined, answered, solved, ended.
	start := cfg.End.Add(-30 * time.Minute)
	live := storage.Session{ID: "live-1", OrgID: org.ID, SiteID: org.Sites[1], Kind: storage.SessionServiceRequest,
		Status: storage.SessionRinging, CreatedBy: org.Users[0].ID, TeamID: org.ID + "-team-1", StartedAt: start}
	if err := s.CreateSession(ctx, live); err != nil {
		t.Fatal(err)
	}
	join := func(n int, user string, at time.Time) {
		p := storage.SessionParticipant{ID: fmt.Sprintf("live-p%d", n), SessionID: live.ID, UserID: user,
			UserKind: storage.UserRegular, JoinedAt: at}
		if err := s.RecordJoin(ctx, p, storage.SessionEvent{ID: fmt.Sprintf("live-e%d", n), SessionID: live.ID, At: at,
			Kind: storage.EventJoined, ActorID: user, Payload: []byte(`{}`)}); err != nil {
			t.Fatal(err)
		}
	}
	join(1, org.Users[0].ID, start)
	checkDashboards(t, s, orgs)
	if err := s.AnswerSession(ctx, storage.SessionEvent{ID: "live-answer", SessionID: live.ID, At: start.Add(95 * time.Second),
		Kind: storage.EventAnswered, ActorID: org.Users[3].ID, Payload: []byte(`{}`)}); err != nil {
		t.Fatal(err)
	}
	join(2, org.Users[3].ID, start.Add(95*time.Second))
	join(3, org.Users[3].ID, start.Add(200*time.Second)) // the same user again
	solved := start.Add(17 * time.Minute)
	if _, err := s.SetSessionOutcome(ctx, live.ID, storage.OutcomeSolved, &solved, v(100)); err != nil {
		t.Fatal(err)
	}
	checkDashboards(t, s, orgs)
	if err := s.EndSession(ctx, live.ID, start.Add(25*time.Minute), storage.SessionEvent{ID: "live-end", SessionID: live.ID,
		At: start.Add(25 * time.Minute), Kind: storage.EventEnded, Payload: []byte(`{}`)}); err != nil {
		t.Fatal(err)
	}
	checkDashboards(t, s, orgs)
	got, err := s.DashboardCounts(ctx, storage.DashboardQuery{OrgID: org.ID, TeamID: org.ID + "-team-1", By: storage.DimTeam})
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Answer) == 0 {
		t.Fatal("no answer time counted for the team's service requests")
	}
}

func sessionIDs(t *testing.T, s *Store, org string) []string {
	rows, err := s.read.Query(`SELECT id FROM sessions WHERE org_id = ? ORDER BY id`, org)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	return ids
}

// checkDashboards compares every query's counts and percentiles with the
// direct computation.
func checkDashboards(t *testing.T, s *Store, orgs []historygen.Org) {
	t.Helper()
	all := readAllSessions(t, s)
	for _, org := range orgs[:1] {
		for _, q := range dashboardQueries(org, dashCfg.End) {
			got, err := s.DashboardCounts(context.Background(), q)
			if err != nil {
				t.Fatalf("%+v: %v", q, err)
			}
			want, tts := directCounts(all, q, got.Buckets)
			name := fmt.Sprintf("by=%q team=%q label=%q user=%q outcome=%q sites=%v from=%v", q.By, q.TeamID, q.LabelID, q.UserID, q.Outcome, q.SiteIDs, q.From)
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
			if len(got.Days) == 0 && q.UserID == "" {
				t.Fatalf("%s: no session counted", name)
			}
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
	}
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

type rawSession struct {
	storage.SessionSummary
	team     string
	users    []string // distinct, in join order
	answered *time.Time
}

func readAllSessions(t *testing.T, s *Store) []*rawSession {
	t.Helper()
	ctx := context.Background()
	byID := map[string]*rawSession{}
	var list []*rawSession
	rows, err := s.read.QueryContext(ctx, `SELECT id, org_id, site_id, kind, goal, outcome, team_id, started_at, ended_at, solved_at FROM sessions`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		r := &rawSession{}
		if err := rows.Scan(&r.ID, &r.OrgID, &r.SiteID, &r.Kind, &r.Goal, &r.Outcome, &r.team,
			timeDest{&r.StartedAt}, optTimeDest{&r.EndedAt}, optTimeDest{&r.SolvedAt}); err != nil {
			t.Fatal(err)
		}
		byID[r.ID] = r
		list = append(list, r)
	}
	rows.Close()
	each := func(q string, f func(r *rawSession, v string, at *time.Time)) {
		rows, err := s.read.QueryContext(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		for rows.Next() {
			var id, v string
			var at *time.Time
			if err := rows.Scan(&id, &v, optTimeDest{&at}); err != nil {
				t.Fatal(err)
			}
			if r := byID[id]; r != nil {
				f(r, v, at)
			}
		}
	}
	each(`SELECT session_id, label_id, NULL FROM session_labels`, func(r *rawSession, v string, _ *time.Time) { r.Labels = append(r.Labels, v) })
	each(`SELECT session_id, user_id, NULL FROM session_participants ORDER BY rowid`, func(r *rawSession, v string, _ *time.Time) {
		if !slices.Contains(r.users, v) {
			r.users = append(r.users, v)
		}
	})
	each(`SELECT session_id, '', at FROM session_events WHERE kind = 'answered'`, func(r *rawSession, _ string, at *time.Time) {
		if r.answered == nil || at.Before(*r.answered) {
			r.answered = at
		}
	})
	return list
}

// directCounts computes what DashboardCounts should answer from the
// sessions themselves, and the exact times to solve per group.
func directCounts(all []*rawSession, q storage.DashboardQuery, buckets []time.Duration) (storage.DashboardCounts, map[string][]time.Duration) {
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
			(q.TeamID != "" && r.team != q.TeamID) ||
			(q.LabelID != "" && !slices.Contains(r.Labels, q.LabelID)) ||
			(q.UserID != "" && !slices.Contains(r.users, q.UserID)) {
			continue
		}
		var groups []string
		switch q.By {
		case storage.DimNone:
			groups = []string{""}
		case storage.DimSite:
			groups = []string{r.SiteID}
		case storage.DimTeam:
			if r.team != "" {
				groups = []string{r.team}
			}
		case storage.DimLabel:
			groups = r.Labels
		case storage.DimUser:
			groups = r.users
		}
		for _, g := range groups {
			if (q.By == storage.DimLabel && q.LabelID != "" && g != q.LabelID) ||
				(q.By == storage.DimUser && q.UserID != "" && g != q.UserID) {
				continue
			}
			add(&out.Days, g, day, "")
			add(&out.Hours, g, int64(r.StartedAt.UTC().Hour()), "")
			add(&out.Outcomes, g, 0, r.Outcome)
			add(&out.People, g, int64(len(r.users)), "")
			if d, ok := r.TimeToSolve(); ok {
				add(&out.ToSolve, g, int64(storage.Bucket(buckets, d)), "")
				tts[g] = append(tts[g], d)
			}
			if r.Kind == storage.SessionServiceRequest && r.answered != nil {
				add(&out.Answer, g, int64(storage.Bucket(buckets, r.answered.Sub(r.StartedAt))), "")
			}
			if goal := storage.GoalKey(r.Goal); goal != "" {
				goals[goalKey{r.Outcome, goal}]++
			}
			if distinct[g] == nil {
				distinct[g] = map[string]bool{}
			}
			for _, u := range r.users {
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
