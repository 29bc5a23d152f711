package raft

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"

	hraft "github.com/hashicorp/raft"
)

// The Raft transport and the forwarding RPC share one listener. After the
// TLS handshake the dialling side sends one byte that says which of the two
// the connection is for; the listener hands Raft's connections to Raft's
// NetworkTransport and serves the others itself. One port to open between
// sites, one certificate check for both.
const (
	muxRaft byte = 'R'
	muxRPC  byte = 'F'
)

// handshakeTimeout bounds the TLS handshake and the mux byte of an
// accepted connection, so a silent peer cannot hold an accept slot.
const handshakeTimeout = 10 * time.Second

// DialFunc opens a TCP connection to addr. Tests pass one that goes
// through a proxy they can cut.
type DialFunc func(ctx context.Context, addr string) (net.Conn, error)

// streamLayer implements hraft.StreamLayer over a TCP listener, with mutual
// TLS when tlsConf is set, demultiplexing Raft from RPC connections.
type streamLayer struct {
	ln        net.Listener
	advertise net.Addr
	tlsConf   *tls.Config // nil: plain TCP (a standalone node on loopback)
	dial      DialFunc
	onRPC     func(net.Conn)

	raftConns chan net.Conn
	done      chan struct{}
	closeOnce sync.Once
	wg        sync.WaitGroup
}

var _ hraft.StreamLayer = (*streamLayer)(nil)

func newStreamLayer(ln net.Listener, advertise net.Addr, tlsConf *tls.Config, dial DialFunc, onRPC func(net.Conn)) *streamLayer {
	if dial == nil {
		dial = func(ctx context.Context, addr string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "tcp", addr)
		}
	}
	s := &streamLayer{
		ln: ln, advertise: advertise, tlsConf: tlsConf, dial: dial, onRPC: onRPC,
		raftConns: make(chan net.Conn), done: make(chan struct{}),
	}
	s.wg.Add(1)
	go s.acceptLoop()
	return s
}

func (s *streamLayer) acceptLoop() {
	defer s.wg.Done()
	for {
		c, err := s.ln.Accept()
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			return // closed
		}
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			s.route(c)
		}()
	}
}

// route finishes the handshake of an accepted connection and hands it on.
func (s *streamLayer) route(c net.Conn) {
	_ = c.SetDeadline(time.Now().Add(handshakeTimeout))
	if s.tlsConf != nil {
		tc := tls.Server(c, s.tlsConf)
		if err := tc.Handshake(); err != nil {
			c.Close()
			return
		}
		c = tc
	}
	var b [1]byte
	if _, err := io.ReadFull(c, b[:]); err != nil {
		c.Close()
		return
	}
	_ = c.SetDeadline(time.Time{})
	switch b[0] {
	case muxRaft:
		select {
		case s.raftConns <- c:
		case <-s.done:
			c.Close()
		}
	case muxRPC:
		if s.onRPC == nil {
			c.Close()
			return
		}
		s.onRPC(c)
	default:
		c.Close()
	}
}

// Accept implements net.Listener for Raft: the next Raft connection.
func (s *streamLayer) Accept() (net.Conn, error) {
	select {
	case c := <-s.raftConns:
		return c, nil
	case <-s.done:
		return nil, net.ErrClosed
	}
}

// Close implements net.Listener.
func (s *streamLayer) Close() error {
	var err error
	s.closeOnce.Do(func() {
		close(s.done)
		err = s.ln.Close()
	})
	return err
}

// Addr implements net.Listener: the advertised address.
func (s *streamLayer) Addr() net.Addr {
	if s.advertise != nil {
		return s.advertise
	}
	return s.ln.Addr()
}

// Dial implements hraft.StreamLayer.
func (s *streamLayer) Dial(address hraft.ServerAddress, timeout time.Duration) (net.Conn, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	return s.open(ctx, string(address), muxRaft)
}

// open dials addr, does the TLS handshake and sends the mux byte.
func (s *streamLayer) open(ctx context.Context, addr string, kind byte) (net.Conn, error) {
	c, err := s.dial(ctx, addr)
	if err != nil {
		return nil, err
	}
	if dl, ok := ctx.Deadline(); ok {
		_ = c.SetDeadline(dl)
	}
	if s.tlsConf != nil {
		tc := tls.Client(c, s.tlsConf)
		if err := tc.HandshakeContext(ctx); err != nil {
			c.Close()
			return nil, fmt.Errorf("tls handshake with %s: %w", addr, err)
		}
		c = tc
	}
	if _, err := c.Write([]byte{kind}); err != nil {
		c.Close()
		return nil, err
	}
	_ = c.SetDeadline(time.Time{})
	return c, nil
}
