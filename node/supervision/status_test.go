package supervision

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"siteline/policy"
	"siteline/storage"
	"siteline/web"
)

func TestStatusOf(t *testing.T) {
	now := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
	idle := 5 * time.Minute
	for _, tc := range []struct {
		name string
		seen Seen
		off  bool
		want string
	}{
		{"nothing open", Seen{}, false, web.StatusOffline},
		{"page open, active now", Seen{Page: true, Active: now}, false, web.StatusAvailable},
		{"page open, activity unknown", Seen{Page: true}, false, web.StatusAvailable},
		{"page open, quiet just under idle_after", Seen{Page: true, Active: now.Add(-idle + time.Second)}, false, web.StatusAvailable},
		{"page open, quiet for idle_after", Seen{Page: true, Active: now.Add(-idle)}, false, web.StatusIdle},
		{"in a call, no page", Seen{InCall: true, CallID: "c1"}, false, web.StatusBusy},
		{"in a call, page quiet for long", Seen{Page: true, InCall: true, Active: now.Add(-time.Hour)}, false, web.StatusBusy},
		{"auto-assign off, page open", Seen{Page: true, Active: now}, true, web.StatusAutoAssignOff},
		{"auto-assign off, in a call", Seen{InCall: true}, true, web.StatusBusy},
		{"auto-assign off, offline", Seen{}, true, web.StatusOffline},
	} {
		if got := StatusOf(tc.seen, tc.off, now, idle); got != tc.want {
			t.Errorf("%s: status %q, want %q", tc.name, got, tc.want)
		}
	}
}

// TestAvailableBusyAvailable: a member opens a page (available), joins a
// call (busy: which session, since when), leaves it (available); the
// lead watching hears each change, with the call and its start.
func TestAvailableBusyAvailable(t *testing.T) {
	w := newWorld(false)
	lead := w.watch("l1")
	now := w.clock.Now()
	w.presence.set("u1", Seen{Page: true, Active: now})
	w.refresh()
	if got := statuses(lead.take())["u1"]; got != web.StatusAvailable {
		t.Fatalf("after the page opened: %q, want available", got)
	}

	w.clock.Add(time.Minute)
	joined := w.clock.Now()
	w.presence.set("u1", Seen{Page: true, InCall: true, CallID: "call-1", Since: joined, Site: "s-a", Active: now})
	w.refresh()
	evs := lead.take()
	if len(evs) != 1 {
		t.Fatalf("after the join: %d events, want 1: %+v", len(evs), evs)
	}
	u := evs[0].Supervision
	if u.Member.Status != web.StatusBusy || u.Member.CallID != "call-1" || u.Member.Since == nil || !u.Member.Since.Equal(joined) || u.Member.Site != "Plant A" {
		t.Fatalf("busy update = %+v", u.Member)
	}
	if len(u.Teams) != 1 || u.Teams[0] != "t1" {
		t.Fatalf("l1 leads t1 only; the update names %v", u.Teams)
	}

	w.refresh() // nothing changed: nothing sent
	if evs := lead.take(); len(evs) != 0 {
		t.Fatalf("a look with no change sent %+v", evs)
	}

	w.clock.Add(3 * time.Minute)
	w.presence.set("u1", Seen{Page: true, Active: w.clock.Now()})
	w.refresh()
	evs = lead.take()
	if got := statuses(evs)["u1"]; got != web.StatusAvailable {
		t.Fatalf("after the call: %q, want available", got)
	}
	if m := evs[0].Supervision.Member; m.CallID != "" || m.Since == nil || !m.Since.Equal(w.clock.Now()) {
		t.Fatalf("available again = %+v", m)
	}
}

// TestIdleAfterConfiguredTime: a member whose page stays quiet becomes
// idle exactly idle_after after their last activity, and available again
// on activity.
func TestIdleAfterConfiguredTime(t *testing.T) {
	w := newWorld(false)
	lead := w.watch("l1")
	w.presence.set("u2", Seen{Page: true, Active: w.clock.Now()})
	w.refresh()
	lead.take()

	w.clock.Add(5*time.Minute - time.Second)
	w.refresh()
	if got := statuses(lead.take())["u2"]; got != "" {
		t.Fatalf("one second before idle_after: %q sent", got)
	}
	w.clock.Add(time.Second)
	w.refresh()
	if got := statuses(lead.take())["u2"]; got != web.StatusIdle {
		t.Fatalf("at idle_after: %q, want idle", got)
	}

	w.hub.Active(web.Actor{UserID: "u2", OrgID: "o1"})
	w.refresh()
	if got := statuses(lead.take())["u2"]; got != web.StatusAvailable {
		t.Fatalf("after activity: %q, want available", got)
	}
}

