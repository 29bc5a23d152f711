package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"siteline/internal/pgtest"
	"siteline/storage"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

// openTestStore opens a store on a fresh database, closed when t ends.
func openTestStore(t testing.TB) (*Store, string) {
	t.Helper()
	return openTestStoreWith(t, Options{})
}

// openTestStoreWith is openTestStore with options.
func openTestStoreWith(t testing.TB, opts Options) (*Store, string) {
	t.Helper()
	dsn := pgtest.DB(t)
	s, err := Open(context.Background(), dsn, opts)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s, dsn
}

// TestOpenMigrates: Open creates the schema, a second Open of the same
// database keeps its rows and applies nothing, and Ping answers.
func TestOpenMigrates(t *testing.T) {
	ctx := context.Background()
	s, dsn := openTestStore(t)
	if err := s.Ping(ctx); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateSession(ctx, storage.Session{ID: "c1", OrgID: "o1", SiteID: "s1", StartedAt: time.Unix(0, 1)}); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s2, err := Open(ctx, dsn, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	if _, err := s2.Session(ctx, "c1"); err != nil {
		t.Errorf("session after reopening: %v", err)
	}
	if v := schemaVersion(t, dsn); v != latestVersion(t) {
		t.Errorf("schema at version %d, want %d", v, latestVersion(t))
	}
}

// TestOpenUnreachable: a server that does not answer is an error naming
// its address, returned within the connect timeout.
func TestOpenUnreachable(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close() // nothing listens there now
	start := time.Now()
	_, err = Open(context.Background(), "postgres://siteline:secret-pw@"+addr+"/history?sslmode=disable", Options{ConnectTimeout: 5 * time.Second})
	if err == nil {
		t.Fatal("Open succeeded with no server")
	}
	for _, want := range []string{addr, "does not answer", "history"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not name %q", err, want)
		}
	}
	if strings.Contains(err.Error(), "secret-pw") {
		t.Errorf("error %q shows the password", err)
	}
	t.Log(err)
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("took %s", took)
	}
}

// TestOpenBadDSN: a DSN that does not parse is refused without echoing
// it, password included.
func TestOpenBadDSN(t *testing.T) {
	_, err := Open(context.Background(), "postgres://u:secret-pw@127.0.0.1:notaport/db", Options{})
	if err == nil || !strings.Contains(err.Error(), "DSN") || strings.Contains(err.Error(), "secret-pw") {
		t.Errorf("err = %v", err)
	}
}

// TestOpenRefusesNewerSchema: a database migrated by a newer release is
// refused with an error naming both versions, and left as it was.
func TestOpenRefusesNewerSchema(t *testing.T) {
	ctx := context.Background()
	s, dsn := openTestStore(t)
	s.Close()
	latest := latestVersion(t)
	conn := connect(t, dsn)
	if _, err := conn.Exec(ctx, `INSERT INTO goose_db_version (version_id, is_applied) VALUES ($1, true)`, latest+1); err != nil {
		t.Fatal(err)
	}
	_, err := Open(ctx, dsn, Options{})
	if err == nil {
		t.Fatal("Open accepted a schema newer than the binary")
	}
	for _, want := range []string{"newer", strconv.FormatInt(latest+1, 10), strconv.FormatInt(latest, 10)} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not name %q", err, want)
		}
	}
	if v := schemaVersion(t, dsn); v != latest+1 {
		t.Errorf("schema version %d after the refusal, want %d", v, latest+1)
	}
}

// TestStatementTimeout: every connection of the pool carries the
// configured statement_timeout, and a statement running past it fails.
func TestStatementTimeout(t *testing.T) {
	ctx := context.Background()
	s, err := Open(ctx, pgtest.DB(t), Options{StatementTimeout: 250 * time.Millisecond, MaxConns: 3})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if got := s.pool.Config().MaxConns; got != 3 {
		t.Errorf("pool size %d, want 3", got)
	}
	var setting string
	if err := s.pool.QueryRow(ctx, `SHOW statement_timeout`).Scan(&setting); err != nil {
		t.Fatal(err)
	}
	if setting != "250ms" {
		t.Errorf("statement_timeout = %q, want 250ms", setting)
	}
	_, err = s.pool.Exec(ctx, `SELECT pg_sleep(5)`)
	if err == nil || !strings.Contains(err.Error(), "statement timeout") {
		t.Errorf("a 5 s statement under a 250 ms timeout: %v", err)
	}
	if err := s.Ping(ctx); err != nil {
		t.Errorf("ping after a cancelled statement: %v", err)
	}
}

