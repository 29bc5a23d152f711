package turn

import (
	"encoding/binary"
	"net/netip"
	"testing"
	"time"

	"github.com/pion/stun/v4"
)

// magicCookie is STUN's fixed magic cookie (RFC 5389).
const magicCookie = 0x2112A442

// setterFunc adapts a function to stun.Setter.
type setterFunc func(*stun.Message) error

func (f setterFunc) AddTo(m *stun.Message) error { return f(m) }

// xorPeerAddressV6 encodes XOR-PEER-ADDRESS with the IPv6 family whatever
// the address, so ::ffff:127.0.0.1 reaches the server in its mapped form
// (pion's client would encode it as IPv4).
func xorPeerAddressV6(ap netip.AddrPort) stun.Setter {
	return setterFunc(func(m *stun.Message) error {
		v := make([]byte, 20)
		v[1] = 0x02 // IPv6
		binary.BigEndian.PutUint16(v[2:4], ap.Port()^uint16(magicCookie>>16))
		var key [16]byte
		binary.BigEndian.PutUint32(key[0:4], magicCookie)
		copy(key[4:], m.TransactionID[:])
		ip := ap.Addr().As16()
		for i := range ip {
			v[4+i] = ip[i] ^ key[i]
		}
		m.Add(stun.AttrXORPeerAddress, v)
		return nil
	})
}

// TestMappedPeerOnTheWire sends CreatePermission requests whose peer is an
// IPv4-mapped IPv6 address (the coturn CVE-2026-27624 class) and checks the
// relay refuses each one.
func TestMappedPeerOnTheWire(t *testing.T) {
	ts := startServer(t, nil)
	username, password, _ := ts.Credentials(Grant{User: "mallory"}, time.Now())
	c := ts.dial(t, "udp", username, password)
	c.allocate(t)
	server := ts.Addrs().UDP

	createPermission := func(nonce string, peer netip.AddrPort) *stun.Message {
		t.Helper()
		setters := []stun.Setter{
			stun.TransactionID,
			stun.NewType(stun.MethodCreatePermission, stun.ClassRequest),
			xorPeerAddressV6(peer),
		}
		if nonce != "" {
			setters = append(setters,
				stun.NewUsername(username), stun.NewRealm(ts.Realm()), stun.NewNonce(nonce),
				stun.NewLongTermIntegrity(username, ts.Realm(), password))
		}
		msg, err := stun.Build(append(setters, stun.Fingerprint)...)
		if err != nil {
			t.Fatal(err)
		}
		res, err := c.PerformTransaction(msg, server, false)
		if err != nil {
			t.Fatalf("CreatePermission %s: %v", peer, err)
		}
		return res.Msg
	}

	for _, peer := range []string{"[::ffff:127.0.0.1]:5000", "[::ffff:0.0.0.0]:5000", "[::ffff:169.254.169.254]:80", "[::ffff:10.0.0.1]:80"} {
		ap := netip.MustParseAddrPort(peer)
		challenge := createPermission("", ap)
		var nonce stun.Nonce
		if err := nonce.GetFrom(challenge); err != nil {
			t.Fatalf("no nonce in the challenge: %v", err)
		}
		before := ts.metric(t, "peer_refused_total", "stage", stagePermission)
		res := createPermission(nonce.String(), ap)
		var code stun.ErrorCodeAttribute
		if res.Type.Class != stun.ClassErrorResponse || code.GetFrom(res) != nil || code.Code != stun.CodeForbidden {
			t.Errorf("CreatePermission %s: %s %v, want a 403 error response", peer, res.Type, code)
		}
		if got := ts.metric(t, "peer_refused_total", "stage", stagePermission); got != before+1 {
			t.Errorf("CreatePermission %s: peer_refused_total{permission} = %v, want %v", peer, got, before+1)
		}
	}
}
