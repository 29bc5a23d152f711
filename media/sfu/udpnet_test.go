package sfu

import (
	"net"
	"testing"
	"time"

	"github.com/pion/ice/v4"
)

// TestPortMuxWritesThroughBatchedSockets: the mux pion opens on a port
// (a socket per local address) writes through udpbatch.Conns: datagrams
// written to a peer during a Hold of the group leave with one sendmmsg
// at its Release, and all arrive.
func TestPortMuxWritesThroughBatchedSockets(t *testing.T) {
	mux, bn, err := listenUDPPort(0,
		ice.UDPMuxFromPortWithLoopback(),
		ice.UDPMuxFromPortWithNetworks(ice.NetworkTypeUDP4),
		ice.UDPMuxFromPortWithIPFilter(func(ip net.IP) bool { return ip.Equal(net.IPv4(127, 0, 0, 1)) }))
	if err != nil {
		t.Fatal(err)
	}
	defer mux.Close()
	g := bn.group()
	if len(g) != 1 {
		t.Fatalf("the mux opened %d batched sockets on 127.0.0.1, want 1", len(g))
	}
	peer, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer peer.Close()
	conn, err := mux.GetConn("ufrag", g[0].LocalAddr())
	if err != nil {
		t.Fatal(err)
	}
	g.Hold()
	for i := range 3 {
		if _, err := conn.WriteTo([]byte{byte(i)}, peer.LocalAddr()); err != nil {
			t.Fatal(err)
		}
	}
	g.Release()
	buf := make([]byte, 16)
	for i := range 3 {
		if err := peer.SetReadDeadline(time.Now().Add(5 * time.Second)); err != nil {
			t.Fatal(err)
		}
		n, _, err := peer.ReadFrom(buf)
		if err != nil || n != 1 || buf[0] != byte(i) {
			t.Fatalf("datagram %d: got %v (%d bytes), %v", i, buf[:n], n, err)
		}
	}
	if calls, sent := g.Batches(); calls != 1 || sent != 3 {
		t.Errorf("the held writes left in %d sendmmsg calls with %d datagrams, want 1 with 3", calls, sent)
	}
}
