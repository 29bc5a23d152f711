package node

import (
	"context"
	"crypto/tls"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"siteline/internal/testutil"
	"siteline/node/apiclient"
)

// A headquarters node serving HTTPS with its self-signed certificate: a
// node joining without pinning it is refused with the certificate's
// fingerprint, which the minted token carries too; pinned by a wrong
// fingerprint it is refused; pinned by the right one it joins.
func TestJoinPinsTheSelfSignedCertificate(t *testing.T) {
	cfg := testConfig(t, shortTempDir(t))
	cfg.HTTP.TLS = "auto"
	cfg.Raft.Listen = freeAddr(t, "127.0.0.1")
	cfg.Raft.Advertise = cfg.Raft.Listen
	hq := startNodeAsIs(t, cfg, Options{})
	if !strings.HasPrefix(hq.url, "https://") {
		t.Fatalf("hq serves at %s, want https", hq.url)
	}
	pair, err := tls.LoadX509KeyPair(filepath.Join(cfg.DataDir, "tls", "cert.pem"), filepath.Join(cfg.DataDir, "tls", "key.pem"))
	if err != nil {
		t.Fatal(err)
	}
	want := apiclient.Fingerprint(pair.Certificate[0])

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var tok apiclient.JoinToken
	if err := apiclient.Socket(hq.n.AdminSocket()).Do(ctx, "POST", "/cluster/tokens", map[string]string{"ttl": "10m"}, &tok); err != nil {
		t.Fatal(err)
	}
	if tok.Fingerprint != want {
		t.Errorf("token's fingerprint = %q, want %q", tok.Fingerprint, want)
	}

	join := func(fingerprint string) error {
		t.Helper()
		pc := testConfig(t, shortTempDir(t))
		pc.Raft.Listen = "127.0.0.12:0"
		pc.Node.Site = "Plant 1"
		n, err := New(pc, cheapHashes(Options{LogOutput: testutil.NewLog(t),
			Join: &JoinOptions{Server: hq.url, Token: tok.Token, Fingerprint: fingerprint}}))
		if err != nil {
			t.Fatal(err)
		}
		if err := n.Start(ctx); err != nil {
			return err
		}
		t.Cleanup(func() {
			stop, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			_ = n.Shutdown(stop)
		})
		if _, err := os.Stat(filepath.Join(pc.DataDir, InitialPasswordFile)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("the joined node made an organisation of its own: %v", err)
		}
		return nil
	}

	err = join("")
	var ue *apiclient.UntrustedCertError
	if !errors.As(err, &ue) || ue.Fingerprint != want || !strings.Contains(err.Error(), want) {
		t.Fatalf("join without a pin: %v; want an untrusted certificate naming %s", err, want)
	}
	var mismatch *apiclient.FingerprintMismatchError
	if err := join("sha256:" + strings.Repeat("0", 64)); !errors.As(err, &mismatch) {
		t.Fatalf("join with a wrong pin: %v; want a fingerprint mismatch", err)
	}
	if err := join(want); err != nil {
		t.Fatalf("join with the certificate's fingerprint: %v", err)
	}
}
