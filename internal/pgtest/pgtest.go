// Package pgtest starts a real PostgreSQL server for the tests of the
// PostgreSQL store: a throwaway cluster (initdb into a fresh directory,
// then postgres on a free loopback port), one per test binary, and a
// fresh database on it per test. .ci/test installs Debian's postgresql
// package; a test that needs the server and does not find it fails.
//
// PostgreSQL refuses to run as root. Run as root (as tests are here and
// in CI), the cluster belongs to the postgres system user: its directory
// is made outside t.TempDir, whose 0700 parents that user cannot
// traverse, and handed to it.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"siteline/internal/testutil"
)

// Install is how .ci/test installs the server.
const Install = "apt-get install postgresql (Debian's package, which .ci/test installs when initdb is missing)"

// BinEnv names the variable that overrides where the server's binaries
// (initdb, postgres) are found. Not a SITELINE_ variable: the node refuses
// those it does not know.
const BinEnv = "PG_BIN"

// startTimeout bounds initdb plus the server's start.
const startTimeout = 60 * time.Second

// Cluster is a running PostgreSQL server, its superuser postgres trusted
// on loopback without a password.
type Cluster struct {
	Host string // 127.0.0.1
	Port int
	// Took is how long initdb and the start took.
	Took time.Duration

	dir    string // the cluster's own directory: data/ and the socket
	cmd    *exec.Cmd
	exited chan error
	log    *testutil.Log
}

// shared is the cluster of the test binary: started by the first test
// that asks for a database, stopped by Main once the tests are done.
var shared struct {
	mu      sync.Mutex
	main    bool // Main runs the tests, so the cluster will be stopped
	cluster *Cluster
	err     error
}

// Main runs a package's tests and then stops the cluster they started, if
// any; call it from TestMain: os.Exit(pgtest.Main(m)).
func Main(m *testing.M) int {
	shared.mu.Lock()
	shared.main = true
	shared.mu.Unlock()
	code := m.Run()
	shared.mu.Lock()
	defer shared.mu.Unlock()
	if shared.cluster != nil {
		if err := shared.cluster.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, "pgtest:", err)
			if code == 0 {
				code = 1
			}
		}
		shared.cluster = nil
	}
	return code
}

// DB creates a database with a random name on the test binary's cluster,
// starting the cluster at first use, and returns its DSN. The database is
// dropped when t ends, with any connection still open to it.
//
// Its text sorts by ICU's en-US collation, as a server set up with a
// language's locale sorts it, not byte by byte as the cluster's C locale
// (and SQLite) would: a query whose order or prefix match silently
// depends on the collation shows it here.
func DB(t testing.TB) string {
	t.Helper()
	c := Shared(t)
	name := "t_" + token(8)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := c.exec(ctx, "CREATE DATABASE "+name+" TEMPLATE template0 LOCALE_PROVIDER icu ICU_LOCALE 'en-US' LOCALE 'C'"); err != nil {
		t.Fatalf("create database %s: %v", name, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := c.exec(ctx, "DROP DATABASE "+name+" WITH (FORCE)"); err != nil {
			t.Errorf("drop database %s: %v", name, err)
		}
	})
	return c.DSN(name)
}

// Shared returns the test binary's cluster, started at first use. The
// package's TestMain must run its tests through Main, which stops it.
func Shared(t testing.TB) *Cluster {
	t.Helper()
	shared.mu.Lock()
	defer shared.mu.Unlock()
	if !shared.main {
		t.Fatal("pgtest: the package's TestMain must call pgtest.Main, which stops the shared cluster")
	}
	if shared.cluster == nil && shared.err == nil {
		shared.cluster, shared.err = Start()
	}
	if shared.err != nil {
		t.Fatalf("pgtest: %v", shared.err)
	}
	return shared.cluster
}

// DSN is the address of database db on the cluster, as its superuser.
func (c *Cluster) DSN(db string) string {
	return fmt.Sprintf("postgres://postgres@%s/%s?sslmode=disable", net.JoinHostPort(c.Host, strconv.Itoa(c.Port)), db)
}

// Start creates a cluster in a fresh directory and starts its server on
// a free loopback port. The caller stops it with Stop.
func Start() (*Cluster, error) {
	began := time.Now()
	bin, err := binDir()
	if err != nil {
		return nil, err
	}
	owner, err := serverUser()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "siteline-pgtest-")
	if err != nil {
		return nil, err
	}
	c := &Cluster{Host: "127.0.0.1", dir: dir, log: new(testutil.Log)}
	if owner != nil {
		if err := os.Chown(dir, int(owner.Uid), int(owner.Gid)); err != nil {
			os.RemoveAll(dir)
			return nil, fmt.Errorf("hand %s to the postgres user: %w", dir, err)
		}
	}
	initdb := exec.Command(filepath.Join(bin, "initdb"), "-D", c.data(), "-A", "trust", "-U", "postgres",
		"--no-sync", "-E", "UTF8", "--locale=C")
	initdb.Stdout, initdb.Stderr = c.log, c.log
	asUser(initdb, owner)
	if err := initdb.Run(); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("initdb %s: %v\n%s", c.data(), err, c.log)
	}
	// A port taken between its probe and the server's bind makes the
	// server exit at once: try another.
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	for attempt := 0; ; attempt++ {
		if c.Port, err = freePort(); err != nil {
			os.RemoveAll(dir)
			return nil, err
		}
		c.cmd = exec.Command(filepath.Join(bin, "postgres"), "-D", c.data(), "-p", strconv.Itoa(c.Port),
			"-k", c.dir, "-F", "-c", "listen_addresses="+c.Host, "-c", "fsync=off",
			"-c", "full_page_writes=off", "-c", "synchronous_commit=off")
		c.cmd.Stdout, c.cmd.Stderr = c.log, c.log
		asUser(c.cmd, owner)
		if err := c.cmd.Start(); err != nil {
			os.RemoveAll(dir)
			return nil, fmt.Errorf("start %s: %w", c.cmd.Path, err)
		}
		c.exited = make(chan error, 1)
		go func() { c.exited <- c.cmd.Wait() }()
		err = c.waitUp(ctx)
		if err == nil {
			c.Took = time.Since(began)
			return c, nil
		}
		_ = c.cmd.Process.Kill()
		<-c.exited
		if attempt == 2 || ctx.Err() != nil {
			os.RemoveAll(dir)
			return nil, fmt.Errorf("postgres did not start on %s:%d: %v\n%s", c.Host, c.Port, err, c.log)
		}
	}
}

