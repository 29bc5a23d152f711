// Package udpbatch sends datagrams with fewer system calls: several with
// one sendmmsg (golang.org/x/net/ipv4's WriteBatch) where a single sendto
// per datagram was made.
package udpbatch

import (
	"net"
	"runtime"

	"golang.org/x/net/ipv4"
)

// Batcher sends several datagrams with one system call, as
// ipv4.PacketConn's WriteBatch does: it returns how many it sent (-1 or 0
// with the error of the first when none was) and is called again for the
// rest.
type Batcher interface {
	WriteBatch(ms []ipv4.Message, flags int) (int, error)
}

// NewBatcher returns conn's sendmmsg, or nil when conn is not a UDP socket
// or the system has no sendmmsg (x/net then sends one datagram per call,
// which gains nothing). ipv4's WriteBatch writes an IPv4 address (IPv4-mapped
// ones included) as an AF_INET socket address, which Linux accepts on a
// dual-stack IPv6 socket too, and an IPv6 one as AF_INET6.
func NewBatcher(conn net.PacketConn) Batcher {
	uc, ok := conn.(*net.UDPConn)
	if !ok || runtime.GOOS != "linux" {
		return nil
	}
	return ipv4.NewPacketConn(uc)
}

// WriteAll sends msgs in order with b, calling it again for the rest when
// it sent fewer than it was given. A datagram the system refuses is
// dropped and passed to drop with the error, and the ones after it are
// sent. It returns how many datagrams were sent.
func WriteAll(b Batcher, msgs []ipv4.Message, drop func(error)) int {
	sent := 0
	for len(msgs) > 0 {
		n, err := b.WriteBatch(msgs, 0)
		n = max(n, 0) // sendmmsg's -1 when the first one failed
		sent += n
		msgs = msgs[n:]
		if len(msgs) > 0 && (err != nil || n == 0) {
			drop(err)
			msgs = msgs[1:]
		}
	}
	return sent
}
