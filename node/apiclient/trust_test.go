package apiclient

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// A node's self-signed certificate: unpinned, the call fails naming its
// fingerprint; pinned by that fingerprint (in any of the spellings
// operators copy), it succeeds; pinned by another, it fails.
func TestRemoteTrustsAPinnedSelfSignedCertificate(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(`{"version":"test"}`))
	}))
	defer srv.Close()
	want := Fingerprint(srv.Certificate().Raw)
	call := func(tr Trust) error {
		cl, err := Remote(srv.URL, "", tr)
		if err != nil {
			return err
		}
		return cl.Do(context.Background(), "GET", "/version", nil, nil)
	}

	err := call(Trust{})
	var ue *UntrustedCertError
	if !errors.As(err, &ue) || ue.Fingerprint != want || !strings.Contains(err.Error(), want) {
		t.Fatalf("unpinned call: %v; want an UntrustedCertError naming %s", err, want)
	}

	colons := strings.ToUpper(strings.TrimPrefix(want, "sha256:"))
	var pairs []string
	for i := 0; i < len(colons); i += 2 {
		pairs = append(pairs, colons[i:i+2])
	}
	for _, pin := range []string{want, strings.TrimPrefix(want, "sha256:"), "SHA256:" + strings.Join(pairs, ":")} {
		if err := call(Trust{Fingerprint: pin}); err != nil {
			t.Errorf("pinned by %s: %v", pin, err)
		}
	}

	other := "sha256:" + strings.Repeat("ab", 32)
	err = call(Trust{Fingerprint: other})
	var mismatch *FingerprintMismatchError
	if !errors.As(err, &mismatch) || mismatch.Got != want || mismatch.Want != other {
		t.Errorf("pinned by another fingerprint: %v; want a mismatch naming both", err)
	}
	if err := call(Trust{Insecure: true}); err != nil {
		t.Errorf("insecure: %v", err)
	}
	if err := call(Trust{Fingerprint: "sha256:12"}); err == nil || !strings.Contains(err.Error(), "64 hex digits") {
		t.Errorf("a short fingerprint: %v", err)
	}
}