// waitUp polls the server until it accepts a connection, and fails when
// it exits or ctx ends first.
func (c *Cluster) waitUp(ctx context.Context) error {
	for {
		select {
		case err := <-c.exited:
			c.exited <- err
			return fmt.Errorf("exited: %v", err)
		default:
		}
		attempt, cancel := context.WithTimeout(ctx, time.Second)
		conn, err := pgx.Connect(attempt, c.DSN("postgres"))
		cancel()
		if err == nil {
			return conn.Close(ctx)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("not accepting connections: %v", err)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// Stop shuts the server down (SIGINT: fast shutdown, the open sessions
// ended), waits for it, and removes the cluster's files.
func (c *Cluster) Stop() error {
	var errs []error
	if err := c.cmd.Process.Signal(syscall.SIGINT); err != nil && !errors.Is(err, os.ErrProcessDone) {
		errs = append(errs, err)
	}
	select {
	case <-c.exited:
	case <-time.After(30 * time.Second):
		_ = c.cmd.Process.Kill()
		<-c.exited
		errs = append(errs, fmt.Errorf("postgres on port %d did not stop within 30 s; killed", c.Port))
	}
	errs = append(errs, os.RemoveAll(c.dir))
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("stop postgres on port %d: %w", c.Port, err)
	}
	return nil
}

// Log is what initdb and the server printed.
func (c *Cluster) Log() string { return c.log.String() }

// exec runs one statement on the postgres database.
func (c *Cluster) exec(ctx context.Context, sql string) error {
	conn, err := pgx.Connect(ctx, c.DSN("postgres"))
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	_, err = conn.Exec(ctx, sql)
	return err
}

func (c *Cluster) data() string { return filepath.Join(c.dir, "data") }

// binDir finds the directory of initdb and postgres: $PG_BIN, else the
// highest version under /usr/lib/postgresql (Debian keeps them off PATH),
// else the directory of the initdb on PATH.
func binDir() (string, error) {
	if dir := os.Getenv(BinEnv); dir != "" {
		if _, err := os.Stat(filepath.Join(dir, "initdb")); err != nil {
			return "", fmt.Errorf("$%s=%s holds no initdb (%w): point it at PostgreSQL's bin directory, or unset it and install the server with %s", BinEnv, dir, err, Install)
		}
		return dir, nil
	}
	found, _ := filepath.Glob("/usr/lib/postgresql/*/bin/initdb")
	slices.SortFunc(found, func(a, b string) int { return version(a) - version(b) })
	if len(found) > 0 {
		return filepath.Dir(found[len(found)-1]), nil
	}
	path, err := exec.LookPath("initdb")
	if err != nil {
		return "", fmt.Errorf("PostgreSQL is not installed (no /usr/lib/postgresql/*/bin/initdb, no initdb on PATH, $%s not set): install it with %s", BinEnv, Install)
	}
	if real, err := filepath.EvalSymlinks(path); err == nil {
		path = real
	}
	return filepath.Dir(path), nil
}

// version is the major version in /usr/lib/postgresql/<version>/bin/initdb.
func version(path string) int {
	n, _ := strconv.Atoi(filepath.Base(filepath.Dir(filepath.Dir(path))))
	return n
}

// serverUser is the account initdb and postgres run as: nil (this
// process's own) unless this process is root, which PostgreSQL refuses;
// then the postgres system user.
func serverUser() (*syscall.Credential, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		return nil, fmt.Errorf("running as root, PostgreSQL needs the postgres system user (which %s creates): %w", Install, err)
	}
	uid, err := strconv.ParseUint(u.Uid, 10, 32)
	if err != nil {
		return nil, fmt.Errorf("user postgres: uid %q: %w", u.Uid, err)
	}
	gid, err := strconv.ParseUint(u.Gid, 10, 32)
	if err != nil {
		return nil, fmt.Errorf("user postgres: gid %q: %w", u.Gid, err)
	}
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, nil
}

func asUser(cmd *exec.Cmd, cred *syscall.Credential) {
	if cred != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
		// initdb and postgres resolve paths from their working directory,
		// which the postgres user may not be able to enter.
		cmd.Dir = "/"
	}
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func token(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return strings.ToLower(hex.EncodeToString(b))
}
