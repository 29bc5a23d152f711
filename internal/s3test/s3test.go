// Package s3test starts a real S3-compatible server for the tests of the
// media stores: Versity's gateway (versitygw) serving a directory of its
// own through its POSIX backend, a separate process on loopback. .ci/test
// installs the command; a test that needs it and does not find it fails.
package s3test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"siteline/internal/testutil"
)

// Command names the server's binary; $VERSITYGW_BIN overrides it.
const Command = "versitygw"

// Install is how .ci/test installs the server.
const Install = "go install github.com/versity/versitygw/cmd/versitygw@v1.8.0"

// Region is the server's region.
const Region = "us-east-1"

// Server is a running S3 server and its root credentials.
type Server struct {
	Endpoint  string // 127.0.0.1:port
	AccessKey string
	SecretKey string
	// Dir is the directory the server keeps its buckets in, one
	// subdirectory each, an object in a file named by its key.
	Dir string

	client *minio.Client
}

// Start starts a server for t, stopped when t ends. It is a system test:
// skipped under -short.
func Start(t testing.TB) *Server {
	t.Helper()
	testutil.System(t)
	bin := os.Getenv("VERSITYGW_BIN")
	if bin == "" {
		var err error
		if bin, err = exec.LookPath(Command); err != nil {
			t.Fatalf("the S3 server %s is not installed (%v): .ci/test installs it with %s", Command, err, Install)
		}
	}
	s := &Server{AccessKey: "siteline" + token(4), SecretKey: token(20), Dir: filepath.Join(t.TempDir(), "s3")}
	if err := os.MkdirAll(s.Dir, 0o700); err != nil {
		t.Fatal(err)
	}
	log := testutil.NewLog(t)
	// A port taken between its probe and the server's bind makes the
	// server exit at once: try another.
	for attempt := 0; ; attempt++ {
		s.Endpoint = freeAddr(t)
		cmd := exec.Command(bin, "--port", s.Endpoint, "--access", s.AccessKey, "--secret", s.SecretKey,
			"--region", Region, "posix", s.Dir)
		cmd.Stdout, cmd.Stderr = log, log
		if err := cmd.Start(); err != nil {
			t.Fatalf("start %s: %v", bin, err)
		}
		exited := make(chan error, 1)
		go func() { exited <- cmd.Wait() }()
		if up(s.Endpoint, exited) {
			t.Cleanup(func() {
				_ = cmd.Process.Kill()
				<-exited
			})
			break
		}
		_ = cmd.Process.Kill()
		if attempt == 2 {
			t.Fatalf("%s did not start on %s", bin, s.Endpoint)
		}
	}
	var err error
	s.client, err = minio.New(s.Endpoint, &minio.Options{
		Creds: credentials.NewStaticV4(s.AccessKey, s.SecretKey, ""), Region: Region})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// up waits for the server to accept connections, false when it exited
// or did not within 30 seconds.
func up(addr string, exited <-chan error) bool {
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-exited:
			return false
		default:
		}
		if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
			c.Close()
			return true
		}
		time.Sleep(20 * time.Millisecond)
	}
	return false
}

// Bucket creates a bucket and returns its name.
func (s *Server) Bucket(t testing.TB) string {
	t.Helper()
	name := "siteline-" + token(6)
	if err := s.client.MakeBucket(context.Background(), name, minio.MakeBucketOptions{Region: Region}); err != nil {
		t.Fatalf("create bucket %s: %v", name, err)
	}
	return name
}

// Objects lists the names of a bucket's objects under prefix.
func (s *Server) Objects(t testing.TB, bucket, prefix string) []string {
	t.Helper()
	var out []string
	for obj := range s.client.ListObjectsIter(context.Background(), bucket, minio.ListObjectsOptions{Prefix: prefix, Recursive: true}) {
		if obj.Err != nil {
			t.Fatalf("list bucket %s: %v", bucket, obj.Err)
		}
		out = append(out, obj.Key)
	}
	return out
}

// Client is a client of the server with its root credentials.
func (s *Server) Client() *minio.Client { return s.client }

func freeAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return "127.0.0.1:" + strconv.Itoa(l.Addr().(*net.TCPAddr).Port)
}

func token(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
