// Package pki is the federation's own certificate authority: an ECDSA P-256
// CA created by the node that starts a federation, which signs one
// certificate per node when it joins. Nodes talk to each other (Raft and
// the forwarding RPC) over mutual TLS: each side presents its node
// certificate and accepts only certificates signed by the federation's CA.
//
// A certificate names its node in the common name, its role in a URI name
// (siteline:role:voter or siteline:role:plant, see Role) and carries the
// fixed DNS name ServerName; peers check the chain, not the host they
// dialled, so a node's address may change without new certificates.
package pki

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net/url"
	"os"
	"path/filepath"
	"time"
)

// ServerName is the DNS name every node certificate carries and every peer
// checks.
const ServerName = "node.siteline"

// Lifetimes of the CA and of node certificates.
const (
	CALifetime   = 20 * 365 * 24 * time.Hour
	NodeLifetime = 5 * 365 * 24 * time.Hour
)

// File names inside a node's PKI directory.
const (
	CAFile     = "ca.pem"
	CAKeyFile  = "ca-key.pem"
	CertFile   = "node.pem"
	KeyFile    = "node-key.pem"
	dirMode    = 0o700
	secretMode = 0o600
)

// CA is the federation's authority. Key is nil on a node that only holds
// the certificate (plants; bring-your-own PKI).
type CA struct {
	Cert    *x509.Certificate
	CertPEM []byte
	Key     *ecdsa.PrivateKey
}

// NewCA creates a CA for the organisation named org.
func NewCA(org string) (*CA, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("create CA key: %w", err)
	}
	serial, err := serialNumber()
	if err != nil {
		return nil, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "Siteline federation CA", Organization: []string{org}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(CALifetime),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, fmt.Errorf("create CA certificate: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	return &CA{Cert: cert, CertPEM: pemBlock("CERTIFICATE", der), Key: key}, nil
}

// Fingerprint is the SHA-256 of the CA certificate, which join tokens pin.
func (ca *CA) Fingerprint() [32]byte { return sha256.Sum256(ca.Cert.Raw) }

// KeyPEM encodes the CA's private key.
func (ca *CA) KeyPEM() ([]byte, error) {
	if ca.Key == nil {
		return nil, errors.New("CA has no private key here")
	}
	der, err := x509.MarshalECPrivateKey(ca.Key)
	if err != nil {
		return nil, err
	}
	return pemBlock("EC PRIVATE KEY", der), nil
}

// NewKey creates a node key and a certificate request naming nodeID.
func NewKey(nodeID string) (keyPEM, csrPEM []byte, err error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, fmt.Errorf("create node key: %w", err)
	}
	csr, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{
		Subject:  pkix.Name{CommonName: nodeID},
		DNSNames: []string{ServerName},
	}, key)
	if err != nil {
		return nil, nil, fmt.Errorf("create certificate request: %w", err)
	}
	der, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return nil, nil, err
	}
	return pemBlock("EC PRIVATE KEY", der), pemBlock("CERTIFICATE REQUEST", csr), nil
}

// Sign issues a node certificate for the request csrPEM, for nodeID in
// role (the request's own names are ignored: the CA decides what the
// certificate says). It serves both as server and client certificate.
func (ca *CA) Sign(csrPEM []byte, nodeID string, role Role) ([]byte, error) {
	if _, err := ParseRole(string(role)); err != nil {
		return nil, fmt.Errorf("sign node certificate: %w", err)
	}
	if ca.Key == nil {
		return nil, errors.New("sign node certificate: this node does not hold the federation CA's key")
	}
	block, _ := pem.Decode(csrPEM)
	if block == nil || block.Type != "CERTIFICATE REQUEST" {
		return nil, errors.New("sign node certificate: csr is not a PEM certificate request")
	}
	csr, err := x509.ParseCertificateRequest(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("sign node certificate: %w", err)
	}
	if err := csr.CheckSignature(); err != nil {
		return nil, fmt.Errorf("sign node certificate: csr signature: %w", err)
	}
	serial, err := serialNumber()
	if err != nil {
		return nil, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: nodeID, Organization: ca.Cert.Subject.Organization},
		DNSNames:     []string{ServerName},
		URIs:         []*url.URL{role.URI()},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(NodeLifetime),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, csr.PublicKey, ca.Key)
	if err != nil {
		return nil, fmt.Errorf("sign node certificate: %w", err)
	}
	return pemBlock("CERTIFICATE", der), nil
}

