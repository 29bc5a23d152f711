package sqlite

import (
	"context"
	"fmt"
	"hash/fnv"
	"slices"
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
// direct computation (storagetest.CompareDashboards) over every session,
// read from the tables at once.
func checkDashboards(t *testing.T, s *Store, orgs []historygen.Org) {
	t.Helper()
	qs := dashboardQueries(orgs[0], dashCfg.End)
	for i, counted := range storagetest.CompareDashboards(t, s, readAllSessions(t, s), qs) {
		if q := qs[i]; !counted && q.UserID == "" {
			t.Fatalf("%+v: no session counted", q)
		}
	}
}

// readAllSessions reads every session as the direct computation needs it,
// with one query per table: reading 1,500 sessions one by one through the
// store's readers would take most of the tests' time.
func readAllSessions(t *testing.T, s *Store) []*storagetest.DashboardSession {
	t.Helper()
	ctx := context.Background()
	byID := map[string]*storagetest.DashboardSession{}
	var list []*storagetest.DashboardSession
	rows, err := s.read.QueryContext(ctx, `SELECT id, org_id, site_id, kind, goal, outcome, team_id, started_at, ended_at, solved_at FROM sessions`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		r := &storagetest.DashboardSession{}
		if err := rows.Scan(&r.ID, &r.OrgID, &r.SiteID, &r.Kind, &r.Goal, &r.Outcome, &r.Team,
			timeDest{&r.StartedAt}, optTimeDest{&r.EndedAt}, optTimeDest{&r.SolvedAt}); err != nil {
			t.Fatal(err)
		}
		byID[r.ID] = r
		list = append(list, r)
	}
	rows.Close()
	each := func(q string, f func(r *storagetest.DashboardSession, v string, at *time.Time)) {
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
	each(`SELECT session_id, label_id, NULL FROM session_labels`, func(r *storagetest.DashboardSession, v string, _ *time.Time) {
		r.Labels = append(r.Labels, v)
	})
	each(`SELECT session_id, user_id, NULL FROM session_participants ORDER BY rowid`, func(r *storagetest.DashboardSession, v string, _ *time.Time) {
		if !slices.Contains(r.Users, v) {
			r.Users = append(r.Users, v)
		}
	})
	each(`SELECT session_id, '', at FROM session_events WHERE kind = 'answered'`, func(r *storagetest.DashboardSession, _ string, at *time.Time) {
		if r.Answered == nil || at.Before(*r.Answered) {
			r.Answered = at
		}
	})
	return list
}
