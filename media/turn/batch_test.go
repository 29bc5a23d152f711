package turn

import (
	"bytes"
	"net"
	"testing"
)

// TestBatchReaderHandsOutEachDatagram sends more datagrams than a batch
// holds, from two sockets, and reads every one back in order with its
// source, whole or cut to the reader's buffer as a plain read would.
func TestBatchReaderHandsOutEachDatagram(t *testing.T) {
	conn, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	r := newBatchReader(conn, 4, nil)
	if r == nil {
		t.Fatal("no batch reader for a UDP socket")
	}
	var senders []*net.UDPConn
	for range 2 {
		s, err := net.DialUDP("udp4", nil, conn.LocalAddr().(*net.UDPAddr))
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		senders = append(senders, s)
	}
	const count = 10
	for i := range count {
		if _, err := senders[i%2].Write(bytes.Repeat([]byte{byte(i)}, 100+i)); err != nil {
			t.Fatal(err)
		}
	}
	for i := range count {
		p := make([]byte, 105) // the last datagrams are longer: cut
		n, addr, err := r.ReadFrom(p)
		if err != nil {
			t.Fatal(err)
		}
		want := bytes.Repeat([]byte{byte(i)}, min(100+i, len(p)))
		if !bytes.Equal(p[:n], want) {
			t.Fatalf("datagram %d: got %d bytes %x..., want %d bytes of %x", i, n, p[:1], len(want), byte(i))
		}
		if from := addr.String(); from != senders[i%2].LocalAddr().String() {
			t.Fatalf("datagram %d from %s, want %s", i, from, senders[i%2].LocalAddr())
		}
	}
}

// TestBatchReaderOnlyForUDPSockets: other PacketConns are read as they are.
func TestBatchReaderOnlyForUDPSockets(t *testing.T) {
	var pc net.PacketConn = &screenedPacketConn{}
	if newBatchReader(pc, 4, nil) != nil {
		t.Fatal("batch reader for a PacketConn that is not a UDP socket")
	}
}