// Save writes the CA certificate (and key, when held) into dir.
func (ca *CA) Save(dir string) error {
	if err := os.MkdirAll(dir, dirMode); err != nil {
		return err
	}
	if ca.Key != nil {
		k, err := ca.KeyPEM()
		if err != nil {
			return err
		}
		if err := writeFile(filepath.Join(dir, CAKeyFile), k); err != nil {
			return err
		}
	}
	return writeFile(filepath.Join(dir, CAFile), ca.CertPEM)
}

// LoadCA reads the CA certificate at certFile and, when keyFile exists,
// its key.
func LoadCA(certFile, keyFile string) (*CA, error) {
	certPEM, err := os.ReadFile(certFile)
	if err != nil {
		return nil, fmt.Errorf("read CA certificate: %w", err)
	}
	block, _ := pem.Decode(certPEM)
	if block == nil || block.Type != "CERTIFICATE" {
		return nil, fmt.Errorf("read CA certificate %s: not a PEM certificate", certFile)
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("read CA certificate %s: %w", certFile, err)
	}
	ca := &CA{Cert: cert, CertPEM: certPEM}
	if keyFile == "" {
		return ca, nil
	}
	keyPEM, err := os.ReadFile(keyFile)
	if errors.Is(err, os.ErrNotExist) {
		return ca, nil
	} else if err != nil {
		return nil, fmt.Errorf("read CA key: %w", err)
	}
	kb, _ := pem.Decode(keyPEM)
	if kb == nil {
		return nil, fmt.Errorf("read CA key %s: not PEM", keyFile)
	}
	if ca.Key, err = x509.ParseECPrivateKey(kb.Bytes); err != nil {
		return nil, fmt.Errorf("read CA key %s: %w", keyFile, err)
	}
	return ca, nil
}

// ParseCertPEM decodes one PEM certificate.
func ParseCertPEM(data []byte) (*x509.Certificate, error) {
	block, _ := pem.Decode(data)
	if block == nil || block.Type != "CERTIFICATE" {
		return nil, errors.New("not a PEM certificate")
	}
	return x509.ParseCertificate(block.Bytes)
}

// Files names the three files a node's mutual TLS needs.
type Files struct {
	CA, Cert, Key string
}

// InDir is the default layout inside a node's PKI directory.
func InDir(dir string) Files {
	return Files{CA: filepath.Join(dir, CAFile), Cert: filepath.Join(dir, CertFile), Key: filepath.Join(dir, KeyFile)}
}

// Exists reports whether all three files are present.
func (f Files) Exists() bool {
	for _, p := range []string{f.CA, f.Cert, f.Key} {
		if _, err := os.Stat(p); err != nil {
			return false
		}
	}
	return true
}

// WriteNode writes a node's CA certificate, certificate and key.
func (f Files) WriteNode(caPEM, certPEM, keyPEM []byte) error {
	if err := os.MkdirAll(filepath.Dir(f.Key), dirMode); err != nil {
		return err
	}
	for _, w := range []struct {
		path string
		data []byte
	}{{f.Key, keyPEM}, {f.Cert, certPEM}, {f.CA, caPEM}} {
		if err := writeFile(w.path, w.data); err != nil {
			return err
		}
	}
	return nil
}

// TLSConfig builds the mutual TLS configuration of a node from its files:
// it presents its certificate, and accepts as client or server only
// certificates signed by the CA.
func (f Files) TLSConfig() (*tls.Config, error) {
	pair, err := tls.LoadX509KeyPair(f.Cert, f.Key)
	if err != nil {
		return nil, fmt.Errorf("load node certificate %s: %w", f.Cert, err)
	}
	caPEM, err := os.ReadFile(f.CA)
	if err != nil {
		return nil, fmt.Errorf("read CA certificate: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {
		return nil, fmt.Errorf("read CA certificate %s: no certificate found", f.CA)
	}
	return &tls.Config{
		MinVersion:   tls.VersionTLS13,
		Certificates: []tls.Certificate{pair},
		RootCAs:      pool,
		ClientCAs:    pool,
		ClientAuth:   tls.RequireAndVerifyClientCert,
		ServerName:   ServerName,
	}, nil
}

func serialNumber() (*big.Int, error) {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, fmt.Errorf("certificate serial number: %w", err)
	}
	return n, nil
}

func pemBlock(typ string, der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der})
}

// writeFile writes data readable by its owner only, atomically.
func writeFile(path string, data []byte) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, secretMode); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
