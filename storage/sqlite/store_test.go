package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"siteline/storage"
)

func pragma(t *testing.T, db *sql.DB, name string) string {
	t.Helper()
	var v string
	if err := db.QueryRow("PRAGMA " + name).Scan(&v); err != nil {
		t.Fatalf("PRAGMA %s: %v", name, err)
	}
	return v
}

func TestPragmas(t *testing.T) {
	s, _ := openTestStore(t)
	tests := []struct {
		db   string
		name string
		want string
		inDB *sql.DB
	}{
		{db: "writer", name: "journal_mode", want: "wal", inDB: s.write},
		{db: "writer", name: "synchronous", want: "2", inDB: s.write}, // FULL
		{db: "writer", name: "foreign_keys", want: "1", inDB: s.write},
		{db: "writer", name: "busy_timeout", want: "5000", inDB: s.write},
		{db: "writer", name: "query_only", want: "0", inDB: s.write},
		{db: "reader", name: "journal_mode", want: "wal", inDB: s.read},
		{db: "reader", name: "foreign_keys", want: "1", inDB: s.read},
		{db: "reader", name: "busy_timeout", want: "5000", inDB: s.read},
		{db: "reader", name: "query_only", want: "1", inDB: s.read},
	}
	for _, tt := range tests {
		t.Run(tt.db+"/"+tt.name, func(t *testing.T) {
			if got := strings.ToLower(pragma(t, tt.inDB, tt.name)); got != tt.want {
				t.Errorf("PRAGMA %s = %q, want %q", tt.name, got, tt.want)
			}
		})
	}
	if got := s.write.Stats().MaxOpenConnections; got != 1 {
		t.Errorf("writer MaxOpenConnections = %d, want 1", got)
	}
}

// The writer begins IMMEDIATE transactions: a second writer cannot even
// begin while one is open, so no transaction fails to upgrade its lock half
// way (SQLITE_BUSY on the first write).
func TestWriterTakesLockAtBegin(t *testing.T) {
	s, path := openTestStore(t)
	tx, err := s.write.Begin()
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()

	other, err := sql.Open("sqlite", fileURI(path, map[string][]string{
		"_pragma": {"busy_timeout(0)"}, "_txlock": {"immediate"},
	}))
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	otx, err := other.Begin()
	if err == nil {
		otx.Rollback()
		t.Fatal("a second IMMEDIATE transaction began while the writer held one")
	}
}

func TestReadersCannotWrite(t *testing.T) {
	s, _ := openTestStore(t)
	_, err := s.read.Exec("INSERT INTO meta (key, value) VALUES ('x', 'y')")
	if err == nil {
		t.Fatal("insert through a reader connection succeeded")
	}
}

func TestOpenCreatesAndMigrates(t *testing.T) {
	s, _ := openTestStore(t)
	ctx := context.Background()
	if err := s.Ping(ctx); err != nil {
		t.Fatal(err)
	}
	for _, table := range []string{
		"orgs", "sites", "users", "roles", "teams", "team_memberships", "label_groups", "labels",
		"user_labels", "contacts", "policy_rules", "api_tokens", "meta", "web_sessions", "audit_events",
		"sessions", "session_participants", "session_labels", "session_events", "media", "recordings",
		"service_reports", "invitations", "terms_acceptances",
	} {
		var n int
		if err := s.read.QueryRow("SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name = ?", table).Scan(&n); err != nil || n != 1 {
			t.Errorf("table %s: count %d, err %v", table, n, err)
		}
	}
	index, err := s.AppliedIndex(ctx)
	if err != nil || index != 0 {
		t.Errorf("AppliedIndex of a new store = %d, %v; want 0", index, err)
	}
}

func TestOpenPathWithSpecialCharacters(t *testing.T) {
	path := filepath.Join(t.TempDir(), "a dir?#%", "x.db")
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	s, err := Open(context.Background(), path, nil)
	if err != nil {
		t.Fatalf("Open(%q): %v", path, err)
	}
	defer s.Close()
	if _, err := os.Stat(path); err != nil {
		t.Errorf("database not created: %v", err)
	}
}

func TestReopenKeepsData(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "siteline.db")
	s, err := Open(ctx, path, nil)
	if err != nil {
		t.Fatal(err)
	}
	mustApply(t, s, 7, seed())
	if err := s.SetMeta(ctx, "node.id", "n1"); err != nil {
		t.Fatal(err)
	}
	ev := storage.AuditEvent{ID: "a1", OrgID: "o1", SiteID: "s1", At: t0, ActorID: "u1", Action: "user.create", Target: "u2"}
	if err := s.AppendAudit(ctx, ev); err != nil {
		t.Fatal(err)
	}
	before := viewOf(t, s)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s, err = Open(ctx, path, nil)
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	defer s.Close()
	after := viewOf(t, s)
	sameView(t, after, before)
	if after.Applied != 7 {
		t.Errorf("applied index after reopen = %d, want 7", after.Applied)
	}
	if v, err := s.Meta(ctx, "node.id"); err != nil || v != "n1" {
		t.Errorf("Meta(node.id) = %q, %v", v, err)
	}
	events, err := s.Audit(ctx, storage.AuditFilter{})
	if err != nil || len(events) != 1 || events[0] != ev {
		t.Errorf("Audit after reopen = %+v, %v", events, err)
	}
	// Replaying the log after the restart is harmless.
	if err := s.Apply(ctx, 7, seed()); err != nil {
		t.Errorf("replay after reopen: %v", err)
	}
}

func TestOpenFailsOnUnwritableLocation(t *testing.T) {
	_, err := Open(context.Background(), filepath.Join(t.TempDir(), "missing", "dir", "x.db"), nil)
	if err == nil {
		t.Fatal("Open in a missing directory succeeded")
	}
	if errors.Is(err, storage.ErrNotFound) {
		t.Errorf("Open error should not be a domain error: %v", err)
	}
}

func TestPingAfterClose(t *testing.T) {
	s, _ := openTestStore(t)
	s.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if err := s.Ping(ctx); err == nil {
		t.Error("Ping after Close succeeded")
	}
}

// Every migration goes down and up again cleanly, so a Down section is
// never left broken.
func TestMigrationsDownAndUp(t *testing.T) {
	s, _ := openTestStore(t)
	ctx := context.Background()
	p, err := newMigrator(s.write, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	latest, err := p.GetDBVersion(ctx)
	if err != nil || latest < 2 {
		t.Fatalf("schema version %d, %v", latest, err)
	}
	if _, err := p.DownTo(ctx, 0); err != nil {
		t.Fatalf("down to 0: %v", err)
	}
	var tables int
	s.write.QueryRow("SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'goose%' AND name NOT LIKE 'sqlite%'").Scan(&tables)
	if tables != 0 {
		t.Errorf("%d tables left after migrating down to 0", tables)
	}
	if _, err := p.Up(ctx); err != nil {
		t.Fatalf("up again: %v", err)
	}
	if v, _ := p.GetDBVersion(ctx); v != latest {
		t.Errorf("version %d after up, want %d", v, latest)
	}
}
