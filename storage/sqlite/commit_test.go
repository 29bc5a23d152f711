package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"siteline/internal/testutil"
	"siteline/storage"
)

// groupTestStore opens a store with a table of keys for the tests below.
func groupTestStore(t *testing.T) *Store {
	t.Helper()
	s, _ := openTestStore(t)
	if _, err := s.write.Exec(`CREATE TABLE grouped_keys (k TEXT PRIMARY KEY)`); err != nil {
		t.Fatal(err)
	}
	return s
}

func insertKey(ctx context.Context, tx *sql.Tx, k string) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO grouped_keys (k) VALUES (?)`, k)
	return err
}

func storedKeys(t *testing.T, s *Store) []string {
	t.Helper()
	rows, err := s.read.Query(`SELECT k FROM grouped_keys ORDER BY k`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var k string
		if err := rows.Scan(&k); err != nil {
			t.Fatal(err)
		}
		out = append(out, k)
	}
	return out
}

// queued waits until n calls wait behind the group being committed.
func queued(t *testing.T, s *Store, n int) {
	t.Helper()
	testutil.Eventually(t, 10*time.Second, fmt.Sprintf("%d writes queued", n), func() bool {
		s.groups.mu.Lock()
		defer s.groups.mu.Unlock()
		return len(s.groups.waiting) == n
	})
}

// queuedWrite is a writeTx call: its context (nil: the background one)
// and function.
type queuedWrite struct {
	ctx context.Context
	f   func(*sql.Tx) error
}

// writes makes queuedWrites of fs with the background context.
func writes(fs ...func(*sql.Tx) error) []queuedWrite {
	out := make([]queuedWrite, len(fs))
	for i, f := range fs {
		out[i] = queuedWrite{f: f}
	}
	return out
}

// startGroup holds a first write open until the calls of ws have queued
// behind it, so that they commit as one group, and returns each call's
// error once all have returned.
func startGroup(t *testing.T, s *Store, ws []queuedWrite) []error {
	t.Helper()
	ctx := context.Background()
	inside, release := make(chan struct{}), make(chan struct{})
	first := make(chan error, 1)
	go func() {
		first <- s.writeTx(ctx, func(tx *sql.Tx) error {
			close(inside)
			<-release
			return insertKey(ctx, tx, "first")
		})
	}()
	<-inside // the first call leads, and is committing
	errs := make([]error, len(ws))
	var wg sync.WaitGroup
	for i, w := range ws {
		wctx := w.ctx
		if wctx == nil {
			wctx = ctx
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = s.writeTx(wctx, w.f)
		}()
		queued(t, s, i+1) // in this order
	}
	close(release)
	wg.Wait()
	if err := <-first; err != nil {
		t.Fatalf("first write: %v", err)
	}
	return errs
}

// TestWriteGroupRollsBackOnlyTheFailedWrite: writes that waited together
// commit as one group; the one whose function fails leaves nothing (not
// even what it wrote before failing) and gets its own error, mapped as a
// lone write's would be; the others are on disk when they return.
func TestWriteGroupRollsBackOnlyTheFailedWrite(t *testing.T) {
	s := groupTestStore(t)
	ctx := context.Background()
	failed := errors.New("the third write fails")
	errs := startGroup(t, s, writes(
		func(tx *sql.Tx) error { return insertKey(ctx, tx, "a") },
		func(tx *sql.Tx) error { return insertKey(ctx, tx, "b") },
		func(tx *sql.Tx) error {
			if err := insertKey(ctx, tx, "c"); err != nil {
				return err
			}
			return failed
		},
		func(tx *sql.Tx) error { return insertKey(ctx, tx, "a") }, // a duplicate of the first in the group
		func(tx *sql.Tx) error { return insertKey(ctx, tx, "d") },
	))
	if errs[0] != nil || errs[1] != nil || errs[4] != nil {
		t.Fatalf("errors %v, want the first, second and fifth to succeed", errs)
	}
	if !errors.Is(errs[2], failed) {
		t.Fatalf("third write: %v, want its own error", errs[2])
	}
	if err := domainError(errs[3]); !errors.Is(err, storage.ErrConflict) {
		t.Fatalf("duplicate write: %v, want a conflict", errs[3])
	}
	if got, want := storedKeys(t, s), []string{"a", "b", "d", "first"}; !slices.Equal(got, want) {
		t.Fatalf("stored %v, want %v", got, want)
	}
}

// TestWriteGroupEndedBySQLiteRunsItsWritesAlone: a write that ends the
// group's transaction under the others (as an interrupted statement or a
// full disk makes SQLite do) fails alone; the writes before and after it
// in the group run again, one transaction each, and are on disk.
func TestWriteGroupEndedBySQLiteRunsItsWritesAlone(t *testing.T) {
	s := groupTestStore(t)
	ctx := context.Background()
	errs := startGroup(t, s, writes(
		func(tx *sql.Tx) error { return insertKey(ctx, tx, "a") },
		func(tx *sql.Tx) error {
			if err := insertKey(ctx, tx, "lost"); err != nil {
				return err
			}
			_, err := tx.ExecContext(ctx, `ROLLBACK`) // the transaction ends under the group
			return err
		},
		func(tx *sql.Tx) error { return insertKey(ctx, tx, "b") },
	))
	if errs[0] != nil || errs[2] != nil {
		t.Fatalf("errors %v, want the first and third to succeed", errs)
	}
	if errs[1] == nil {
		t.Fatal("the write that ended the transaction succeeded")
	}
	if got, want := storedKeys(t, s), []string{"a", "b", "first"}; !slices.Equal(got, want) {
		t.Fatalf("stored %v, want %v", got, want)
	}
}

// TestWriteGroupSkipsCancelledWrites: a write whose context has ended by
// the time its group runs is not run and returns the context's error; the
// group commits the others.
func TestWriteGroupSkipsCancelledWrites(t *testing.T) {
	s := groupTestStore(t)
	ctx := context.Background()
	gone, cancel := context.WithCancel(ctx)
	cancel()
	ran := false
	errs := startGroup(t, s, []queuedWrite{
		{f: func(tx *sql.Tx) error { return insertKey(ctx, tx, "a") }},
		{ctx: gone, f: func(tx *sql.Tx) error { ran = true; return insertKey(ctx, tx, "never") }},
		{f: func(tx *sql.Tx) error { return insertKey(ctx, tx, "b") }},
	})
	if errs[0] != nil || errs[2] != nil || !errors.Is(errs[1], context.Canceled) {
		t.Fatalf("errors %v, want the cancelled write's context.Canceled only", errs)
	}
	if ran {
		t.Fatal("the cancelled write ran")
	}
	if got, want := storedKeys(t, s), []string{"a", "b", "first"}; !slices.Equal(got, want) {
		t.Fatalf("stored %v, want %v", got, want)
	}
}
