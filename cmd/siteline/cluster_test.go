package main

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"siteline/node/apiclient"
)

func TestUntrustedCertificateSaysHowToTrustIt(t *testing.T) {
	fp := "sha256:" + strings.Repeat("ab", 32)
	err := fmt.Errorf("join federation at https://hq:8443: %w", &apiclient.UntrustedCertError{URL: "https://hq:8443", Fingerprint: fp, Err: errors.New("x509: certificate signed by unknown authority")})
	msg := trustAdvice(err).Error()
	for _, want := range []string{"its SHA-256 fingerprint is " + fp, "-fingerprint " + fp, "siteline cluster token", "-insecure"} {
		if !strings.Contains(msg, want) {
			t.Errorf("advice lacks %q:\n%s", want, msg)
		}
	}
	other := errors.New("connection refused")
	if got := trustAdvice(other); got != other {
		t.Errorf("another error became %v", got)
	}
}

func TestTokenPrintsAJoinCommandThatPinsTheCertificate(t *testing.T) {
	fp := "sha256:" + strings.Repeat("cd", 32)
	got := joinCommand(apiclient.JoinToken{Token: "T", Role: "voter", Server: "https://hq:8443", Fingerprint: fp})
	if want := "siteline cluster join -server https://hq:8443 -token T -voter -fingerprint " + fp; got != want {
		t.Errorf("join command = %q, want %q", got, want)
	}
	if got := joinCommand(apiclient.JoinToken{Token: "T", Role: "plant", Server: "https://hq.example"}); strings.Contains(got, "-fingerprint") || strings.Contains(got, "-voter") {
		t.Errorf("join command for a plant behind a trusted certificate = %q", got)
	}
}
