package pgmigrate

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"siteline/internal/pgtest"
	"siteline/storage"
	"siteline/storage/historygen"
	"siteline/storage/postgres"
	"siteline/storage/sqlite"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

// history is the generated part of every test's store.
var history = historygen.Config{Seed: 7, Sessions: 300, Orgs: 2, UsersPerOrg: 20, LabelsPerOrg: 12, Batch: 100}

// filledStore writes a SQLite store holding generated history and, through
// the store's own writes, what the generator does not make: fields set
// after the call with their versions, labels, media rows with and without
// annotations, a recording, deletions, service reports, audit events, a
// hidden participant, and a headquarters' applied and rejected forwarded
// records with their marks. It returns the file's path and the orgs.
func filledStore(t *testing.T) (string, []historygen.Org) {
	t.Helper()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "siteline.db")
	s, err := sqlite.Open(ctx, path, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	orgs, cmd := historygen.Orgs(history)
	if err := s.Apply(ctx, 1, cmd); err != nil {
		t.Fatal(err)
	}
	if _, err := historygen.Fill(ctx, s, orgs, history); err != nil {
		t.Fatal(err)
	}
	if err := s.SetMeta(ctx, "node_id", "node-hq"); err != nil {
		t.Fatal(err)
	}
	page, err := s.SearchSessions(ctx, storage.SessionQuery{OrgID: orgs[0].ID, Limit: 10})
	if err != nil || len(page.Sessions) < 10 {
		t.Fatalf("sessions to write on: %d, %v", len(page.Sessions), err)
	}
	must := func(what string, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	must2 := func(_ bool, err error) { t.Helper(); must("set a field", err) }
	at := time.Date(2026, 12, 1, 9, 0, 0, 123456789, time.UTC)
	v := func(i int) storage.Version {
		return storage.Version{At: at.Add(time.Duration(i) * time.Minute), Origin: "node-hq"}
	}
	org := orgs[0]
	for i, ss := range page.Sessions[:4] {
		must2(s.SetSessionDetails(ctx, ss.ID, fmt.Sprintf("Pompe %d réparée", i), "Dichtung prüfen", v(i)))
		solved := at.Add(-time.Hour)
		must2(s.SetSessionOutcome(ctx, ss.ID, storage.OutcomeSolved, &solved, v(i)))
		must2(s.SetSessionNotes(ctx, ss.ID, "Straße 5, Łódź: bearing replaced", v(i)))
		must2(s.SetSessionLabels(ctx, ss.ID, []string{org.Labels[i], org.Labels[i+1]}, v(i)))
	}
	c := page.Sessions[4]
	must("hidden join", s.RecordJoin(ctx, storage.SessionParticipant{ID: "p-hidden", SessionID: c.ID, UserID: org.Users[0].ID,
		DisplayName: "Zoë Supervisor", UserKind: storage.UserRegular, DeviceKind: "desktop", Hidden: true, JoinedAt: at},
		storage.SessionEvent{ID: "ev-hidden", SessionID: c.ID, At: at, Kind: storage.EventSitIn, ActorID: org.Users[0].ID, Payload: json.RawMessage(`{"name":"Zoë"}`)}))
	must("chat", s.AppendSessionEvent(ctx, storage.SessionEvent{ID: "ev-chat", SessionID: c.ID, At: at, Kind: storage.EventChat,
		ActorID: org.Users[0].ID, Payload: json.RawMessage(`{"text":"  spacing  kept,\u00e9 \"quoted\"",  "z":1}`)}))
	media := func(id, kind string, ann json.RawMessage) storage.Media {
		return storage.Media{ID: id, SessionID: c.ID, OrgID: org.ID, Kind: kind, Name: id + ".png", BlobKey: strings.Repeat("ab", 32),
			ContentType: "image/png", Size: 1234, SHA256: strings.Repeat("ab", 32), Annotations: ann, CreatedBy: org.Users[0].ID,
			Participant: "p-hidden", CreatedAt: at}
	}
	ev := func(id, kind string) storage.SessionEvent {
		return storage.SessionEvent{ID: id, SessionID: c.ID, At: at, Kind: kind, ActorID: org.Users[0].ID, Payload: json.RawMessage(`{}`)}
	}
	must("snapshot", s.AddMedia(ctx, media("m-snap", "snapshot", json.RawMessage(`{"strokes": [[1,2],[3,4]]}`)), ev("ev-m1", storage.EventSnapshot)))
	must("file", s.AddMedia(ctx, media("m-file", "file", nil), ev("ev-m2", storage.EventFile)))
	end := at.Add(time.Minute)
	must("recording", s.AddRecording(ctx, storage.Recording{ID: "r-1", SessionID: c.ID, OrgID: org.ID, Name: "r-1.webm",
		BlobKey: strings.Repeat("cd", 32), ContentType: "video/webm", Size: 99, SHA256: strings.Repeat("cd", 32),
		Status: "complete", StartedBy: org.Users[0].ID, StartedAt: at, EndedAt: &end, DurationMS: 60000,
		Participant: "p-hidden", Tracks: []string{"audio", "video"}}, ev("ev-r1", storage.EventRecording)))
	must("delete", s.DeleteMedia(ctx, storage.MediaDeletion{What: storage.DeletedMedia, ID: "m-file", SessionID: c.ID, OrgID: org.ID,
		Kind: "file", Name: "m-file.png", SHA256: strings.Repeat("ab", 32), At: end, By: org.Users[0].ID, ByName: "Zoë"},
		ev("ev-del", storage.EventMediaDeleted),
		storage.AuditEvent{ID: "a-del", OrgID: org.ID, At: end, ActorID: org.Users[0].ID, Action: "media.delete", Target: "m-file"}))
	report := storage.ServiceReport{ID: "rep-1", VersionID: "rep-1-v1", OrgID: org.ID, SiteID: c.SiteID, SessionID: c.ID, Version: 1,
		Fields: map[string]string{"asset": "P-7", "fault": "Lagerschaden"}, Body: "Replaced the bearing of pump P-7",
		CreatedBy: org.Users[0].ID, CreatedAt: at, EditedBy: org.Users[0].ID, EditedAt: at, Origin: "node-hq"}
	must("report", s.WriteServiceReport(ctx, report))
	report.VersionID, report.Version, report.Body, report.EditedAt = "rep-1-v2", 2, "Replaced the bearing and the seal of pump P-7", end
	must("report v2", s.WriteServiceReport(ctx, report))
	must("audit", s.AppendAudit(ctx, storage.AuditEvent{ID: "a-1", OrgID: org.ID, SiteID: c.SiteID, At: at, ActorID: "u",
		Action: "session.export", Target: c.ID, Detail: "csv"}))

	// A plant's forwarded history: a session with a report, applied, and
	// records that cannot apply, kept as rejected.
	plant := storage.Session{ID: "plant-c1", OrgID: org.ID, SiteID: org.Sites[1], Kind: storage.SessionConference, Name: "Kiln burner flame out",
		Status: storage.SessionEnded, CreatedBy: org.Users[1].ID, StartedAt: at, EndedAt: &end}
	fr := storage.ServiceReport{ID: "rep-p", VersionID: "rep-p-v1", OrgID: org.ID, SiteID: plant.SiteID, SessionID: plant.ID, Version: 1,
		Fields: map[string]string{"asset": "K-2"}, Body: "Burner nozzle cleaned", CreatedBy: org.Users[1].ID, CreatedAt: at,
		EditedBy: org.Users[1].ID, EditedAt: at, Origin: "plant-2"}
	rec, err := json.Marshal(storage.HistoryRecord{ID: fr.VersionID, Kind: storage.HistoryServiceReport, Session: &plant, Report: &fr})
	must("record", err)
	res, err := s.ApplyHistory(ctx, []storage.HistoryMessage{
		{Origin: "plant-2", Seq: 1, Record: rec},
		{Origin: "plant-2", Seq: 2, Record: []byte(`not json`)},
		{Origin: "plant-3", Seq: 7, Record: []byte(`{"id":"x","kind":"weird","session":{}}`)},
	})
	must("apply", err)
	if res.Applied != 1 || len(res.Rejected) != 2 {
		t.Fatalf("apply = %+v, want 1 applied and 2 rejected", res)
	}
	return path, orgs
}

// migrate runs Migrate and fails t on an error.
func migrate(t *testing.T, path, dsn string, opts Options) Report {
	t.Helper()
	rep, err := Migrate(context.Background(), path, dsn, opts)
	if err != nil {
		t.Fatalf("migrate: %v", err)
	}
	return rep
}

// TestMigrateCopiesEveryTable: every table arrives whole, both sides
// compare equal, the searches and reads answer the same on both stores,
// and a second run copies nothing and compares again.
func TestMigrateCopiesEveryTable(t *testing.T) {
	ctx := context.Background()
	path, orgs := filledStore(t)
	dsn := pgtest.DB(t)
	rep := migrate(t, path, dsn, Options{Batch: 97})
	if len(rep.Tables) != len(tables) {
		t.Fatalf("report of %d tables, want %d", len(rep.Tables), len(tables))
	}
	for _, tr := range rep.Tables {
		if tr.SQLiteRows == 0 {
			t.Errorf("%s: the store holds no row of it, so its copy is not tested", tr.Table)
		}
		if !tr.Equal() || tr.Copied != tr.SQLiteRows || tr.Present != 0 {
			t.Errorf("%s: %+v, want every row copied once and equal", tr.Table, tr)
		}
	}
	if rep.Source != "node-hq" || len(rep.Marks) != 0 {
		t.Errorf("source %q, marks %v", rep.Source, rep.Marks)
	}
	if rep.SearchDocuments != int64(history.Sessions)+1 {
		t.Errorf("made %d search documents, want one per session (%d)", rep.SearchDocuments, history.Sessions+1)
	}
	searchDocumentsCurrent(t, dsn)
	// The planner knows the copied tables: vacuumed and analyzed by the
	// run, not left to autovacuum.
	var vacuums, analyzes, estimate, rows int64
	if err := connect(t, dsn).QueryRow(ctx, `SELECT s.vacuum_count, s.analyze_count, c.reltuples::bigint, (SELECT count(*) FROM sessions)
		FROM pg_stat_user_tables s JOIN pg_class c ON c.oid = s.relid WHERE s.relname = 'sessions'`).Scan(&vacuums, &analyzes, &estimate, &rows); err != nil {
		t.Fatal(err)
	}
	if vacuums != 1 || analyzes != 1 || estimate != rows || rep.VacuumTook <= 0 {
		t.Errorf("sessions after the copy: vacuumed %d times, analyzed %d, %d rows estimated of %d (took %s); want once each and the count",
			vacuums, analyzes, estimate, rows, rep.VacuumTook)
	}
	var ended int64
	if err := connect(t, dsn).QueryRow(ctx, `SELECT count(*) FROM sessions WHERE ended_at IS NOT NULL`).Scan(&ended); err != nil {
		t.Fatal(err)
	}
	if rep.DashboardSessions != ended || ended == 0 {
		t.Errorf("computed the dashboard rows of %d sessions, want once per ended session (%d)", rep.DashboardSessions, ended)
	}

	lite, err := sqlite.Open(ctx, path, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer lite.Close()
	pg, err := postgres.Open(ctx, dsn, postgres.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer pg.Close()
	sameBehaviour(t, lite, pg, orgs)

	again := migrate(t, path, dsn, Options{Batch: 97})
	if again.SearchDocuments != 0 || again.DashboardSessions != 0 || again.VacuumTook != 0 {
		t.Errorf("the second run made %d search documents and %d sessions' dashboard rows again, vacuumed for %s",
			again.SearchDocuments, again.DashboardSessions, again.VacuumTook)
	}
	for _, tr := range again.Tables {
		if tr.Copied != 0 || tr.Present != 0 || !tr.Equal() || tr.PostgresRows != tr.SQLiteRows {
			t.Errorf("second run, %s: %+v, want nothing copied and equal", tr.Table, tr)
		}
	}
}

// sameBehaviour runs the same reads on both stores and fails t where
// their answers differ.
func sameBehaviour(t *testing.T, lite *sqlite.Store, pg *postgres.Store, orgs []historygen.Org) {
	t.Helper()
	ctx := context.Background()
	org := orgs[0]
	from := time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC)
	// The dashboards: the rollups computed after the copy, goals counted
	// by the goal keys it set.
	for _, by := range storage.DashboardDims {
		q := storage.DashboardQuery{OrgID: org.ID, By: by}
		want, err := lite.DashboardCounts(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		got, err := pg.DashboardCounts(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		if (by == storage.DimNone && (len(want.Days) == 0 || len(want.Goals) == 0)) || !reflect.DeepEqual(got, want) {
			t.Errorf("dashboard by %q: PostgreSQL counts\n%+v\nSQLite\n%+v", by, got, want)
		}
	}
	queries := []storage.SessionQuery{
		{OrgID: org.ID, Limit: 40},
		{OrgID: orgs[1].ID, Sort: storage.SortName, Limit: 25},
		{OrgID: org.ID, Text: "pump", Limit: 10},
		{OrgID: org.ID, Text: "pompe bearing", Limit: 10},
		{OrgID: org.ID, Text: "zoe", Limit: 10},
		{OrgID: org.ID, Text: "seal", Limit: 10},
		{OrgID: org.ID, Text: "burner", Limit: 10},
		{OrgID: org.ID, Outcome: storage.OutcomeSolved, Sort: storage.SortDuration, Desc: true, Limit: 30},
		{OrgID: org.ID, LabelIDs: []string{org.Labels[0], org.Labels[3]}, Limit: 7},
		{OrgID: org.ID, SiteIDs: org.Sites[:2], From: from, Sort: storage.SortEnd, Limit: 20},
		{OrgID: org.ID, ParticipantID: org.Users[3].ID, OwnOnly: false, Sort: storage.SortTimeToSolve, Limit: 15},
		{OrgID: org.ID, ViewerID: org.Users[2].ID, OwnOnly: true, Limit: 5},
		{OrgID: org.ID, Status: storage.SessionEnded, Sort: storage.SortSite, Desc: true, Limit: 50},
	}
	for i, q := range queries {
		for page := 0; ; page++ {
			a, aerr := lite.SearchSessions(ctx, q)
			b, berr := pg.SearchSessions(ctx, q)
			if aerr != nil || berr != nil {
				t.Fatalf("query %d %+v: sqlite %v, postgres %v", i, q, aerr, berr)
			}
			if !reflect.DeepEqual(a, b) {
				t.Fatalf("query %d page %d %+v:\nsqlite   %+v\npostgres %+v", i, page, q, a, b)
			}
			if page == 0 && len(a.Sessions) == 0 {
				t.Errorf("query %d %+v finds nothing, so it compares nothing", i, q)
			}
			if a.Next == "" || page == 3 {
				break
			}
			q.Cursor = a.Next
		}
	}
	for _, text := range []string{"bearing", "nozzle", "P-7"} {
		q := storage.ServiceReportQuery{OrgID: org.ID, Text: text, Limit: 10}
		a, aerr := lite.SearchServiceReports(ctx, q)
		b, berr := pg.SearchServiceReports(ctx, q)
		if aerr != nil || berr != nil || len(a) == 0 || !reflect.DeepEqual(a, b) {
			t.Fatalf("report search %q: sqlite %d %v, postgres %d %v\n%+v\n%+v", text, len(a), aerr, len(b), berr, a, b)
		}
	}
	lm, _ := lite.HistoryMarks(ctx)
	pm, _ := pg.HistoryMarks(ctx)
	if !reflect.DeepEqual(lm, pm) || lm["plant-2"] != 2 {
		t.Errorf("marks: sqlite %v, postgres %v", lm, pm)
	}
}

// TestMigrateResumes: a copy stopped after a few batches, half way
// through a table (of a one-column key, of a two-column key), resumes
// after the last batch committed, sends no row twice, and ends equal.
func TestMigrateResumes(t *testing.T) {
	path, _ := filledStore(t)
	for _, stopIn := range []string{"session_participants", "session_labels"} {
		t.Run(stopIn, func(t *testing.T) {
			dsn := pgtest.DB(t)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			const batch, stopAfter = 50, 3
			_, err := Migrate(ctx, path, dsn, Options{Batch: batch, afterBatch: func(table string, n int) {
				if table == stopIn && n == stopAfter {
					cancel()
				}
			}})
			if !errors.Is(err, context.Canceled) {
				t.Fatalf("the interrupted copy returned %v, want context.Canceled", err)
			}
			if n := count(t, dsn, stopIn); n != batch*stopAfter {
				t.Fatalf("after the interruption PostgreSQL holds %d rows of %s, want %d", n, stopIn, batch*stopAfter)
			}
			if n := count(t, dsn, "audit_events"); n != 0 {
				t.Fatalf("after the interruption PostgreSQL holds %d audit events, want none", n)
			}

			rep := migrate(t, path, dsn, Options{Batch: batch})
			searchDocumentsCurrent(t, dsn)
			before := true
			for _, tr := range rep.Tables {
				want := tr.SQLiteRows
				switch {
				case tr.Table == stopIn:
					want -= batch * stopAfter
					before = false
				case before:
					want = 0
				}
				if tr.Copied != want || tr.Present != 0 || !tr.Equal() {
					t.Errorf("resumed, %s: copied %d (%d already there), want %d; %+v", tr.Table, tr.Copied, tr.Present, want, tr)
				}
			}
		})
	}
}

// TestMigrateResumesTheSearchDocuments: a run stopped while it makes the
// search documents, after the last table, resumes there: the next run
// copies nothing and makes the documents it had not made.
func TestMigrateResumesTheSearchDocuments(t *testing.T) {
	path, _ := filledStore(t)
	dsn := pgtest.DB(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	const batch, stopAfter = 40, 2
	_, err := Migrate(ctx, path, dsn, Options{Batch: batch, afterBatch: func(table string, n int) {
		if table == searchProgress && n == stopAfter {
			cancel()
		}
	}})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("the interrupted run returned %v, want context.Canceled", err)
	}
	var stale int
	if err := connect(t, dsn).QueryRow(context.Background(), `SELECT count(*) FROM sessions WHERE search <> session_search_doc(id)`).Scan(&stale); err != nil {
		t.Fatal(err)
	}
	if stale == 0 {
		t.Fatal("no search document is left to make: the interruption tests nothing")
	}
	rep := migrate(t, path, dsn, Options{Batch: batch})
	searchDocumentsCurrent(t, dsn)
	if want := int64(history.Sessions + 1 - batch*stopAfter); rep.Copied() != 0 || rep.SearchDocuments != want {
		t.Errorf("resumed: copied %d rows and made %d search documents, want none and %d", rep.Copied(), rep.SearchDocuments, want)
	}
}

// TestMigrateResumesTheDashboardRows: a run stopped while it computes the
// dashboards' rows, after the search documents, resumes there: the next run
// copies nothing, makes no search document and computes the rows of the
// sessions it had not reached, and both stores' dashboards answer alike.
func TestMigrateResumesTheDashboardRows(t *testing.T) {
	path, orgs := filledStore(t)
	dsn := pgtest.DB(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	const batch, stopAfter = 40, 2
	_, err := Migrate(ctx, path, dsn, Options{Batch: batch, afterBatch: func(table string, n int) {
		if table == dashboardProgress && n == stopAfter {
			cancel()
		}
	}})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("the interrupted run returned %v, want context.Canceled", err)
	}
	var counted, ended int64
	if err := connect(t, dsn).QueryRow(context.Background(), `SELECT (SELECT count(*) FROM dashboard_state),
		(SELECT count(*) FROM sessions WHERE ended_at IS NOT NULL)`).Scan(&counted, &ended); err != nil {
		t.Fatal(err)
	}
	if counted != batch*stopAfter || ended <= counted {
		t.Fatalf("the interrupted run counted %d of %d ended sessions, want %d: the interruption tests nothing", counted, ended, batch*stopAfter)
	}
	rep := migrate(t, path, dsn, Options{Batch: batch})
	if rep.Copied() != 0 || rep.SearchDocuments != 0 || rep.DashboardSessions != ended-counted {
		t.Errorf("resumed: copied %d rows, made %d search documents, counted %d sessions, want none, none and %d",
			rep.Copied(), rep.SearchDocuments, rep.DashboardSessions, ended-counted)
	}
	lite, err := sqlite.Open(context.Background(), path, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer lite.Close()
	pg, err := postgres.Open(context.Background(), dsn, postgres.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer pg.Close()
	sameBehaviour(t, lite, pg, orgs)
}

// TestMigrateResumesAfterLosingTheServer: the copy's connection closed by
// the server half way through a table fails the run; the next run resumes
// after the last batch committed and ends equal.
func TestMigrateResumesAfterLosingTheServer(t *testing.T) {
	path, _ := filledStore(t)
	dsn := pgtest.DB(t)
	admin := connect(t, dsn)
	const batch, cutAfter = 40, 2
	_, err := Migrate(context.Background(), path, dsn, Options{Batch: batch, afterBatch: func(table string, n int) {
		if table != "session_events" || n != cutAfter {
			return
		}
		if _, err := admin.Exec(context.Background(), `SELECT pg_terminate_backend(pid) FROM pg_stat_activity
			WHERE datname = current_database() AND pid <> pg_backend_pid()`); err != nil {
			t.Error(err)
		}
	}})
	if err == nil || !strings.Contains(err.Error(), "copy session_events") {
		t.Fatalf("the copy that lost its connection returned %v, want an error copying session_events", err)
	}
	rep := migrate(t, path, dsn, Options{Batch: batch})
	searchDocumentsCurrent(t, dsn)
	for _, tr := range rep.Tables {
		if tr.Table == "session_events" && tr.Copied != tr.SQLiteRows-batch*cutAfter {
			t.Errorf("resumed, session_events: copied %d of %d, want all but the %d committed", tr.Copied, tr.SQLiteRows, batch*cutAfter)
		}
		if !tr.Equal() || tr.Present != 0 {
			t.Errorf("resumed, %s: %+v", tr.Table, tr)
		}
	}
}

// TestMigrateResendsWithoutProgress: with its progress forgotten, a run
// sends every row again and PostgreSQL keeps the ones it holds. The first
// copy writes its batches the other way (INSERT of arrays).
func TestMigrateResendsWithoutProgress(t *testing.T) {
	path, _ := filledStore(t)
	dsn := pgtest.DB(t)
	migrate(t, path, dsn, Options{unnest: true})
	searchDocumentsCurrent(t, dsn)
	exec(t, dsn, `DROP TABLE siteline_migrate_progress`)
	exec(t, dsn, `DELETE FROM audit_events WHERE id = 'a-1'`)
	rep := migrate(t, path, dsn, Options{})
	for _, tr := range rep.Tables {
		want := int64(0)
		if tr.Table == "audit_events" {
			want = 1
		}
		if tr.Copied != want || tr.Present != tr.SQLiteRows-want || !tr.Equal() {
			t.Errorf("%s: %+v, want %d copied and the rest already there", tr.Table, tr, want)
		}
	}
}

// TestMigrateFindsDifferences: a row changed, removed or added in
// PostgreSQL after the copy, and a mark moved, fail the comparison, which
// names those tables and that origin only.
func TestMigrateFindsDifferences(t *testing.T) {
	path, _ := filledStore(t)
	dsn := pgtest.DB(t)
	migrate(t, path, dsn, Options{})
	exec(t, dsn, `UPDATE session_participants SET display_name = display_name || '.' WHERE id = 'p-hidden'`)
	exec(t, dsn, `UPDATE media SET annotations = '{"strokes":[[1,2],[3,4]]}' WHERE id = 'm-snap'`) // the same JSON, spaced otherwise
	exec(t, dsn, `DELETE FROM session_labels WHERE ctid = (SELECT min(ctid) FROM session_labels)`)
	exec(t, dsn, `INSERT INTO history_rejected (origin, seq, reason, message, rejected_at) VALUES ('x', 1, 'r', '\x00', 1)`)
	exec(t, dsn, `UPDATE history_marks SET seq = 1 WHERE origin = 'plant-2'`)

	rep, err := Migrate(context.Background(), path, dsn, Options{})
	var mm *MismatchError
	if !errors.As(err, &mm) {
		t.Fatalf("Migrate = %v, want a *MismatchError", err)
	}
	want := []string{"session_participants", "session_labels", "media", "history_marks", "history_rejected"}
	if !slices.Equal(mm.Tables, want) {
		t.Errorf("the tables that differ: %v, want %v", mm.Tables, want)
	}
	if !slices.Equal(mm.Marks, []string{"plant-2: sqlite 2, postgres 1"}) {
		t.Errorf("the marks that differ: %v", mm.Marks)
	}
	for _, table := range want {
		if !strings.Contains(err.Error(), table) {
			t.Errorf("the error does not name %s: %v", table, err)
		}
	}
	var out strings.Builder
	rep.WriteTable(&out)
	if !strings.Contains(out.String(), "DIFFERS") || !strings.Contains(out.String(), "plant-2: sqlite 2, postgres 1") {
		t.Errorf("the table does not show the differences:\n%s", out.String())
	}
}

// TestMigrateRefusesTextPostgreSQLCannotHold: a NUL byte in SQLite text
// stops the copy with the table, row and column, before any write of its
// batch.
func TestMigrateRefusesTextPostgreSQLCannotHold(t *testing.T) {
	path, _ := filledStore(t)
	db, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`UPDATE audit_events SET detail = 'a' || char(0) || 'b' WHERE id = 'a-1'`); err != nil {
		t.Fatal(err)
	}
	db.Close()
	dsn := pgtest.DB(t)
	_, err = Migrate(context.Background(), path, dsn, Options{})
	if err == nil || !strings.Contains(err.Error(), "audit_events (id=a-1): column detail holds a NUL byte") {
		t.Fatalf("Migrate = %v, want the row and column named", err)
	}
	if n := count(t, dsn, "audit_events"); n != 0 {
		t.Errorf("PostgreSQL holds %d audit events of the refused batch", n)
	}
}

// TestTablesMatchSchemas: the columns copied are every column of each
// table in SQLite, and every column PostgreSQL's table holds but those its
// triggers fill; a migration adding a column to either fails this until
// tables.go copies it.
func TestTablesMatchSchemas(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "siteline.db")
	lite, err := sqlite.Open(ctx, path, nil)
	if err != nil {
		t.Fatal(err)
	}
	lite.Close()
	dsn := pgtest.DB(t)
	pgs, err := postgres.Open(ctx, dsn, postgres.Options{})
	if err != nil {
		t.Fatal(err)
	}
	pgs.Close()
	db, err := sql.Open("sqlite", readOnlyDSN(path))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	conn := connect(t, dsn)
	// The search documents, which PostgreSQL's triggers and generated
	// columns make from the rows copied, and the goal keys the copy sets
	// from the goals.
	postgresOnly := map[string][]string{"sessions": {"search", "goal_key"}, "service_reports": {"search"}}
	for _, tb := range tables {
		var want []string
		for _, c := range tb.cols {
			want = append(want, c.name)
		}
		slices.Sort(want)
		rows, err := db.Query(`SELECT name FROM pragma_table_info(?)`, tb.name)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for rows.Next() {
			var n string
			if err := rows.Scan(&n); err != nil {
				t.Fatal(err)
			}
			got = append(got, n)
		}
		rows.Close()
		slices.Sort(got)
		if !slices.Equal(got, want) {
			t.Errorf("sqlite %s has columns %v, tables.go copies %v", tb.name, got, want)
		}
		pgRows, _ := conn.Query(ctx, `SELECT column_name FROM information_schema.columns
			WHERE table_schema = current_schema() AND table_name = $1 AND NOT (column_name = ANY($2))`, tb.name, append([]string{}, postgresOnly[tb.name]...))
		pgCols, err := pgx.CollectRows(pgRows, pgx.RowTo[string])
		if err != nil {
			t.Fatal(err)
		}
		slices.Sort(pgCols)
		if !slices.Equal(pgCols, want) {
			t.Errorf("postgres %s has columns %v, tables.go copies %v", tb.name, pgCols, want)
		}
	}
}

// searchDocumentsCurrent fails t when a session's search document in
// PostgreSQL differs from the one its rows make: the copy turns the
// triggers that make them off, and must make them all itself.
func searchDocumentsCurrent(t *testing.T, dsn string) {
	t.Helper()
	rows, _ := connect(t, dsn).Query(context.Background(), `SELECT id FROM sessions WHERE search <> session_search_doc(id)`)
	stale, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	if len(stale) > 0 {
		t.Fatalf("the search documents of %d sessions are stale: %v", len(stale), stale[:min(len(stale), 5)])
	}
	var enabled int
	if err := connect(t, dsn).QueryRow(context.Background(), `SELECT count(*) FROM pg_trigger t JOIN pg_proc p ON p.oid = t.tgfoid
		WHERE p.proname = 'session_search_refresh' AND t.tgenabled = 'O'`).Scan(&enabled); err != nil {
		t.Fatal(err)
	}
	if enabled != 6 {
		t.Fatalf("%d search triggers are on after the copy, want all 6", enabled)
	}
}

// connect opens a connection to dsn, closed when t ends.
func connect(t *testing.T, dsn string) *pgx.Conn {
	t.Helper()
	conn, err := pgx.Connect(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

// exec runs a statement on dsn.
func exec(t *testing.T, dsn, stmt string) {
	t.Helper()
	if _, err := connect(t, dsn).Exec(context.Background(), stmt); err != nil {
		t.Fatalf("%s: %v", stmt, err)
	}
}

// count is how many rows table holds in PostgreSQL.
func count(t *testing.T, dsn, table string) int {
	t.Helper()
	var n int
	if err := connect(t, dsn).QueryRow(context.Background(), "SELECT count(*) FROM "+table).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}
