package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"siteline/internal/testutil"
)

// TestBinary builds the siteline command and drives it as an operator
// would: init, user commands on a stopped node, serve, user commands on the
// running node through its admin socket, SIGTERM.
func TestBinary(t *testing.T) {
	testutil.System(t)
	bin := filepath.Join(t.TempDir(), "siteline")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	data, err := os.MkdirTemp("", "stlbin")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(data) })
	run := func(args ...string) string {
		t.Helper()
		cmd := exec.Command(bin, args...)
		cmd.Env = append(os.Environ(), "SITELINE_LOG_LEVEL=warn")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("siteline %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}

	if out := run("version"); !strings.HasPrefix(out, "siteline ") {
		t.Errorf("version printed %q", out)
	}
	out := run("init", "-data", data, "-org", "Acme", "-site", "Lyon plant", "-admin-email", "it@acme.example")
	adminPW := regexp.MustCompile(`Password:\s+(\S+)`).FindStringSubmatch(out)
	if adminPW == nil {
		t.Fatalf("init printed no password:\n%s", out)
	}
	if _, err := os.Stat(filepath.Join(data, "siteline.yaml")); err != nil {
		t.Errorf("init wrote no config file: %v", err)
	}
	// On a stopped node the CLI opens the data directory itself.
	out = run("user", "add", "tom@acme.example", "-data", data, "-name", "Tom Tech", "-roles", "regular,team_member")
	tomPW := regexp.MustCompile(`Password: (\S+)`).FindStringSubmatch(out)
	if tomPW == nil || !strings.Contains(out, "team_member") {
		t.Fatalf("user add printed:\n%s", out)
	}

	srv := exec.Command(bin, "serve", "-data", data, "-http", "127.0.0.1:0", "-tls", "off")
	srv.Env = append(os.Environ(), "SITELINE_LOG_LEVEL=warn",
		// Media and TURN on free loopback ports, not the defaults.
		"SITELINE_MEDIA_ICE_UDP=127.0.0.1:0", "SITELINE_MEDIA_ICE_TCP=127.0.0.1:0",
		"SITELINE_TURN_UDP=127.0.0.1:0", "SITELINE_TURN_TCP=127.0.0.1:0")
	stdout, err := srv.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	srv.Stderr = &stderr
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Process.Kill(); srv.Wait() })
	url := waitForURL(t, stdout)

	login := func(email, pw string) int {
		body, _ := json.Marshal(map[string]string{"email": email, "password": pw})
		resp, err := http.Post(url+"/api/v1/session", "application/json", bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if st := login("it@acme.example", adminPW[1]); st != 200 {
		t.Errorf("admin login = %d", st)
	}
	if st := login("tom@acme.example", tomPW[1]); st != 200 {
		t.Errorf("login of CLI-created user = %d", st)
	}
	// On a running node the CLI goes through the admin socket.
	if out := run("user", "list", "-data", data); !strings.Contains(out, "tom@acme.example") || !strings.Contains(out, "it@acme.example") {
		t.Errorf("user list:\n%s", out)
	}
	out = run("user", "passwd", "tom@acme.example", "-data", data, "-password", "a brand new password")
	if st := login("tom@acme.example", "a brand new password"); st != 200 {
		t.Errorf("login after passwd = %d (%s)", st, out)
	}
	run("user", "disable", "tom@acme.example", "-data", data)
	if st := login("tom@acme.example", "a brand new password"); st != 401 {
		t.Errorf("login after disable = %d, want 401", st)
	}

	if err := srv.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("serve exited with %v after SIGTERM\n%s", err, stderr.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("serve did not stop within 30s of SIGTERM\n%s", stderr.String())
	}
	if _, err := os.Stat(filepath.Join(data, "admin.sock")); !os.IsNotExist(err) {
		t.Errorf("admin socket left behind after shutdown: %v", err)
	}
	// The data survived the stop: the CLI reopens the directory.
	if out := run("user", "list", "-data", data); !strings.Contains(out, "disabled") {
		t.Errorf("user list after restart:\n%s", out)
	}
}

// waitForURL reads serve's standard output until it names its URL.
func waitForURL(t *testing.T, r io.Reader) string {
	t.Helper()
	found := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(r)
		re := regexp.MustCompile(`running at (http\S+)`)
		for sc.Scan() {
			if m := re.FindStringSubmatch(sc.Text()); m != nil {
				found <- m[1]
				break
			}
		}
		io.Copy(io.Discard, r)
	}()
	select {
	case u := <-found:
		return u
	case <-time.After(60 * time.Second):
		t.Fatal("serve printed no URL within 60s")
		return ""
	}
}
