package blob

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"go.yaml.in/yaml/v3"

	"siteline/internal/s3test"
	"siteline/storage"
)

// TestS3OpenErrors: a bucket that cannot be reached, refuses the
// credentials or does not exist is a clear error at open, which never
// shows the secret key.
func TestS3OpenErrors(t *testing.T) {
	srv := s3test.Start(t)
	bucket := srv.Bucket(t)
	closed := closedAddr(t)
	cfg := func(mod func(*S3Config)) S3Config {
		c := S3Config{Endpoint: srv.Endpoint, Bucket: bucket, Region: s3test.Region,
			AccessKey: srv.AccessKey, SecretKey: Secret(srv.SecretKey), SpoolDir: t.TempDir()}
		mod(&c)
		return c
	}
	for _, tc := range []struct {
		name string
		cfg  S3Config
		want string
	}{
		{"unreachable", cfg(func(c *S3Config) { c.Endpoint = closed }), "cannot reach it"},
		{"wrong secret", cfg(func(c *S3Config) { c.SecretKey = "not-the-" + c.SecretKey }), "refuses the credentials"},
		{"no bucket", cfg(func(c *S3Config) { c.Bucket = "no-such-bucket" }), "no such bucket"},
		{"half the credentials", cfg(func(c *S3Config) { c.AccessKey = "" }), "access_key and secret_key go together"},
		{"no endpoint", cfg(func(c *S3Config) { c.Endpoint = "" }), "no endpoint"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := OpenS3(context.Background(), tc.cfg)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("open = %v, want an error saying %q", err, tc.want)
			}
			if tc.cfg.SecretKey != "" && strings.Contains(err.Error(), string(tc.cfg.SecretKey)) {
				t.Errorf("the error shows the secret key: %v", err)
			}
			if !strings.Contains(err.Error(), tc.cfg.Bucket) && tc.cfg.Endpoint != "" {
				t.Errorf("the error does not name the bucket: %v", err)
			}
		})
	}

	// No credentials in the configuration: the environment's.
	t.Setenv("AWS_ACCESS_KEY_ID", "")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "")
	noKeys := cfg(func(c *S3Config) { c.AccessKey, c.SecretKey = "", "" })
	if _, err := OpenS3(context.Background(), noKeys); err == nil || !strings.Contains(err.Error(), "AWS_SECRET_ACCESS_KEY") {
		t.Errorf("open without credentials = %v, want an error naming the variables", err)
	}
	t.Setenv("AWS_ACCESS_KEY_ID", srv.AccessKey)
	t.Setenv("AWS_SECRET_ACCESS_KEY", srv.SecretKey)
	s, err := OpenS3(context.Background(), noKeys)
	if err != nil {
		t.Fatalf("open with the environment's credentials: %v", err)
	}
	if _, err := s.Put(strings.NewReader("with the environment's keys"), 0); err != nil {
		t.Fatal(err)
	}
	if shown := fmt.Sprint(s); strings.Contains(shown, srv.SecretKey) || !strings.Contains(shown, bucket) {
		t.Errorf("the store prints as %q", shown)
	}
}