// TestPingAfterClose: a closed store does not answer.
func TestPingAfterClose(t *testing.T) {
	s, _ := openTestStore(t)
	s.Close()
	if err := s.Ping(context.Background()); err == nil {
		t.Error("Ping after Close succeeded")
	}
}

func connect(t *testing.T, dsn string) *pgx.Conn {
	t.Helper()
	conn, err := pgx.Connect(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

func schemaVersion(t *testing.T, dsn string) int64 {
	t.Helper()
	var v int64
	if err := connect(t, dsn).QueryRow(context.Background(), `SELECT max(version_id) FROM goose_db_version`).Scan(&v); err != nil {
		t.Fatal(err)
	}
	return v
}

func latestVersion(t *testing.T) int64 {
	t.Helper()
	p, err := newMigrator(&pgx.ConnConfig{}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	sources := p.ListSources()
	return sources[len(sources)-1].Version
}

// TestTimeOutOfRange: a time beyond int64 nanoseconds is refused with an
// error naming the time and the range, not the time's Go internals.
func TestTimeOutOfRange(t *testing.T) {
	s, _ := openTestStore(t)
	far := time.Date(2300, 1, 1, 0, 0, 0, 0, time.UTC)
	err := s.CreateSession(context.Background(), storage.Session{ID: "c1", OrgID: "o1", SiteID: "s1", StartedAt: far})
	if err == nil || !strings.Contains(err.Error(), "2300-01-01T00:00:00Z is out of the range 1678-2262") || strings.Contains(err.Error(), "wall:") {
		t.Errorf("err = %v", err)
	}
	t.Log(err)
}

// TestTextPostgreSQLCannotHold: text holding a NUL byte, which SQLite
// stores and PostgreSQL cannot, is invalid input here, at a write and in
// a forwarded record (rejected, not retried for ever); a JSON payload may
// still carry an escaped NUL, and an owner read out of one that holds it
// rejects the record too.
func TestTextPostgreSQLCannotHold(t *testing.T) {
	ctx := context.Background()
	s, _ := openTestStore(t)
	at := time.Date(2025, 3, 1, 8, 30, 0, 0, time.UTC)
	err := s.CreateSession(ctx, storage.Session{ID: "c1", OrgID: "o1", SiteID: "s1", Name: "a\x00b", StartedAt: at})
	if !errors.Is(err, storage.ErrInvalid) {
		t.Errorf("a name with a NUL byte: %v, want invalid", err)
	}
	if err := s.CreateSession(ctx, storage.Session{ID: "c1", OrgID: "o1", SiteID: "s1", StartedAt: at}); err != nil {
		t.Fatal(err)
	}
	if err := s.AppendSessionEvent(ctx, storage.SessionEvent{ID: "e1", SessionID: "c1", At: at, Kind: storage.EventChat,
		Payload: []byte(`{"text":"a\u0000b"}`)}); err != nil {
		t.Errorf("a payload with an escaped NUL: %v", err)
	}
	ss := storage.Session{ID: "c2", OrgID: "o1", SiteID: "s1", Kind: storage.SessionConference, Status: storage.SessionActive, StartedAt: at}
	record := func(rec storage.HistoryRecord) []byte {
		body, err := json.Marshal(rec)
		if err != nil {
			t.Fatal(err)
		}
		return body
	}
	named := ss
	named.Name = "a\x00b"
	batch := []storage.HistoryMessage{
		{Origin: "p", Seq: 1, Record: record(storage.HistoryRecord{ID: "c2", Kind: storage.HistorySessionCreated, Session: &named})},
		{Origin: "p", Seq: 2, Record: record(storage.HistoryRecord{ID: "t1", Kind: storage.HistoryEvent, Session: &ss,
			Event: &storage.SessionEvent{ID: "t1", SessionID: "c2", Seq: 1, At: at, Kind: storage.EventTakenOver, Payload: []byte(`{"owner":"a\u0000b"}`)}})},
		{Origin: "p", Seq: 3, Record: record(storage.HistoryRecord{ID: "c2", Kind: storage.HistorySessionCreated, Session: &ss})},
	}
	res, err := s.ApplyHistory(ctx, batch)
	if err != nil || res.Applied != 1 || len(res.Rejected) != 2 {
		t.Fatalf("apply = %+v %v, want the two records PostgreSQL cannot hold rejected", res, err)
	}
	for _, r := range res.Rejected {
		t.Logf("rejected: %+v", r)
	}
}
