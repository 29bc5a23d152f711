package sqlite

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"siteline/storage"
)

// countingConn is a driver connection that counts what the cache asks of
// it; its statements fail when told to.
type countingConn struct {
	driverConn
	prepared, direct []string
	closed           []string // statements closed, in order
	connClosed       bool
	fail             map[string]bool
}

type countingStmt struct {
	c     *countingConn
	query string
}

func (c *countingConn) PrepareContext(_ context.Context, query string) (driver.Stmt, error) {
	c.prepared = append(c.prepared, query)
	return &countingStmt{c, query}, nil
}

func (c *countingConn) ExecContext(_ context.Context, query string, _ []driver.NamedValue) (driver.Result, error) {
	c.direct = append(c.direct, query)
	return driver.RowsAffected(0), nil
}

func (c *countingConn) Close() error {
	if len(c.closed) != len(c.prepared) {
		return fmt.Errorf("connection closed with %d of %d statements open", len(c.prepared)-len(c.closed), len(c.prepared))
	}
	c.connClosed = true
	return nil
}

func (s *countingStmt) Close() error                               { s.c.closed = append(s.c.closed, s.query); return nil }
func (s *countingStmt) NumInput() int                              { return -1 }
func (s *countingStmt) Exec([]driver.Value) (driver.Result, error) { panic("not used") }
func (s *countingStmt) Query([]driver.Value) (driver.Rows, error)  { panic("not used") }
func (s *countingStmt) ExecContext(context.Context, []driver.NamedValue) (driver.Result, error) {
	if s.c.fail[s.query] {
		return nil, errors.New("constraint failed")
	}
	return driver.RowsAffected(1), nil
}

// TestStmtCacheKeepsWrites: a write with arguments is prepared once and
// reused; one without (a script, DDL) is passed through; a statement that
// fails is prepared again next time; the least recently used goes first
// when the cache is full; closing finalizes every statement before the
// connection.
func TestStmtCacheKeepsWrites(t *testing.T) {
	ctx := context.Background()
	fake := &countingConn{fail: map[string]bool{}}
	c := mustCachingConn(t, fake, 2)
	arg := []driver.NamedValue{{Ordinal: 1, Value: int64(1)}}
	exec := func(q string, args []driver.NamedValue) error {
		_, err := c.ExecContext(ctx, q, args)
		return err
	}
	for range 3 {
		if err := exec("INSERT a", arg); err != nil {
			t.Fatal(err)
		}
	}
	if err := exec("CREATE TABLE x (y); CREATE INDEX z ON x (y)", nil); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(fake.prepared, []string{"INSERT a"}) || !slices.Equal(fake.direct, []string{"CREATE TABLE x (y); CREATE INDEX z ON x (y)"}) {
		t.Fatalf("three writes and a script: prepared %q, passed through %q; want the write prepared once and the script passed", fake.prepared, fake.direct)
	}

	fake.fail["INSERT b"] = true
	if err := exec("INSERT b", arg); err == nil {
		t.Fatal("a failing statement reported no error")
	}
	fake.fail["INSERT b"] = false
	if err := exec("INSERT b", arg); err != nil {
		t.Fatal(err)
	}
	if got := fake.prepared[1:]; !slices.Equal(got, []string{"INSERT b", "INSERT b"}) || !slices.Equal(fake.closed, []string{"INSERT b"}) {
		t.Fatalf("after a failure: prepared %q, closed %q; want it closed and prepared again", got, fake.closed)
	}

	// a (used before b) is the least recent: c takes its place.
	if err := exec("INSERT c", arg); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(fake.closed, []string{"INSERT b", "INSERT a"}) {
		t.Fatalf("with the cache full, closed %q; want the least recently used (INSERT a) closed", fake.closed)
	}
	if err := c.Close(); err != nil || !fake.connClosed {
		t.Fatalf("close: %v (connection closed: %v)", err, fake.connClosed)
	}
}

