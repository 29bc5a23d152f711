package node

import (
	"bytes"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
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
