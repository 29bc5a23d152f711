package node

import (
	"net"
	"strconv"
	"testing"
	"time"

	pionturn "github.com/pion/turn/v5"

	"siteline/media/mediatest"
	"siteline/media/sfu"
	"siteline/web"
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
	return mediatest.NewTURNClient(t, mediatest.TURN{Conn: pionturn.NewSTUNConn(conn), Server: server,
		Realm: tn.n.media.turn.Realm(), Username: username, Password: password}).Client
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
	server := tn.n.media.turn.Addrs().UDP.String()
	uc := mediatest.NewTURNClient(t, mediatest.TURN{Conn: mediatest.UDP4(t), Server: server,
		Realm: tn.n.media.turn.Realm(), Username: cred.Username, Password: cred.Credential})
	defer uc.Close()
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

// startTURNNode starts a node with the given relay quotas, a regular user
// (tech) besides the administrator.
func startTURNNode(t *testing.T, perUser, perOrg int) *callNode {
	t.Helper()
	cfg := testConfig(t, shortTempDir(t))
	cfg.TURN.MaxAllocationsPerUser = perUser
	cfg.TURN.MaxAllocationsPerOrg = perOrg
	cfg.TURN.MaxAllocations = 100
	tn := startNode(t, cfg)
	admin := tn.admin()
	if st := admin.do("POST", "/api/v1/users", web.UserInput{Email: "tech@plant.example", Name: "Tom Tech",
		Password: "tech's password 1", Roles: []string{"regular"}}, nil); st != 201 {
		t.Fatalf("create tech = %d", st)
	}
	return &callNode{testNode: tn, admin: admin, tech: tn.login("tech@plant.example", "tech's password 1")}
}

// relayCreds fetches the call's relay credentials as b.
func relayCreds(t *testing.T, b *browser, callID string) web.ICEServer {
	t.Helper()
	ice := iceServers(t, b, callID)
	return ice.ICEServers[len(ice.ICEServers)-1]
}

// dialUDPRelay starts a pion TURN client over UDP to the node's relay.
func dialUDPRelay(t *testing.T, tn *testNode, cred web.ICEServer) *mediatest.TURNClient {
	t.Helper()
	return mediatest.NewTURNClient(t, mediatest.TURN{Conn: mediatest.UDP4(t), Server: tn.n.media.turn.Addrs().UDP.String(),
		Realm: tn.n.media.turn.Realm(), Username: cred.Username, Password: cred.Credential})
}

// allocate asks for a UDP allocation with cred; it is closed at cleanup.
func allocateRelay(t *testing.T, tn *testNode, cred web.ICEServer) error {
	t.Helper()
	relay, err := dialUDPRelay(t, tn, cred).Allocate()
	if err == nil {
		t.Cleanup(func() { relay.Close() })
	}
	return err
}

// TestTURNQuotaPerUserAcrossCalls: a regular user's relay allocations
// count together across every call they start, and an organisation's
// together across its users. (Issue 13, item 6.)
func TestTURNQuotaPerUserAcrossCalls(t *testing.T) {
	cn := startTURNNode(t, 2, 3)
	var techID string
	for i := range 3 {
		call := cn.createCall(t, cn.tech)
		techID = call.CreatedBy
		err := allocateRelay(t, cn.testNode, relayCreds(t, cn.tech, call.ID))
		switch {
		case i < 2 && err != nil:
			t.Fatalf("allocation in call %d: %v", i+1, err)
		case i == 2 && err == nil:
			t.Fatal("a third allocation in a third call went beyond turn.max_allocations_per_user")
		}
	}
	if n := cn.n.media.turn.UserAllocations(techID); n != 2 {
		t.Errorf("tech's allocations = %d, want 2", n)
	}
	// The administrator takes the organisation's last slot, then none.
	call := cn.createCall(t, cn.admin)
	cred := relayCreds(t, cn.admin, call.ID)
	if err := allocateRelay(t, cn.testNode, cred); err != nil {
		t.Fatalf("administrator's allocation: %v", err)
	}
	if err := allocateRelay(t, cn.testNode, cred); err == nil {
		t.Fatal("an allocation went beyond turn.max_allocations_per_org")
	}
	if n := cn.n.media.turn.OrgAllocations(call.OrgID); n != 3 {
		t.Errorf("organisation's allocations = %d, want 3", n)
	}
}

// TestTURNCredentialsEndWithCallAndUser: the relay credentials are short
// lived, and what they opened ends with the call and with the user's
// deactivation: the live allocation is closed and no new one is made.
// (Issue 13, item 16.)
func TestTURNCredentialsEndWithCallAndUser(t *testing.T) {
	cn := startTURNNode(t, 5, 10)
	call := cn.createCall(t, cn.tech)
	ice := iceServers(t, cn.tech, call.ID)
	if ttl := time.Until(ice.ExpiresAt); ttl <= 0 || ttl > 10*time.Minute+time.Second {
		t.Errorf("credentials expire in %v, want at most the default 10m", ttl)
	}
	cred := ice.ICEServers[len(ice.ICEServers)-1]
	if err := allocateRelay(t, cn.testNode, cred); err != nil {
		t.Fatalf("allocation: %v", err)
	}
	techID := call.CreatedBy
	if n := cn.n.media.turn.UserAllocations(techID); n != 1 {
		t.Fatalf("tech's allocations = %d, want 1", n)
	}

	// The call ends: its allocation is closed, its credentials open nothing.
	if err := cn.n.calls.Recorder().End(call.ID, sfu.ParticipantInfo{ID: "p1", UserID: techID, Name: "Tom Tech"}); err != nil {
		t.Fatal(err)
	}
	if n := cn.n.media.turn.UserAllocations(techID); n != 0 {
		t.Errorf("tech's allocations = %d after the call ended, want 0", n)
	}
	if err := allocateRelay(t, cn.testNode, cred); err == nil {
		t.Error("the credentials of an ended call made an allocation")
	}

	// The user is deactivated: the same, at the next check of the relay.
	call = cn.createCall(t, cn.tech)
	cred = relayCreds(t, cn.tech, call.ID)
	if err := allocateRelay(t, cn.testNode, cred); err != nil {
		t.Fatalf("allocation in a second call: %v", err)
	}
	off := false
	if st := cn.admin.do("PATCH", "/api/v1/users/"+techID, web.UserPatch{Active: &off}, nil); st != 200 {
		t.Fatalf("deactivate tech = %d", st)
	}
	if err := allocateRelay(t, cn.testNode, cred); err == nil {
		t.Error("a deactivated user's credentials made an allocation")
	}
	if n := cn.n.media.turn.Recheck(); n != 1 {
		t.Errorf("Recheck closed %d allocations, want the deactivated user's 1", n)
	}
	if n := cn.n.media.turn.UserAllocations(techID); n != 0 {
		t.Errorf("tech's allocations = %d after deactivation, want 0", n)
	}
}
