package postgres

import (
	"context"
	"path/filepath"
	"testing"
	"time"

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
