package main

import (
	"context"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"siteline/internal/pgtest"
	"siteline/node"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

// sitelineStdout is siteline for commands that print on the process's
// standard output and error (a result, progress): it returns those too.
func sitelineStdout(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	capture := func(f **os.File) func() string {
		r, w, err := os.Pipe()
		if err != nil {
			t.Fatal(err)
		}
		read := make(chan string)
		go func() {
			b, _ := io.ReadAll(r)
			read <- string(b)
		}()
		saved := *f
		*f = w
		return func() string {
			*f = saved
			w.Close()
			return <-read
		}
	}
	outDone, errDone := capture(&os.Stdout), capture(&os.Stderr)
	code, out, errOut := siteline(t, args...)
	return code, outDone() + out, errDone() + errOut
}

// TestStorageMigrate drives `siteline storage migrate` on a data directory
// holding generated history: refused while a node runs there, then a copy
// whose table shows every table equal, never the DSN's password; a second
// run, to the configured database, copies nothing; a row changed in PostgreSQL since fails it, naming
// the table.
func TestStorageMigrate(t *testing.T) {
	dir := t.TempDir()
	if err := node.SeedHistory(context.Background(), dir, node.SeedConfig{Sessions: 200, Seed: 3}, io.Discard); err != nil {
		t.Fatal(err)
	}
	const password = "Secret-pw-4711"
	dsn := strings.Replace(pgtest.DB(t), "postgres@", "postgres:"+password+"@", 1) // trusted: the password is not checked
	migrate := []string{"storage", "migrate", "-to", "postgres", "-dsn", dsn, "-data", dir}

	for _, tc := range []struct {
		args []string
		say  string
	}{
		{[]string{"storage", "migrate", "-dsn", dsn, "-data", dir}, "needs -to postgres"},
		{[]string{"storage", "migrate", "-to", "postgres", "-data", dir}, "needs -dsn DSN, or the database of storage.history.dsn"},
		{[]string{"storage", "migrate", "-to", "mysql", "-dsn", dsn, "-data", dir}, "postgres only"},
	} {
		if code, _, errOut := siteline(t, tc.args...); code != 2 || !strings.Contains(errOut, tc.say) {
			t.Errorf("siteline %v: exit %d, stderr %q; want exit 2 saying %q", tc.args, code, errOut, tc.say)
		}
	}

	// A node answering on the admin socket is running: refused.
	l, err := net.Listen("unix", node.AdminSocketPath(dir))
	if err != nil {
		t.Fatal(err)
	}
	code, out, errOut := sitelineStdout(t, migrate...)
	l.Close()
	if code != 1 || !strings.Contains(errOut, "a node is running on "+dir) || out != "" {
		t.Fatalf("with a node running: exit %d, stdout %q, stderr %q", code, out, errOut)
	}

	code, out, errOut = sitelineStdout(t, migrate...)
	if code != 0 {
		t.Fatalf("migrate: exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	for _, table := range []string{"sessions", "session_participants", "session_events", "session_labels"} {
		if !hasLine(out, table, "equal") {
			t.Errorf("the table has no line saying %s is equal:\n%s", table, out)
		}
		if !strings.Contains(errOut, table+": ") {
			t.Errorf("no progress for %s:\n%s", table, errOut)
		}
	}
	if strings.Contains(out, "DIFFERS") || !strings.Contains(out, "rows copied to 127.0.0.1:") {
		t.Errorf("migrate printed:\n%s", out)
	}
	if strings.Contains(out+errOut, password) {
		t.Errorf("the output shows the password:\n%s\n%s", out, errOut)
	}

	// Again, to the database the configuration names: nothing to copy.
	t.Setenv("SITELINE_STORAGE_HISTORY_DRIVER", "postgres")
	t.Setenv("SITELINE_STORAGE_HISTORY_DSN", dsn)
	code, out, _ = sitelineStdout(t, "storage", "migrate", "-to", "postgres", "-data", dir)
	if code != 0 || !strings.Contains(out, "\n0 rows copied to ") {
		t.Fatalf("second run: exit %d\n%s", code, out)
	}

	conn, err := pgx.Connect(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(context.Background(), `UPDATE session_events SET at = at + 1 WHERE id = (SELECT min(id) FROM session_events)`); err != nil {
		t.Fatal(err)
	}
	code, out, errOut = sitelineStdout(t, migrate...)
	if code != 1 || !hasLine(out, "session_events", "DIFFERS") || !strings.Contains(errOut, "the rows of session_events differ") {
		t.Fatalf("after a change in PostgreSQL: exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	if hasLine(out, "sessions", "DIFFERS") {
		t.Errorf("sessions reported as differing:\n%s", out)
	}

	missing := filepath.Join(t.TempDir(), "nowhere")
	if code, _, errOut := siteline(t, "storage", "migrate", "-to", "postgres", "-dsn", dsn, "-data", missing); code != 1 || !strings.Contains(errOut, "no Siteline node found in "+missing) {
		t.Errorf("on a directory without a node: exit %d, stderr %q", code, errOut)
	}
}

// hasLine tells whether a line of out starts with the word first and
// holds the word word.
func hasLine(out, first, word string) bool {
	for _, line := range strings.Split(out, "\n") {
		if f := strings.Fields(line); len(f) > 0 && f[0] == first && strings.Contains(line, word) {
			return true
		}
	}
	return false
}
