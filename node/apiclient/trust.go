package apiclient

import (
	"bytes"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
)

// Trust says which HTTPS certificate a remote node may present beyond
// those signed by an authority this machine trusts.
type Trust struct {
	// Fingerprint pins the server's certificate by its SHA-256 fingerprint
	// ("sha256:" and 64 hex digits; colons and case do not matter): that
	// certificate is accepted, self-signed or not, and no other.
	Fingerprint string
	// Insecure accepts any certificate. A pinned fingerprint is better.
	Insecure bool
}

// Fingerprint is the SHA-256 fingerprint of a DER certificate as Trust
// takes it: "sha256:" and 64 lower-case hex digits.
func Fingerprint(der []byte) string {
	sum := sha256.Sum256(der)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// ParseFingerprint reads a SHA-256 fingerprint: "sha256:" (optional) and
// 64 hex digits, which may be separated by colons as openssl prints them.
func ParseFingerprint(s string) ([]byte, error) {
	h := strings.ToLower(strings.TrimSpace(s))
	h = strings.TrimPrefix(h, "sha256:")
	h = strings.ReplaceAll(h, ":", "")
	b, err := hex.DecodeString(h)
	if err != nil || len(b) != sha256.Size {
		return nil, fmt.Errorf("fingerprint %q: want sha256: and 64 hex digits", s)
	}
	return b, nil
}

// tlsConfig is the client TLS configuration that trusts what t says.
func (t Trust) tlsConfig() (*tls.Config, error) {
	if t.Fingerprint == "" {
		return &tls.Config{InsecureSkipVerify: t.Insecure}, nil //nolint:gosec // the operator asked for it
	}
	pin, err := ParseFingerprint(t.Fingerprint)
	if err != nil {
		return nil, err
	}
	return &tls.Config{
		// The chain and name are replaced by the pin: the certificate is
		// the one the operator named, or none.
		InsecureSkipVerify: true, //nolint:gosec // verified by VerifyPeerCertificate
		VerifyPeerCertificate: func(raw [][]byte, _ [][]*x509.Certificate) error {
			if len(raw) == 0 {
				return errors.New("the server presented no certificate")
			}
			if sum := sha256.Sum256(raw[0]); !bytes.Equal(sum[:], pin) {
				return &FingerprintMismatchError{Got: Fingerprint(raw[0]), Want: "sha256:" + hex.EncodeToString(pin)}
			}
			return nil
		},
	}, nil
}

// UntrustedCertError is a server whose HTTPS certificate no authority this
// machine trusts has signed (a node's self-signed one, say), with the
// fingerprint to pin it by once the operator has checked it.
type UntrustedCertError struct {
	URL         string
	Fingerprint string
	Err         error // the TLS verification's error
}

func (e *UntrustedCertError) Error() string {
	return fmt.Sprintf("the HTTPS certificate of %s is not signed by an authority this machine trusts (%v); its SHA-256 fingerprint is %s",
		e.URL, e.Err, e.Fingerprint)
}

func (e *UntrustedCertError) Unwrap() error { return e.Err }

// FingerprintMismatchError is a server whose certificate is not the one
// pinned.
type FingerprintMismatchError struct{ Got, Want string }

func (e *FingerprintMismatchError) Error() string {
	return fmt.Sprintf("the server's HTTPS certificate has the fingerprint %s, not the pinned %s", e.Got, e.Want)
}

// untrusted turns a failed certificate check into an UntrustedCertError
// that names the certificate's fingerprint; other errors come back as
// they are.
func untrusted(url string, err error) error {
	var cve *tls.CertificateVerificationError
	if !errors.As(err, &cve) || len(cve.UnverifiedCertificates) == 0 {
		return err
	}
	var mismatch *FingerprintMismatchError
	if errors.As(err, &mismatch) {
		return err
	}
	return &UntrustedCertError{URL: url, Fingerprint: Fingerprint(cve.UnverifiedCertificates[0].Raw), Err: cve.Err}
}
