package pki

import (
	"testing"
)

// Item 11 of the security review: a node certificate carries the role the
// CA gave it, whatever the request asked for.
func TestCertificateCarriesRole(t *testing.T) {
	ca, err := NewCA("Acme")
	if err != nil {
		t.Fatal(err)
	}
	_, csr, err := NewKey("n1")
	if err != nil {
		t.Fatal(err)
	}
	for _, role := range []Role{RoleVoter, RolePlant} {
		pemCert, err := ca.Sign(csr, "n1", role)
		if err != nil {
			t.Fatalf("sign as %s: %v", role, err)
		}
		cert, err := ParseCertPEM(pemCert)
		if err != nil {
			t.Fatal(err)
		}
		if got := RoleOf(cert); got != role {
			t.Errorf("RoleOf(certificate signed as %s) = %q", role, got)
		}
		if len(cert.URIs) != 1 || cert.URIs[0].String() != "siteline:role:"+string(role) {
			t.Errorf("certificate URIs = %v", cert.URIs)
		}
	}
	if _, err := ca.Sign(csr, "n1", "admin"); err == nil {
		t.Error("signed a certificate for an unknown role")
	}
	// A certificate that names no role (bring-your-own PKI) has none.
	cert, _ := ParseCertPEM(ca.CertPEM)
	if got := RoleOf(cert); got != "" {
		t.Errorf("RoleOf(CA certificate) = %q, want none", got)
	}
}