// TestOffline: a member whose pages all close (or whose node's
// announcement expired) goes offline.
func TestOffline(t *testing.T) {
	w := newWorld(false)
	lead := w.watch("l1")
	w.presence.set("u1", Seen{Page: true, Active: w.clock.Now()})
	w.refresh()
	lead.take()
	w.presence.gone("u1")
	w.refresh()
	if got := statuses(lead.take())["u1"]; got != web.StatusOffline {
		t.Fatalf("after the page closed: %q, want offline", got)
	}
}

// TestAutoAssignOff: the queues' switch (a fake of the AutoAssign seam)
// turns an available member into auto-assign off and back, on its change
// notification alone; a busy member stays busy.
func TestAutoAssignOff(t *testing.T) {
	w := newWorld(true)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go w.hub.Run(ctx)
	lead := w.watch("l1")
	w.presence.set("u1", Seen{Page: true, Active: w.clock.Now()})
	w.presence.set("u2", Seen{InCall: true, CallID: "c9"})
	w.refresh()
	lead.take()

	w.auto.set("u1", true)
	w.auto.set("u2", true)
	want := func(user, status string) {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		got := map[string]string{}
		for time.Now().Before(deadline) {
			for u, s := range statuses(lead.take()) {
				got[u] = s
			}
			if got[user] == status {
				return
			}
			time.Sleep(5 * time.Millisecond) // poll interval
		}
		t.Fatalf("%s: %q, want %q", user, got[user], status)
	}
	want("u1", web.StatusAutoAssignOff)
	b, err := w.hub.Board(ctx, web.Actor{UserID: "l1", OrgID: "o1"}, "t1")
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range b.Members {
		if m.ID == "u2" && (m.Status != web.StatusBusy || m.AutoAssign) {
			t.Fatalf("busy member with auto-assign off = %+v", m)
		}
	}
	w.auto.set("u1", false)
	want("u1", web.StatusAvailable)
}

// TestQueueSeam: a change of a team's queue (a fake of the Queue seam)
// reaches the supervisors of that team, not the others, and the board
// lists the queue.
func TestQueueSeam(t *testing.T) {
	w := newWorld(true)
	l1, l2 := w.watch("l1"), w.watch("l2")
	w.queue.add("t2", web.QueueItem{ID: "r1", Subject: "Press 7 stops", Since: w.clock.Now()})
	if evs := l1.take(); len(evs) != 0 {
		t.Fatalf("l1 (team t1) got t2's queue: %+v", evs)
	}
	evs := l2.take()
	if len(evs) != 1 || evs[0].Supervision.Kind != "queue" || len(evs[0].Supervision.Queue) != 1 || evs[0].Supervision.Queue[0].ID != "r1" {
		t.Fatalf("l2 got %+v", evs)
	}
	b, err := w.hub.Board(context.Background(), web.Actor{UserID: "l2", OrgID: "o1"}, "t2")
	if err != nil || len(b.Queue) != 1 {
		t.Fatalf("board queue = %+v, %v", b.Queue, err)
	}
}

// TestWatchersSeeTheirScope: an update reaches the supervisors whose
// teams hold the member (lead, manager, administrator), naming only those
// teams, and nobody else; a lead is not told of the team's other leads,
// a manager is.
func TestWatchersSeeTheirScope(t *testing.T) {
	w := newWorld(false)
	in := map[string]*inbox{}
	for _, u := range []string{"l1", "l2", "m1", "adm", "x", "u1"} {
		in[u] = w.watch(u)
	}
	w.presence.set("u1", Seen{Page: true})
	w.presence.set("l2", Seen{Page: true})
	w.refresh()
	got := map[string][]web.Event{}
	for u, i := range in {
		got[u] = i.take()
	}
	teamsOf := func(evs []web.Event, user string) []string {
		for _, e := range evs {
			if e.Supervision.Member.ID == user {
				return e.Supervision.Teams
			}
		}
		return nil
	}
	for _, tc := range []struct {
		watcher, member string
		teams           []string
	}{
		{"l1", "u1", []string{"t1"}}, {"l1", "l2", nil},
		{"l2", "u1", []string{"t1", "t2"}}, {"l2", "l2", nil},
		{"m1", "u1", []string{"t1"}}, {"m1", "l2", []string{"t1"}},
		{"adm", "u1", []string{"t1", "t2"}}, {"adm", "l2", []string{"t1", "t2"}},
		{"x", "u1", nil}, {"u1", "u1", nil},
	} {
		if g := teamsOf(got[tc.watcher], tc.member); len(g) != len(tc.teams) || len(g) > 0 && (g[0] != tc.teams[0] || g[len(g)-1] != tc.teams[len(tc.teams)-1]) {
			t.Errorf("%s sees %s in %v, want %v", tc.watcher, tc.member, g, tc.teams)
		}
	}
}

