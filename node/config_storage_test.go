package node

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"siteline/internal/testutil"
	"siteline/storage/blob"
)

// TestMediaStoreConfig: storage.media names the key at fault; its secret
// key, from the file or the environment, reaches the store but never a
// log line, a printed config or the config file the node writes out.
func TestMediaStoreConfig(t *testing.T) {
	for _, c := range []struct{ name, yaml, want string }{
		{"bad driver", "storage:\n  media:\n    driver: tape\n", "storage.media.driver"},
		{"no endpoint", "storage:\n  media:\n    driver: s3\n    bucket: b\n", "storage.media.endpoint"},
		{"url endpoint", "storage:\n  media:\n    driver: s3\n    endpoint: https://s3.example\n    bucket: b\n", "storage.media.endpoint"},
		{"no bucket", "storage:\n  media:\n    driver: s3\n    endpoint: s3.example\n", "storage.media.bucket"},
		{"half the keys", "storage:\n  media:\n    driver: s3\n    endpoint: s3.example:9000\n    bucket: b\n    access_key: a\n", "storage.media.secret_key"},
		{"s3 keys on fs", "storage:\n  media:\n    bucket: b\n", "storage.media.driver"},
	} {
		t.Run(c.name, func(t *testing.T) {
			file := filepath.Join(t.TempDir(), "c.yaml")
			os.WriteFile(file, []byte(c.yaml), 0o600)
			_, err := LoadConfig(file, nil, nil)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("error = %v, want one naming %q", err, c.want)
			}
		})
	}

	const secret = "s3cr3t-FROM-the-environment-42"
	dir := t.TempDir()
	file := filepath.Join(dir, "c.yaml")
	os.WriteFile(file, []byte("storage:\n  media:\n    driver: s3\n    endpoint: 127.0.0.1:9000\n    bucket: media\n    access_key: plant7\n    use_ssl: false\n"), 0o600)
	cfg, err := LoadConfig(file, []string{"SITELINE_STORAGE_MEDIA_SECRET_KEY=" + secret, "SITELINE_DATA_DIR=" + filepath.Join(dir, "data")}, nil)
	if err != nil {
		t.Fatal(err)
	}
	m := cfg.Storage.Media
	if string(m.SecretKey) != secret || m.AccessKey != "plant7" || m.UseSSL {
		t.Fatalf("storage.media = %+v", m)
	}
	var logged bytes.Buffer
	slog.New(slog.NewTextHandler(&logged, nil)).Info("config", "storage", cfg.Storage, "config", cfg)
	if err := WriteConfigFile(cfg); err != nil {
		t.Fatal(err)
	}
	written, err := os.ReadFile(filepath.Join(cfg.DataDir, ConfigFile))
	if err != nil {
		t.Fatal(err)
	}
	for name, shown := range map[string]string{
		"%+v": fmt.Sprintf("%+v", cfg), "%#v": fmt.Sprintf("%#v", cfg.Storage), "log": logged.String(), "file": string(written),
	} {
		if strings.Contains(shown, secret) {
			t.Errorf("%s shows the secret key", name)
		}
		if !strings.Contains(shown, "plant7") {
			t.Errorf("%s lost the access key: %s", name, shown)
		}
	}
}

// TestHistoryStoreConfig: storage.history names the key at fault; its DSN,
// from the file or the environment, reaches the node but never a log
// line, a printed config or the config file the node writes out.
func TestHistoryStoreConfig(t *testing.T) {
	for _, c := range []struct{ name, yaml, want string }{
		{"bad driver", "storage:\n  history:\n    driver: mysql\n", "storage.history.driver"},
		{"no dsn", "storage:\n  history:\n    driver: postgres\n", "storage.history.dsn"},
		{"dsn on sqlite", "storage:\n  history:\n    dsn: postgres://h/db\n", "storage.history.dsn"},
		{"no connections", "storage:\n  history:\n    driver: postgres\n    dsn: postgres://h/db\n    max_conns: 0\n", "storage.history.max_conns"},
		{"tiny timeout", "storage:\n  history:\n    driver: postgres\n    dsn: postgres://h/db\n    statement_timeout: 1ms\n", "storage.history.statement_timeout"},
	} {
		t.Run(c.name, func(t *testing.T) {
			file := filepath.Join(t.TempDir(), "c.yaml")
			os.WriteFile(file, []byte(c.yaml), 0o600)
			_, err := LoadConfig(file, nil, nil)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("error = %v, want one naming %q", err, c.want)
			}
		})
	}

	const password = "pg-PASSWORD-from-the-environment-7"
	dsn := "postgres://siteline:" + password + "@127.0.0.1:5432/history"
	dir := t.TempDir()
	file := filepath.Join(dir, "c.yaml")
	os.WriteFile(file, []byte("storage:\n  history:\n    driver: postgres\n"), 0o600)
	cfg, err := LoadConfig(file, []string{"SITELINE_STORAGE_HISTORY_DSN=" + dsn, "SITELINE_DATA_DIR=" + filepath.Join(dir, "data")}, nil)
	if err != nil {
		t.Fatal(err)
	}
	h := cfg.Storage.History
	if string(h.DSN) != dsn || h.MaxConns != 10 || h.StatementTimeout != 30*time.Second {
		t.Fatalf("storage.history = %+v", h)
	}
	var logged bytes.Buffer
	slog.New(slog.NewTextHandler(&logged, nil)).Info("config", "storage", cfg.Storage, "config", cfg)
	if err := WriteConfigFile(cfg); err != nil {
		t.Fatal(err)
	}
	written, err := os.ReadFile(filepath.Join(cfg.DataDir, ConfigFile))
	if err != nil {
		t.Fatal(err)
	}
	for name, shown := range map[string]string{
		"%+v": fmt.Sprintf("%+v", cfg), "%#v": fmt.Sprintf("%#v", cfg.Storage), "log": logged.String(), "file": string(written),
	} {
		if strings.Contains(shown, password) {
			t.Errorf("%s shows the database password", name)
		}
	}
}

// TestHistoryDatabaseUnreachable: a node whose history database does not
// answer stops at start with an error naming the server, not its
// password.
func TestHistoryDatabaseUnreachable(t *testing.T) {
	testutil.System(t)
	cfg := testConfig(t, shortTempDir(t))
	port := freeAddr(t, "127.0.0.1") // nothing listens there
	cfg.Storage.History = HistoryStoreConfig{Driver: historyDriverPostgres, DSN: blob.Secret("postgres://siteline:hunter2-secret@" + port + "/history?connect_timeout=2"),
		MaxConns: 2, StatementTimeout: time.Second}
	n, err := New(cfg, cheapHashes(Options{LogOutput: testutil.NewLog(t)}))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	err = n.Start(ctx)
	if err == nil {
		n.Shutdown(ctx)
		t.Fatal("the node started without its history database")
	}
	if !strings.Contains(err.Error(), "storage.history") || !strings.Contains(err.Error(), port) || strings.Contains(err.Error(), "hunter2") {
		t.Errorf("start = %v; want an error naming storage.history and %s, without the password", err, port)
	}
}
