package pgtest

import (
	"context"
	"os"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
)

func TestMain(m *testing.M) { os.Exit(Main(m)) }

// TestDB: each test gets a database of its own on the shared cluster,
// sorting text by a language's collation, a superuser connection to it
// works, and it is gone once the test ends.
func TestDB(t *testing.T) {
	ctx := context.Background()
	var name string
	var open *pgx.Conn
	t.Run("fresh", func(t *testing.T) {
		dsn := DB(t)
		conn, err := pgx.Connect(ctx, dsn)
		if err != nil {
			t.Fatal(err)
		}
		open = conn
		if err := conn.QueryRow(ctx, `SELECT current_database()`).Scan(&name); err != nil {
			t.Fatal(err)
		}
		var tables int
		if err := conn.QueryRow(ctx, `SELECT count(*) FROM pg_tables WHERE schemaname = 'public'`).Scan(&tables); err != nil {
			t.Fatal(err)
		}
		if tables != 0 {
			t.Errorf("a fresh database holds %d tables", tables)
		}
		// Text sorts by a language's rules, not by bytes: 'a' < 'B'.
		var linguistic, bytewise bool
		if err := conn.QueryRow(ctx, `SELECT 'a' < 'B', 'a' < 'B' COLLATE "C"`).Scan(&linguistic, &bytewise); err != nil {
			t.Fatal(err)
		}
		if !linguistic || bytewise {
			t.Errorf("'a' < 'B' is %v by the database's collation and %v by bytes, want true and false", linguistic, bytewise)
		}
		// The connection stays open: dropping the database must end it.
	})
	if open == nil {
		t.Fatal("no connection to the test's database")
	}
	if err := open.Ping(ctx); err == nil {
		t.Error("a connection to the dropped database still answers")
	}
	open.Close(ctx)
	c := Shared(t)
	t.Logf("cluster on port %d started in %s", c.Port, c.Took)
	conn, err := pgx.Connect(ctx, c.DSN("postgres"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var n int
	if err := conn.QueryRow(ctx, `SELECT count(*) FROM pg_database WHERE datname = $1`, name).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if name == "" || n != 0 {
		t.Errorf("database %q: %d left after its test", name, n)
	}
}

// TestStartStop: a cluster of its own starts, answers, and once stopped
// neither answers nor leaves its directory behind.
func TestStartStop(t *testing.T) {
	c, err := Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("started in %s", c.Took)
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, c.DSN("postgres"))
	if err != nil {
		c.Stop()
		t.Fatal(err)
	}
	var one int
	if err := conn.QueryRow(ctx, `SELECT 1`).Scan(&one); err != nil || one != 1 {
		t.Errorf("SELECT 1: %d, %v", one, err)
	}
	if err := c.Stop(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(c.dir); !os.IsNotExist(err) {
		t.Errorf("cluster directory %s after stop: %v", c.dir, err)
	}
	if _, err := pgx.Connect(ctx, c.DSN("postgres")); err == nil {
		t.Errorf("port %d still answers after stop", c.Port)
	}
}

// TestMissingServer: without the binaries the error says how to install
// them.
func TestMissingServer(t *testing.T) {
	t.Setenv(BinEnv, t.TempDir())
	_, err := Start()
	if err == nil {
		t.Fatal("started without initdb")
	}
	for _, want := range []string{BinEnv, "initdb", Install} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not name %q", err, want)
		}
	}
}