// TestBoardScope: the dashboard of a team the caller neither leads nor
// manages is refused naming the permission; an administrator sees every
// team; a team of no one is not found.
func TestBoardScope(t *testing.T) {
	w := newWorld(false)
	ctx := context.Background()
	for _, tc := range []struct {
		user, team string
		err        error
	}{
		{"l1", "t1", nil}, {"l1", "t2", &storage.ForbiddenError{}}, {"m1", "t1", nil}, {"l2", "t2", nil},
		{"adm", "t2", nil}, {"x", "t1", &storage.ForbiddenError{}}, {"u1", "t1", &storage.ForbiddenError{}},
		{"l1", "nope", storage.ErrNotFound},
	} {
		_, err := w.hub.Board(ctx, web.Actor{UserID: tc.user, OrgID: "o1"}, tc.team)
		var fb *storage.ForbiddenError
		switch {
		case tc.err == nil && err != nil:
			t.Errorf("%s on %s: %v", tc.user, tc.team, err)
		case tc.err == storage.ErrNotFound && !errors.Is(err, storage.ErrNotFound):
			t.Errorf("%s on %s: %v, want not found", tc.user, tc.team, err)
		case tc.err != nil && tc.err != storage.ErrNotFound && (!errors.As(err, &fb) || fb.Permission != policy.TeamDashboard):
			t.Errorf("%s on %s: %v, want 403 naming %s", tc.user, tc.team, err, policy.TeamDashboard)
		}
	}
}

// TestBoardContents: members with status, calls today and average
// handling time; sessions from the store and, for a member busy on
// another node whose history has not arrived, from presence.
func TestBoardContents(t *testing.T) {
	w := newWorld(false)
	start := w.clock.Now().Add(-10 * time.Minute)
	w.stats.calls["u1"] = storage.CallStats{Calls: 3, Handled: 2, AvgHandling: 90 * time.Second}
	w.stats.ongoing = []storage.OngoingSession{{Session: storage.Session{ID: "c1", Name: "Press 7", Status: storage.SessionActive, StartedAt: start, SiteID: "s1"},
		SiteName: "Plant A", Participants: []storage.SessionParticipant{{UserID: "u1", DisplayName: "User u1"}, {UserID: "g-1", DisplayName: "Carl", UserKind: storage.UserGuestMobile}}}}
	w.presence.set("u1", Seen{InCall: true, CallID: "c1", Since: start})
	w.presence.set("u2", Seen{InCall: true, CallID: "c2", Since: start.Add(time.Minute), Site: "Plant B"})
	b, err := w.hub.Board(context.Background(), web.Actor{UserID: "l1", OrgID: "o1"}, "t1")
	if err != nil {
		t.Fatal(err)
	}
	if len(b.Members) != 2 || b.Counts[web.StatusBusy] != 2 {
		t.Fatalf("members %+v counts %v", b.Members, b.Counts)
	}
	for _, m := range b.Members {
		if m.ID == "u1" && (m.CallsToday != 3 || m.AvgHandling != 90 || m.Name != "User u1") {
			t.Fatalf("u1 = %+v", m)
		}
	}
	if len(b.Sessions) != 2 || b.Sessions[0].ID != "c1" || b.Sessions[0].Site != "Plant A" || len(b.Sessions[0].Participants) != 2 ||
		b.Sessions[1].ID != "c2" || !b.Sessions[1].Remote || b.Sessions[1].Site != "Plant B" || b.Sessions[1].Members[0] != "u2" {
		t.Fatalf("sessions = %+v", b.Sessions)
	}
}

