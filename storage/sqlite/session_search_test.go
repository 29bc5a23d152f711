package sqlite

import (
	"context"
	"testing"

	"siteline/storage/historygen"
	"siteline/storage/storagetest"
)

// historyStore is a store filled by the generator through a bulk load,
// with its orgs.
func historyStore(t testing.TB, cfg historygen.Config) (*Store, []historygen.Org) {
	t.Helper()
	s, err := Open(context.Background(), t.TempDir()+"/siteline.db", nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	orgs, cmd := historygen.Orgs(cfg)
	if err := s.Apply(context.Background(), 1, cmd); err != nil {
		t.Fatalf("apply generated orgs: %v", err)
	}
	load, err := s.BulkLoad(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := historygen.Fill(context.Background(), load, orgs, cfg); err != nil {
		t.Fatal(err)
	}
	if err := load.Finish(context.Background()); err != nil {
		t.Fatal(err)
	}
	return s, orgs
}

func head(ids []string) []string { return ids[:min(len(ids), 8)] }

// TestSessionSearch runs the session search's conformance suite, which
// storage/postgres runs too, on SQLite files: generated history through a
// bulk load, and every random query by each of the ways the store can run
// it (from a term's matches, from a list filter's sessions or along the
// sort order; the text checked row by row or against its matches), which
// must give the same.
func TestSessionSearch(t *testing.T) {
	defer func(n, l, m int) { rareMatches, shortList, setMatches = n, l, m }(rareMatches, shortList, setMatches)
	storagetest.SessionSearch(t, storagetest.SearchSuite{
		Open: func(t *testing.T) storagetest.SearchBackend {
			s, _ := openTestStore(t)
			mustApply(t, s, 1, labelsCommand(storagetest.Labels))
			return s
		},
		Generate: func(t *testing.T, cfg historygen.Config) storagetest.SearchBackend {
			s, _ := historyStore(t, cfg)
			return s
		},
		CheckIndex: func(t *testing.T, s storagetest.SearchBackend) { checkSearchIndex(t, s.(*Store)) },
		Vary: func(i int) {
			rareMatches = []int{0, 4000}[i%2]
			shortList = []int{0, 1 << 30}[i/2%2]
			setMatches = []int{-1, 1 << 30}[i/4%2]
		},
		Short: raceEnabled,
	})
}
