package pki

import (
	"crypto/x509"
	"fmt"
	"net/url"
	"os"
	"strings"
)

// Role is what a node certificate lets its holder do in the federation. A
// voter (headquarters) holds the CA key, votes, and may change the
// membership and the leadership; a plant replicates the organisation's
// data and forwards its users' changes to the leader, nothing more. The
// join token fixes the role, the CA writes it into the certificate, and
// the leader checks it on every forwarded request.
type Role string

// The roles.
const (
	RoleVoter Role = "voter"
	RolePlant Role = "plant"
)

// roleScheme and rolePrefix make the URI name a certificate carries its
// role in: siteline:role:voter or siteline:role:plant.
const (
	roleScheme = "siteline"
	rolePrefix = "role:"
)

// ParseRole reads a role's name.
func ParseRole(s string) (Role, error) {
	switch r := Role(s); r {
	case RoleVoter, RolePlant:
		return r, nil
	}
	return "", fmt.Errorf("role %q is not %s or %s", s, RoleVoter, RolePlant)
}

// URI is the certificate name that carries the role.
func (r Role) URI() *url.URL { return &url.URL{Scheme: roleScheme, Opaque: rolePrefix + string(r)} }

// RoleOf is the role a node certificate names; "" when it names none (a
// certificate of one's own PKI, or one issued before roles) or more than
// one.
func RoleOf(cert *x509.Certificate) Role {
	var found Role
	for _, u := range cert.URIs {
		if u.Scheme != roleScheme || !strings.HasPrefix(u.Opaque, rolePrefix) {
			continue
		}
		r, err := ParseRole(strings.TrimPrefix(u.Opaque, rolePrefix))
		if err != nil || (found != "" && found != r) {
			return ""
		}
		found = r
	}
	return found
}

// CertRole is the role named by the PEM certificate in file.
func CertRole(file string) (Role, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return "", fmt.Errorf("read node certificate: %w", err)
	}
	cert, err := ParseCertPEM(data)
	if err != nil {
		return "", fmt.Errorf("read node certificate %s: %w", file, err)
	}
	return RoleOf(cert), nil
}
