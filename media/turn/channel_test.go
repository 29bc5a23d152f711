//go:build linux

package turn

import (
	"bytes"
	"encoding/binary"
	"net"
	"net/netip"
	"testing"
	"time"

	"siteline/internal/testutil"
)

// relayOf returns the relay socket of user's allocation on ts that the
// event loop reads (a client's over UDP or over TCP).
func relayOf(t *testing.T, ts *testServer, user string) *relayPacketConn {
	t.Helper()
	for _, sock := range ts.quotas.sockets(func(g Grant) bool { return g.User == user }) {
		if c, ok := sock.(*relayPacketConn); ok && c.sock != nil {
			return c
		}
	}
	t.Fatalf("no relay socket of %s in the event loop", user)
	return nil
}

// bound reports whether c's copy of the bindings has number, bound to
// peer when peer is valid.
func (c *relayPacketConn) bound(number uint16, peer netip.AddrPort) bool {
	tab := c.chans.Load()
	if tab == nil || tab.byNumber[number] == nil {
		return false
	}
	return !peer.IsValid() || tab.byPeer[peer] == tab.byNumber[number]
}

// TestChannelDataPastPion: once pion's client has bound a channel to the
// echo peer, datagrams of every length up to pion's buffer, padded or
// not, go to the peer and back whole, and each one of them took the
// relay's own ChannelData path both ways, not pion's: for a client over
// UDP and for one over TCP, whose ChannelData is padded and framed in the
// stream (RFC 8656 §12.5).
func TestChannelDataPastPion(t *testing.T) {
	peer := newEchoPeer(t)
	ts := startServer(t, func(c *Config) {
		c.ListenTLS, c.TLSConfig = "", nil
		c.AllowedPeerAddrs = []netip.AddrPort{peer.addr}
	})
	for _, transport := range []string{"udp", "tcp"} {
		t.Run(transport, func(t *testing.T) {
			user := "cam-" + transport
			relay := ts.dialUser(t, transport, user).allocate(t)
			to := udpAddr(peer.addr)
			roundTrip(t, relay, to, []byte{0xff}) // pion's client binds a channel after its first datagram
			waitBound(t, ts, user, relay, peer.addr)
			sock := relayOf(t, ts, user)

			peerBefore, clientBefore := sock.directCounts()
			sizes := []int{1, 3, 4, 5, 6, 7, 100, 1199, 1200, pionMTU - chanHeader}
			for i, size := range sizes {
				payload := bytes.Repeat([]byte{byte(i + 1)}, size)
				copy(payload, []byte{byte(size >> 8), byte(size)})
				if got := roundTrip(t, relay, to, payload); !bytes.Equal(got, payload) {
					t.Fatalf("size %d: came back as %d bytes %x…", size, len(got), got[:min(len(got), 8)])
				}
			}
			toPeer, toClient := sock.directCounts()
			if toPeer-peerBefore < len(sizes) || toClient-clientBefore < len(sizes) {
				t.Fatalf("past pion: %d to the peer, %d to the client; want at least %d each", toPeer-peerBefore, toClient-clientBefore, len(sizes))
			}
		})
	}
}

// channelData is a ChannelData message over UDP, unpadded.
func channelData(number uint16, data []byte) []byte {
	m := make([]byte, chanHeader, chanHeader+len(data))
	binary.BigEndian.PutUint16(m[0:2], number)
	binary.BigEndian.PutUint16(m[2:4], uint16(len(data))) //nolint:gosec // test payloads are small
	return append(m, data...)
}

// readOne reads the next datagram on conn, failing after 10 s.
func readOne(t *testing.T, conn net.PacketConn) []byte {
	t.Helper()
	if err := conn.SetReadDeadline(time.Now().Add(10 * time.Second)); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 2048)
	n, _, err := conn.ReadFrom(buf)
	if err != nil {
		t.Fatalf("nothing arrived: %v", err)
	}
	return buf[:n]
}

// TestExpiredChannelIsNotRelayed: a binding pion lets expire is gone from
// the relay's copy at once, and ChannelData sent on it afterwards reaches
// no one, while a binding made later still relays. The client writes its
// ChannelData itself, on the socket its allocation belongs to.
func TestExpiredChannelIsNotRelayed(t *testing.T) {
	var peers [2]*net.UDPConn
	var addrs [2]netip.AddrPort
	for i := range peers {
		peers[i] = listenUDP4(t)
		addrs[i] = peers[i].LocalAddr().(*net.UDPAddr).AddrPort()
	}
	ts := startServer(t, func(c *Config) {
		c.ListenTCP, c.ListenTLS, c.TLSConfig = "", "", nil
		c.AllowedPeerAddrs = addrs[:]
		c.channelLifetime = time.Second
	})
	username, password, _ := ts.Credentials(Grant{User: "cam"}, time.Now())
	pc := listenUDP4(t)
	c := newTurnClient(t, pc, ts.Addrs().UDP.String(), ts.Realm(), username, password)
	c.allocate(t)
	server := ts.Addrs().UDP
	b := &channelBinder{t: t, c: c, server: server, username: username, password: password, realm: ts.Realm()}
	sock := relayOf(t, ts, "cam")

	b.bind(0x4001, addrs[0])
	if !sock.bound(0x4001, addrs[0]) {
		t.Fatal("pion's success answer came before the binding reached the relay's copy")
	}
	if _, err := pc.WriteTo(channelData(0x4001, []byte("first")), server); err != nil {
		t.Fatal(err)
	}
	if got := readOne(t, peers[0]); string(got) != "first" {
		t.Fatalf("peer got %q, want first", got)
	}
	if toPeer, _ := sock.directCounts(); toPeer != 1 {
		t.Fatalf("%d datagrams relayed past pion, want the one", toPeer)
	}

	testutil.Eventually(t, 10*time.Second, "the binding expires", func() bool { return !sock.bound(0x4001, netip.AddrPort{}) })
	b.bind(0x4002, addrs[1])
	for _, m := range [][]byte{channelData(0x4001, []byte("late")), channelData(0x4002, []byte("marker"))} {
		if _, err := pc.WriteTo(m, server); err != nil {
			t.Fatal(err)
		}
	}
	if got := readOne(t, peers[1]); string(got) != "marker" {
		t.Fatalf("second peer got %q, want marker", got)
	}
	// The relay handles a client's datagrams in order and loopback
	// delivers within the send: "late" would be waiting by now.
	noMore(t, peers[0])
}