func mustCachingConn(t *testing.T, conn driverConn, size int) *cachingConn {
	t.Helper()
	c, err := newCachingConn(conn, size)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestStmtCacheFollowsTheSchema: on a real SQLite file, a write kept
// prepared fires a trigger created after it was prepared, and writes a
// column added since: SQLite prepares it again when the schema changed.
func TestStmtCacheFollowsTheSchema(t *testing.T) {
	ctx := context.Background()
	conn, err := openCachingConnector(writerDSN(filepath.Join(t.TempDir(), "cache.db")))
	if err != nil {
		t.Fatal(err)
	}
	db := sql.OpenDB(conn)
	defer db.Close()
	db.SetMaxOpenConns(1)
	for _, q := range []string{`CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)`, `CREATE TABLE log (v TEXT)`} {
		if _, err := db.ExecContext(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	insert := `INSERT INTO t (v) VALUES (?)`
	if _, err := db.ExecContext(ctx, insert, "before"); err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{`CREATE TRIGGER t_log AFTER INSERT ON t BEGIN INSERT INTO log VALUES (NEW.v); END`,
		`ALTER TABLE t ADD COLUMN w TEXT NOT NULL DEFAULT 'added'`} {
		if _, err := db.ExecContext(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := db.ExecContext(ctx, insert, "after"); err != nil {
		t.Fatal(err)
	}
	var logged, w string
	if err := db.QueryRowContext(ctx, `SELECT group_concat(v), (SELECT w FROM t WHERE v = 'after') FROM log`).Scan(&logged, &w); err != nil {
		t.Fatal(err)
	}
	if logged != "after" || w != "added" {
		t.Errorf("after the trigger and the column: logged %q, new column %q; want the trigger fired for the second write and the column's default", logged, w)
	}
}

// benchJoinStore opens a store, closed at the benchmark's end, with one
// session to join, whose id it returns.
func benchJoinStore(b *testing.B) (*Store, string) {
	s, err := Open(context.Background(), filepath.Join(b.TempDir(), "siteline.db"), nil)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	id := "s-bench"
	if err := s.CreateSession(context.Background(), storage.Session{ID: id, OrgID: "o1", SiteID: "plant", Name: "Pump", CreatedBy: "u1", StartedAt: t0}); err != nil {
		b.Fatal(err)
	}
	return s, id
}

// BenchmarkRecordJoin is a participant's join as a call records it (the
// participant row, its event, the history record), on a store whose
// session rows fire the search and dashboard triggers.
//
//	go test ./storage/sqlite -run '^$' -bench BenchmarkRecordJoin -benchtime 2000x
func BenchmarkRecordJoin(b *testing.B) {
	ctx := context.Background()
	s, id := benchJoinStore(b)
	b.ResetTimer()
	for i := range b.N {
		at := t0.Add(time.Duration(i) * time.Second)
		p := storage.SessionParticipant{ID: fmt.Sprintf("p-%d", i), SessionID: id, UserID: "u1", DisplayName: "Ana", JoinedAt: at}
		ev := storage.SessionEvent{ID: fmt.Sprintf("ev-%d", i), SessionID: id, At: at, Kind: storage.EventJoined, ActorID: "u1"}
		if err := s.RecordJoin(ctx, p, ev); err != nil {
			b.Fatal(err)
		}
	}
}

// TestStoreWriterKeepsStatements: the store's writer is the caching
// connection, and a call's join leaves its writes prepared on it.
func TestStoreWriterKeepsStatements(t *testing.T) {
	ctx := context.Background()
	s, _ := openTestStore(t)
	if err := s.CreateSession(ctx, storage.Session{ID: "s1", OrgID: "o1", SiteID: "plant", Name: "Pump", CreatedBy: "u1", StartedAt: t0}); err != nil {
		t.Fatal(err)
	}
	if err := s.RecordJoin(ctx, storage.SessionParticipant{ID: "p1", SessionID: "s1", UserID: "u1", DisplayName: "Ana", JoinedAt: t0},
		storage.SessionEvent{ID: "ev1", SessionID: "s1", At: t0, Kind: storage.EventJoined, ActorID: "u1"}); err != nil {
		t.Fatal(err)
	}
	conn, err := s.write.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	var kept []string
	err = conn.Raw(func(dc any) error {
		c, ok := dc.(*cachingConn)
		if !ok {
			return fmt.Errorf("the writer's connection is a %T, not the caching one", dc)
		}
		for q := range c.bySQL {
			kept = append(kept, q)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	joined := slices.ContainsFunc(kept, func(q string) bool { return strings.Contains(q, "INSERT INTO session_participants") })
	if !joined {
		t.Errorf("after a join the writer keeps %d statements, not the participant's INSERT: %q", len(kept), kept)
	}
}

// BenchmarkRecordJoinConcurrent is BenchmarkRecordJoin with eight joins
// in flight at once, as when a room fills: ns/op is the time per join
// over all of them.
func BenchmarkRecordJoinConcurrent(b *testing.B) {
	ctx := context.Background()
	s, id := benchJoinStore(b)
	var n atomic.Int64
	b.SetParallelism(max(1, 8/runtime.GOMAXPROCS(0)))
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := n.Add(1)
			at := t0.Add(time.Duration(i) * time.Second)
			p := storage.SessionParticipant{ID: fmt.Sprintf("p-%d", i), SessionID: id, UserID: "u1", DisplayName: "Ana", JoinedAt: at}
			ev := storage.SessionEvent{ID: fmt.Sprintf("ev-%d", i), SessionID: id, At: at, Kind: storage.EventJoined, ActorID: "u1"}
			if err := s.RecordJoin(ctx, p, ev); err != nil {
				b.Error(err)
				return
			}
		}
	})
}
