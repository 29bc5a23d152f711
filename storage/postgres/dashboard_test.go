package postgres

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"siteline/storage"
	"siteline/storage/sqlite"
	"siteline/storage/storagetest"
)

// TestDashboard runs the dashboards' conformance suite, which
// storage/sqlite runs too, on PostgreSQL databases.
func TestDashboard(t *testing.T) {
	storagetest.Dashboard(t, func(t *testing.T) storagetest.DashboardBackend {
		s, _ := openTestStoreWith(t, Options{Labels: labelList(storagetest.Labels)})
		return s
	})
}

// TestDashboardsAgreeWithSQLite: one random history gives the same
// DashboardCounts here as in the SQLite store, for every grain,
// breakdown and filter of the workload's queries; a smaller one under the
// race detector, which slows SQLite tenfold.
func TestDashboardsAgreeWithSQLite(t *testing.T) {
	storagetest.DashboardsAgree(t, func(t *testing.T) storagetest.DashboardBackend {
		return openSQLite(t)
	}, func(t *testing.T) storagetest.DashboardBackend {
		s, _ := openTestStoreWith(t, Options{Labels: labelList(storagetest.Labels)})
		return s
	}, raceEnabled)
}

// openSQLite opens a SQLite store whose organisation data holds
// storagetest.Labels.
func openSQLite(t *testing.T) *sqlite.Store {
	t.Helper()
	ctx := context.Background()
	s, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "siteline.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	at := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	var changes []storage.Change
	seen := map[string]bool{}
	for _, l := range storagetest.Labels {
		if !seen[l.OrgID] {
			seen[l.OrgID] = true
			changes = append(changes, storage.Change{Op: storage.OpPutOrg, Org: &storage.Org{ID: l.OrgID, Name: "Org " + l.OrgID, CreatedAt: at}})
		}
	}
	for _, l := range storagetest.Labels {
		if !seen[l.GroupID] {
			seen[l.GroupID] = true
			changes = append(changes, storage.Change{Op: storage.OpPutLabelGroup,
				LabelGroup: &storage.LabelGroup{ID: l.GroupID, OrgID: l.OrgID, Name: "Group " + l.GroupID, Color: "#ff0000"}})
		}
	}
	for _, l := range storagetest.Labels {
		changes = append(changes, storage.Change{Op: storage.OpPutLabel, Label: &l})
	}
	if err := s.Apply(ctx, 1, storage.Command{Changes: changes, At: at, ActorID: "test"}); err != nil {
		t.Fatal(err)
	}
	return s
}

// TestDashboardRefreshSet: dashboard_refresh_set gives the rollups the
// per-row triggers gave the same history, whether the sessions were
// counted before (their rows taken away and added again) or not (after the
// rollups were emptied, as a copy with the triggers off leaves them), and
// whether the sessions come in one set or several.
func TestDashboardRefreshSet(t *testing.T) {
	ctx := context.Background()
	s, _ := openTestStoreWith(t, Options{Labels: labelList(storagetest.Labels)})
	storagetest.NewDashboardWorkload(13, 120).Write(t, openSQLite(t), s)

	snapshot := func() (counts, states []string) {
		t.Helper()
		read := func(q string) []string {
			rows, err := s.pool.Query(ctx, q)
			if err != nil {
				t.Fatal(err)
			}
			list, err := pgx.CollectRows(rows, pgx.RowTo[string])
			if err != nil {
				t.Fatal(err)
			}
			return list
		}
		return read(`SELECT c::text FROM dashboard_counts c WHERE n <> 0 ORDER BY 1`),
			read(`SELECT st::text FROM dashboard_state st ORDER BY 1`)
	}
	refresh := func(parts int) {
		t.Helper()
		var ids []string
		rows, err := s.pool.Query(ctx, `SELECT id FROM sessions ORDER BY id`)
		if err == nil {
			ids, err = pgx.CollectRows(rows, pgx.RowTo[string])
		}
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, "not-a-session")
		for i := range parts {
			part := ids[i*len(ids)/parts : (i+1)*len(ids)/parts]
			if _, err := s.pool.Exec(ctx, `SELECT dashboard_refresh_set($1)`, part); err != nil {
				t.Fatal(err)
			}
		}
	}
	wantCounts, wantStates := snapshot()
	if len(wantCounts) == 0 || len(wantStates) == 0 {
		t.Fatal("the workload counted nothing")
	}

	refresh(1)
	if counts, states := snapshot(); !slices.Equal(counts, wantCounts) || !slices.Equal(states, wantStates) {
		t.Errorf("refreshed again as a set: counted rows %s; states %s", firstDifference(counts, wantCounts), firstDifference(states, wantStates))
	}

	if _, err := s.pool.Exec(ctx, `TRUNCATE dashboard_counts, dashboard_state, dashboard_sites`); err != nil {
		t.Fatal(err)
	}
	refresh(3)
	if counts, states := snapshot(); !slices.Equal(counts, wantCounts) || !slices.Equal(states, wantStates) {
		t.Errorf("computed from nothing in 3 sets: counted rows %s; states %s", firstDifference(counts, wantCounts), firstDifference(states, wantStates))
	}
	var missing int
	if err := s.pool.QueryRow(ctx, `SELECT count(*) FROM (SELECT DISTINCT org_id, site_id FROM sessions WHERE ended_at IS NOT NULL
		EXCEPT SELECT org_id, site_id FROM dashboard_sites) AS m`).Scan(&missing); err != nil {
		t.Fatal(err)
	}
	if missing != 0 {
		t.Errorf("%d sites of ended sessions missing from dashboard_sites", missing)
	}
}

// firstDifference describes where got first differs from the triggers'
// want.
func firstDifference(got, want []string) string {
	for i := range min(len(got), len(want)) {
		if got[i] != want[i] {
			return fmt.Sprintf("differ at %d: %s, the triggers' %s", i, got[i], want[i])
		}
	}
	if len(got) != len(want) {
		return fmt.Sprintf("%d, the triggers' %d", len(got), len(want))
	}
	return "equal"
}
