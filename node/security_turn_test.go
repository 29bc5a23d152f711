package node

import (
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/pion/logging"
	pionturn "github.com/pion/turn/v5"
)

// sharedPort returns a loopback port that was free a moment ago for both
// UDP and TCP.
func sharedPort(t *testing.T) int {
	t.Helper()
	for range 20 {
		udp, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
		if err != nil {
			t.Fatal(err)
		}
		port := udp.LocalAddr().(*net.UDPAddr).Port
		ln, err := net.Listen("tcp4", udp.LocalAddr().String())
		udp.Close()
		if err == nil {
			ln.Close()
			return port
		}
	}
	t.Fatal("no loopback port free for both UDP and TCP")
	return 0
}

// turnTCPClient connects a pion TURN client over TCP to the node's relay
// with the credentials the API minted.
func turnTCPClient(t *testing.T, tn *testNode, username, password string) *pionturn.Client {
	t.Helper()
	server := tn.n.media.turn.Addrs().TCP.String()
	conn, err := net.Dial("tcp", server)
	if err != nil {
		t.Fatal(err)
	}
	c, err := pionturn.NewClient(&pionturn.ClientConfig{STUNServerAddr: server, TURNServerAddr: server,
		Conn: pionturn.NewSTUNConn(conn), Username: username, Password: password, Realm: tn.n.media.turn.Realm(),
		RTO: 200 * time.Millisecond, LoggerFactory: logging.NewDefaultLoggerFactory()})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Listen(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close(); conn.Close() })
	return c
}

// TestTURNTCPRelayCannotReachTheNode: with the media UDP port and the HTTPS
// port on one number, a TCP relay (RFC 6062 Connect) to that number, or to
// any other port of the node, is refused. (Issue 13, item 5.)
func TestTURNTCPRelayCannotReachTheNode(t *testing.T) {
	cfg := testConfig(t, shortTempDir(t))
	port := sharedPort(t)
	shared := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	cfg.HTTP.Listen = shared
	cfg.Media.ICEUDP = shared
	tn := startNode(t, cfg)
	admin := tn.admin()
	cn := &callNode{testNode: tn, admin: admin}
	call := cn.createCall(t, admin)
	ice := iceServers(t, admin, call.ID)
	cred := ice.ICEServers[len(ice.ICEServers)-1]

	c := turnTCPClient(t, tn, cred.Username, cred.Credential)
	alloc, err := c.AllocateTCP()
	if err != nil {
		t.Fatalf("AllocateTCP: %v", err)
	}
	defer alloc.Close()
	targets := map[string]string{
		"https (the media UDP port's number)": shared,
		"ice tcp":                             tn.n.media.tcp.String(),
		"turn tcp listener":                   tn.n.media.turn.Addrs().TCP.String(),
	}
	for name, addr := range targets {
		if conn, err := alloc.Dial("tcp4", addr); err == nil {
			conn.Close()
			t.Errorf("TCP relay connected to the node's %s at %s", name, addr)
		}
	}

	// UDP relays still reach the SFU's media port.
	udpConn, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer udpConn.Close()
	server := tn.n.media.turn.Addrs().UDP.String()
	uc, err := pionturn.NewClient(&pionturn.ClientConfig{STUNServerAddr: server, TURNServerAddr: server, Conn: udpConn,
		Username: cred.Username, Password: cred.Credential, Realm: tn.n.media.turn.Realm(), RTO: 200 * time.Millisecond,
		LoggerFactory: logging.NewDefaultLoggerFactory()})
	if err != nil {
		t.Fatal(err)
	}
	defer uc.Close()
	if err := uc.Listen(); err != nil {
		t.Fatal(err)
	}
	relay, err := uc.Allocate()
	if err != nil {
		t.Fatalf("UDP Allocate: %v", err)
	}
	defer relay.Close()
	if err := uc.CreatePermission(&net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: port}); err != nil {
		t.Errorf("permission for the SFU's media port refused: %v", err)
	}
}

// TestDefaultPortsDistinct: no two default listeners share a number, so a
// datagram or relayed connection meant for one cannot reach another over
// the other protocol. (Issue 13, item 5.)
func TestDefaultPortsDistinct(t *testing.T) {
	def := Default()
	seen := map[string]string{}
	for key, addr := range map[string]string{
		"http.listen": def.HTTP.Listen, "media.ice_udp": def.Media.ICEUDP, "media.ice_tcp": def.Media.ICETCP,
		"turn.udp": def.TURN.UDP, "turn.tls": def.TURN.TLS, "raft.listen": def.Raft.Listen,
	} {
		if addr == "" {
			continue
		}
		_, port, err := net.SplitHostPort(addr)
		if err != nil {
			t.Fatalf("%s = %q: %v", key, addr, err)
		}
		if port == "0" {
			continue
		}
		if other, ok := seen[port]; ok {
			t.Errorf("%s and %s both default to port %s", key, other, port)
		}
		seen[port] = key
	}
	if def.TURN.UDP != def.TURN.TCP {
		t.Errorf("turn.udp %q and turn.tcp %q differ; the relay is one service on both", def.TURN.UDP, def.TURN.TCP)
	}
}
