package sfu

import (
	"net"
	"net/netip"
	"sync"

	"github.com/pion/ice/v4"
	"github.com/pion/transport/v5"
	"github.com/pion/transport/v5/stdnet"

	"siteline/media/internal/udpbatch"
)

// batchNet is the network pion's ICE mux opens its UDP sockets on when
// the SFU is given a port rather than a socket: one socket per local
// address, each wrapped in a udpbatch.Conn, so the subscribers of a track
// are sent to with sendmmsg whatever address they reached.
type batchNet struct {
	transport.Net

	mu    sync.Mutex
	conns udpbatch.Group
}

// ListenUDP opens the socket and wraps it.
func (n *batchNet) ListenUDP(network string, laddr *net.UDPAddr) (transport.UDPConn, error) {
	conn, err := n.Net.ListenUDP(network, laddr)
	if err != nil {
		return nil, err
	}
	uc, ok := conn.(*net.UDPConn)
	if !ok {
		return conn, nil
	}
	bc, ok := udpbatch.New(uc).(*udpbatch.Conn)
	if !ok {
		return conn, nil // no sendmmsg here
	}
	n.mu.Lock()
	n.conns = append(n.conns, bc)
	n.mu.Unlock()
	return batchedUDP{UDPConn: conn, b: bc}, nil
}

// group is the sockets opened so far.
func (n *batchNet) group() udpbatch.Group {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.conns
}

// batchedUDP is a socket whose writes the mux makes (WriteTo and
// WriteToAddrPort, ice.AddrPortReaderWriter) go through its
// udpbatch.Conn; the rest reach the socket itself.
type batchedUDP struct {
	transport.UDPConn
	b *udpbatch.Conn
}

func (c batchedUDP) WriteTo(p []byte, addr net.Addr) (int, error) { return c.b.WriteTo(p, addr) }

func (c batchedUDP) WriteToAddrPort(p []byte, addr netip.AddrPort) (int, error) {
	return c.b.WriteToAddrPort(p, addr)
}

func (c batchedUDP) ReadFromAddrPort(p []byte) (int, netip.AddrPort, error) {
	return c.b.ReadFromAddrPort(p)
}

// listenUDPPort opens pion's multi-address ICE mux on port, its sockets
// batched (batchNet).
func listenUDPPort(port int, opts ...ice.UDPMuxFromPortOption) (*ice.MultiUDPMuxDefault, *batchNet, error) {
	std, err := stdnet.NewNet()
	if err != nil {
		return nil, nil, err
	}
	bn := &batchNet{Net: std}
	mux, err := ice.NewMultiUDPMuxFromPort(port, append(opts, ice.UDPMuxFromPortWithNet(bn))...)
	if err != nil {
		return nil, nil, err
	}
	return mux, bn, nil
}
