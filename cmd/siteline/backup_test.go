package main

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"siteline/internal/testutil"
)

// TestBackupRestoreBinary: `siteline backup` of a running single-voter
// node while calls are created through its API, then `siteline restore`
// into a new directory after the node is gone: the restored node has the
// history as the backup caught it, row for row, logs its users in and,
// being its cluster's only voter, elects itself and takes writes. A
// corrupt archive is refused with the reason and exit status 1.
func TestBackupRestoreBinary(t *testing.T) {
	testutil.System(t)
	bin := buildBinary(t)
	n := newChaosNode(t, bin, 1)
	n.start("serve", "-data", n.dir)
	n.waitReady()
	first, err := os.ReadFile(filepath.Join(n.dir, "initial-admin-password"))
	if err != nil {
		t.Fatal(err)
	}
	api := &chaosClient{token: adminToken(t, n.url(), "it@acme.example", strings.TrimSpace(string(first)))}
	if st := api.do(n.url(), "POST", "/api/v1/users", map[string]any{"email": "tech@acme.example", "name": "Tom",
		"password": "tech's password 1", "roles": []string{"regular"}}, nil); st != 201 {
		t.Fatalf("create tech = %d", st)
	}

	// Calls (site history) before; teams (organisation data through
	// Raft, and an audit event each: site history too) created through
	// the API while the backup runs.
	for i := range 5 {
		if st := api.do(n.url(), "POST", "/api/v1/calls", map[string]string{"name": fmt.Sprintf("Pump %d", i)}, nil); st != 201 {
			t.Fatalf("create call = %d", st)
		}
	}
	var mu sync.Mutex
	var created []string
	var failed error
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			var team struct{ ID, Error string }
			if st := api.do(n.url(), "POST", "/api/v1/teams", map[string]string{"name": fmt.Sprintf("Shift %d", i)}, &team); st != 201 {
				mu.Lock()
				failed = fmt.Errorf("create team %d = %d %s", i, st, team.Error)
				mu.Unlock()
				return
			}
			mu.Lock()
			created = append(created, team.ID)
			mu.Unlock()
		}
	}()
	count := func() int { mu.Lock(); defer mu.Unlock(); return len(created) }
	testutil.Eventually(t, 30*time.Second, "teams created", func() bool { return count() >= 10 })
	startedWith := count()
	archive := filepath.Join(t.TempDir(), "node.backup")
	out := n.run("backup", "-data", n.dir, "-o", archive, "-media")
	close(stop)
	<-done
	if !strings.Contains(out, "Backup of node hq-1 (site HQ 1) written to "+archive) {
		t.Fatalf("backup said:\n%s", out)
	}
	if failed != nil {
		t.Fatal(failed)
	}
	before := slices.Clone(created[:startedWith])
	n.terminate()
	original := tableRows(t, n.dir)

	// A corrupt copy is refused, and nothing is written.
	data, err := os.ReadFile(archive)
	if err != nil {
		t.Fatal(err)
	}
	data[len(data)/2] ^= 0xff
	bad := filepath.Join(t.TempDir(), "bad.backup")
	if err := os.WriteFile(bad, data, 0o600); err != nil {
		t.Fatal(err)
	}
	target := filepath.Join(t.TempDir(), "new")
	cmd := exec.Command(bin, "restore", bad, "-data", target)
	msg, err := cmd.CombinedOutput()
	if code := cmd.ProcessState.ExitCode(); code != 1 || !strings.Contains(string(msg), "corrupt backup archive") {
		t.Fatalf("restore of a corrupt archive: exit %d (%v):\n%s", code, err, msg)
	}
	if _, err := os.Stat(target); !os.IsNotExist(err) {
		t.Fatalf("a refused restore created %s (%v)", target, err)
	}

	out = n.run("restore", archive, "-data", target)
	if !strings.Contains(out, "Restored node hq-1") || !strings.Contains(out, "siteline serve -data "+target) {
		t.Fatalf("restore said:\n%s", out)
	}
	restored := tableRows(t, target)
	for table, rows := range restored {
		for _, r := range rows {
			if !slices.Contains(original[table], r) {
				t.Errorf("%s: the restored row %s is not the original node's", table, r)
			}
		}
	}
	for _, id := range before {
		if !slices.ContainsFunc(restored["teams"], func(r string) bool { return strings.HasPrefix(r, id) }) {
			t.Errorf("team %s, created before the backup started, is not in the restored node", id)
		}
	}
	if len(restored["sessions"]) != 5 || len(restored["audit_events"]) < len(before) {
		t.Errorf("restored %d sessions, %d audit events; want the 5 calls and at least an event per team",
			len(restored["sessions"]), len(restored["audit_events"]))
	}
	t.Logf("restored %d teams (%d created before the backup started, %d by the end), %d audit events (%d by the end)",
		len(restored["teams"]), len(before), len(original["teams"]), len(restored["audit_events"]), len(original["audit_events"]))

	m := &chaosNode{t: t, bin: bin, id: "hq-1 restored", dir: target, httpAddr: n.httpAddr, log: n.log}
	m.start("serve", "-data", target)
	t.Cleanup(m.kill)
	m.waitReady()
	for _, u := range [][2]string{{"it@acme.example", "chaos administrator password"}, {"tech@acme.example", "tech's password 1"}} {
		body, _ := json.Marshal(map[string]string{"email": u[0], "password": u[1]})
		resp, err := http.Post(m.url()+"/api/v1/session", "application/json", bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Errorf("log in as %s at the restored node = %d", u[0], resp.StatusCode)
		}
	}
	if st := api.do(m.url(), "POST", "/api/v1/users", map[string]any{"email": "new@acme.example", "name": "New",
		"password": "new person's password", "roles": []string{"regular"}}, nil); st != 201 {
		t.Errorf("a write through the restored node's Raft = %d", st)
	}
	m.terminate()
}

// tableRows reads the history tables and the teams of a stopped node's
// store, each row as text (its id first).
func tableRows(t *testing.T, dataDir string) map[string][]string {
	t.Helper()
	// A copy: the node's own files stay as they are.
	tmp := t.TempDir()
	files, _ := filepath.Glob(filepath.Join(dataDir, "siteline.db*"))
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(tmp, filepath.Base(f)), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	db, err := sql.Open("sqlite", "file:"+filepath.Join(tmp, "siteline.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	out := map[string][]string{}
	for _, table := range []string{"sessions", "session_participants", "session_events", "audit_events", "teams"} {
		rows, err := db.QueryContext(context.Background(), "SELECT * FROM "+table)
		if err != nil {
			t.Fatal(err)
		}
		cols, _ := rows.Columns()
		for rows.Next() {
			vals := make([]any, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			if err := rows.Scan(ptrs...); err != nil {
				t.Fatal(err)
			}
			var row strings.Builder
			for _, v := range vals {
				fmt.Fprintf(&row, "%v|", v)
			}
			out[table] = append(out[table], row.String())
		}
		if err := rows.Close(); err != nil {
			t.Fatal(err)
		}
	}
	return out
}