// TestSeries: each sample adds the team's counts; samples older than
// Keep drop out; the board ends the series with now.
func TestSeries(t *testing.T) {
	w := newWorld(false)
	w.hub.d.Keep = 2 * time.Minute
	w.presence.set("u1", Seen{Page: true})
	w.refresh()
	for range 4 {
		w.hub.Sample()
		w.clock.Add(time.Minute)
	}
	w.presence.set("u2", Seen{InCall: true})
	w.refresh()
	b, err := w.hub.Board(context.Background(), web.Actor{UserID: "l1", OrgID: "o1"}, "t1")
	if err != nil {
		t.Fatal(err)
	}
	s := b.Series
	if len(s.At) != 4 || s.Counts[web.StatusAvailable][0] != 1 || s.Counts[web.StatusOffline][0] != 1 || s.Counts[web.StatusBusy][3] != 1 {
		t.Fatalf("series = %+v", s)
	}
}

type auditLog struct{ entries []string }

func (l *auditLog) Audit(_ context.Context, actor, action, target string, _ any) error {
	l.entries = append(l.entries, actor+" "+action+" "+target)
	return nil
}

// TestOpeningADashboardIsAudited: the first read of a team's board by a
// supervisor is audited, the reads that follow within 15 minutes are the
// same watch, a read later is audited again; a refused read is not.
func TestOpeningADashboardIsAudited(t *testing.T) {
	w := newWorld(false)
	log := &auditLog{}
	w.hub.d.Audit = log
	ctx := context.Background()
	lead := web.Actor{UserID: "l1", OrgID: "o1"}
	for range 3 {
		if _, err := w.hub.Board(ctx, lead, "t1"); err != nil {
			t.Fatal(err)
		}
	}
	w.hub.Board(ctx, lead, "t2") // refused: not l1's team
	w.clock.Add(15 * time.Minute)
	if _, err := w.hub.Board(ctx, lead, "t1"); err != nil {
		t.Fatal(err)
	}
	want := []string{"l1 supervision.team_viewed t1", "l1 supervision.team_viewed t1"}
	if len(log.entries) != 2 || log.entries[0] != want[0] || log.entries[1] != want[1] {
		t.Fatalf("audit = %v, want %v", log.entries, want)
	}
}

// kept is a store of status samples, as the node's store keeps them.
type kept struct {
	mu   sync.Mutex
	list []storage.StatusSample
}

func (k *kept) SaveStatusSamples(_ context.Context, add []storage.StatusSample, before time.Time) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.list = append(k.list, add...)
	k.list = slices.DeleteFunc(k.list, func(x storage.StatusSample) bool { return x.At.Before(before) })
	return nil
}

func (k *kept) StatusSamples(_ context.Context, orgID string, since time.Time) ([]storage.StatusSample, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	var out []storage.StatusSample
	for _, x := range k.list {
		if x.OrgID == orgID && !x.At.Before(since) {
			out = append(out, x)
		}
	}
	return out, nil
}

// TestSeriesSurviveARestart: with Samples, a new hub (the node restarted)
// begins each team's series with the samples taken within Keep; without,
// it begins with now alone.
func TestSeriesSurviveARestart(t *testing.T) {
	w := newWorld(false)
	k := &kept{}
	w.hub.d.Samples, w.hub.d.Keep = k, 3*time.Minute
	w.presence.set("u1", Seen{Page: true})
	w.refresh()
	for range 4 {
		w.hub.Sample()
		w.clock.Add(time.Minute)
	}
	if len(k.list) != 8 { // two teams, four samples
		t.Fatalf("%d samples stored, want 8", len(k.list))
	}
	lead := web.Actor{UserID: "l1", OrgID: "o1"}
	for _, c := range []struct {
		samples Samples
		points  int
	}{{k, 4}, {nil, 1}} {
		d := w.hub.d
		d.Samples = c.samples
		w.hub = New(d)
		w.hub.Follow(context.Background(), "o1")
		b, err := w.hub.Board(context.Background(), lead, "t1")
		if err != nil {
			t.Fatal(err)
		}
		// Three samples within Keep (the oldest is 4 minutes old), then now.
		if s := b.Series; len(s.At) != c.points || s.Counts[web.StatusAvailable][0] != 1 || s.Counts[web.StatusOffline][0] != 1 {
			t.Fatalf("samples %v: series after the restart = %+v, want %d points", c.samples != nil, s, c.points)
		}
	}
}
