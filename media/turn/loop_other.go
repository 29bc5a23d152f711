//go:build !linux

package turn

import (
	"errors"
	"net"
	"net/netip"
	"sync/atomic"
)

// Elsewhere than on Linux the relay has no event loop: pion reads and
// writes every socket itself, and relays every datagram (channel.go's
// bindings are not kept).

type eventLoop struct{}

func newEventLoop() (*eventLoop, error) {
	return nil, errors.New("turn: the relay's event loop needs Linux")
}

func (*eventLoop) adopt(net.PacketConn, passFunc, func(error)) (*loopSocket, error) {
	return nil, errors.New("turn: the relay's event loop needs Linux")
}

func (*eventLoop) adoptConn(*net.TCPConn, func(error), func(*loopConn)) (*loopConn, error) {
	return nil, errors.New("turn: the relay's event loop needs Linux")
}

func (*eventLoop) close() {}

// loopConn is never made here.
type loopConn struct {
	net.Conn
	alloc atomic.Pointer[relayPacketConn]
}

func (*loopConn) queue([]byte) {}

// loopSocket is never made here.
type loopSocket struct {
	net.PacketConn
	family int
}

func (*loopSocket) queue([]byte, *sockaddr) {}

type sockaddr struct{}

func makeSockaddr(netip.AddrPort, int) (sockaddr, bool) { return sockaddr{}, false }
