package pki

import (
	"crypto/tls"
	"net"
	"path/filepath"
	"testing"
)

func nodeFiles(t *testing.T, ca *CA, id string) Files {
	t.Helper()
	f := InDir(filepath.Join(t.TempDir(), id))
	key, csr, err := NewKey(id)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := ca.Sign(csr, id, RolePlant)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.WriteNode(ca.CertPEM, cert, key); err != nil {
		t.Fatal(err)
	}
	return f
}

// handshake runs a mutual TLS handshake between a server and a client
// configured from files and returns the client's error.
func handshake(t *testing.T, server, client Files) error {
	t.Helper()
	sc, err := server.TLSConfig()
	if err != nil {
		t.Fatal(err)
	}
	cc, err := client.TLSConfig()
	if err != nil {
		t.Fatal(err)
	}
	ln, err := tls.Listen("tcp", "127.0.0.1:0", sc)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err == nil {
			_ = c.(*tls.Conn).Handshake()
			c.Close()
		}
	}()
	c, err := tls.Dial("tcp", ln.Addr().String(), cc)
	if err != nil {
		return err
	}
	defer c.Close()
	// TLS 1.3: the server's verdict on the client certificate arrives with
	// the first read.
	_, err = c.Read(make([]byte, 1))
	if ne, ok := err.(net.Error); ok && ne.Timeout() {
		return nil
	}
	if err != nil && err.Error() == "EOF" {
		return nil
	}
	return err
}

func TestMutualTLSAcceptsOnlyTheFederationCA(t *testing.T) {
	ca, err := NewCA("Acme")
	if err != nil {
		t.Fatal(err)
	}
	other, err := NewCA("Intruder")
	if err != nil {
		t.Fatal(err)
	}
	a, b, stranger := nodeFiles(t, ca, "a"), nodeFiles(t, ca, "b"), nodeFiles(t, other, "x")
	if err := handshake(t, a, b); err != nil {
		t.Errorf("two nodes of one federation: %v", err)
	}
	if err := handshake(t, a, stranger); err == nil {
		t.Error("a node of another CA was accepted as client")
	}
	if err := handshake(t, stranger, a); err == nil {
		t.Error("a server of another CA was trusted")
	}
	if _, err := (&CA{Cert: ca.Cert, CertPEM: ca.CertPEM}).Sign(nil, "z", RolePlant); err == nil {
		t.Error("a CA without its key signed")
	}
}