// closedAddr is a loopback address nothing listens on.
func closedAddr(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

// TestSecretRedacted: a secret key printed, logged or marshalled shows
// nothing of itself.
func TestSecretRedacted(t *testing.T) {
	const secret = "wJalrXUtnFEMI-K7MDENG-bPxRfiCY"
	cfg := S3Config{Endpoint: "s3.example", Bucket: "media", AccessKey: "AKIDEXAMPLE", SecretKey: secret}
	var logged bytes.Buffer
	slog.New(slog.NewTextHandler(&logged, nil)).Info("media", "config", cfg, "secret", cfg.SecretKey)
	slog.New(slog.NewJSONHandler(&logged, nil)).Info("media", "config", cfg, "secret", cfg.SecretKey)
	js, _ := json.Marshal(cfg)
	ym, _ := yaml.Marshal(struct {
		SecretKey Secret `yaml:"secret_key"`
	}{cfg.SecretKey})
	for name, shown := range map[string]string{
		"%v": fmt.Sprintf("%v", cfg), "%+v": fmt.Sprintf("%+v", cfg), "%#v": fmt.Sprintf("%#v", cfg),
		"%s": fmt.Sprintf("%s", cfg.SecretKey), "log": logged.String(), "json": string(js), "yaml": string(ym),
	} {
		if strings.Contains(shown, secret) || strings.Contains(shown, secret[:8]) {
			t.Errorf("%s shows the secret: %s", name, shown)
		}
	}
	if !strings.Contains(logged.String(), "AKIDEXAMPLE") {
		t.Errorf("the log lost the rest of the configuration: %s", logged.String())
	}
}

// TestS3Layout: blobs are objects under the prefix, named by their keys;
// an object under a key whose recorded hash is another key's is refused
// on read; an upload a crash interrupted leaves nothing once reopened.
func TestS3Layout(t *testing.T) {
	srv := s3test.Start(t)
	bucket := srv.Bucket(t)
	spoolDir := t.TempDir()
	if err := os.WriteFile(filepath.Join(spoolDir, TempPrefix+"crashed"), []byte("half"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := S3Config{Endpoint: srv.Endpoint, Bucket: bucket, Region: s3test.Region, Prefix: "hq/",
		AccessKey: srv.AccessKey, SecretKey: Secret(srv.SecretKey), SpoolDir: spoolDir}
	s, err := OpenS3(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if left, _ := os.ReadDir(spoolDir); len(left) != 0 {
		t.Errorf("spool directory after open holds %v", left)
	}
	b, err := s.Put(strings.NewReader("a drawing"), 0)
	if err != nil {
		t.Fatal(err)
	}
	// Another application's objects beside and under the prefix.
	for _, name := range []string{"other/readme.txt", "hq/notes.txt"} {
		if _, err := srv.Client().PutObject(context.Background(), bucket, name, strings.NewReader("x"), 1, minio.PutObjectOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	stored, err := os.ReadFile(filepath.Join(srv.Dir, bucket, "hq", b.Key))
	if err != nil || string(stored) != "a drawing" {
		t.Errorf("the server's file of the blob = %q, %v", stored, err)
	}
	if keys, err := s.Keys(farFuture); err != nil || len(keys) != 1 || keys[0] != b.Key {
		t.Errorf("Keys = %v, %v; want only %s", keys, err, b.Key)
	}

	// Bytes put under a key by something else, with another hash.
	forged := keyOf([]byte("the genuine bytes"))
	if _, err := srv.Client().PutObject(context.Background(), bucket, "hq/"+forged, strings.NewReader("forged"), 6,
		minio.PutObjectOptions{UserMetadata: map[string]string{metaSHA256: b.Key}}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Open(forged); !errors.Is(err, storage.ErrBlobMismatch) {
		t.Errorf("open of an object recording another hash = %v, want storage.ErrBlobMismatch", err)
	}
}

var farFuture = time.Now().Add(24 * time.Hour)

// countingTransport counts the GET requests to the store and keeps their
// Range headers.
type countingTransport struct {
	mu     sync.Mutex
	ranges []string
}

func (c *countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Method == http.MethodGet && r.URL.RawQuery == "" {
		c.mu.Lock()
		c.ranges = append(c.ranges, r.Header.Get("Range"))
		c.mu.Unlock()
	}
	return http.DefaultTransport.RoundTrip(r)
}

func (c *countingTransport) take() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := c.ranges
	c.ranges = nil
	return out
}

// TestS3ReadWindows: a whole read of a large blob is a few requests of
// growing windows; a short read elsewhere asks for a bounded range.
func TestS3ReadWindows(t *testing.T) {
	srv := s3test.Start(t)
	tr := &countingTransport{}
	s, err := OpenS3(context.Background(), S3Config{Endpoint: srv.Endpoint, Bucket: srv.Bucket(t), Region: s3test.Region,
		AccessKey: srv.AccessKey, SecretKey: Secret(srv.SecretKey), SpoolDir: t.TempDir(), Transport: tr})
	if err != nil {
		t.Fatal(err)
	}
	data := randomBytes(t, 20<<20)
	b, err := s.Put(bytes.NewReader(data), 0)
	if err != nil {
		t.Fatal(err)
	}
	o, err := s.Open(b.Key)
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	tr.take()
	got, err := io.ReadAll(io.NewSectionReader(o, 0, o.Size()))
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("read %d bytes, %v", len(got), err)
	}
	want := []string{"bytes=0-1048575", "bytes=1048576-3145727", "bytes=3145728-7340031", "bytes=7340032-15728639", "bytes=15728640-20971519"}
	if ranges := tr.take(); !slices.Equal(ranges, want) {
		t.Errorf("a whole read asked for %v, want %v", ranges, want)
	}
	chunk := make([]byte, 256<<10)
	if n, err := o.ReadAt(chunk, 5<<20); n != len(chunk) || err != nil || !bytes.Equal(chunk, data[5<<20:5<<20+len(chunk)]) {
		t.Fatalf("chunk read = %d, %v", n, err)
	}
	if ranges := tr.take(); !slices.Equal(ranges, []string{"bytes=5242880-6291455"}) {
		t.Errorf("a chunk read asked for %v", ranges)
	}
}
