package turn

import (
	"net/netip"
	"testing"
	"time"

	"github.com/pion/stun/v4"
)

// A ChannelBind to a peer the relay refuses, by IP or by port, is answered
// 403 Forbidden (RFC 8656 §12) over every transport, and binds nothing; a
// bind to the allowed peer succeeds. The requests come from pion's TURN
// client, the answers from the relay's wire.
func TestChannelBindToARefusedPeerIs403(t *testing.T) {
	peer := newEchoPeer(t)
	ts := startServer(t, func(c *Config) { c.AllowedPeerAddrs = []netip.AddrPort{peer.addr} })
	for _, transport := range []string{"udp", "tcp", "tls"} {
		t.Run(transport, func(t *testing.T) {
			username, password, _ := ts.Credentials(Grant{User: "cam-" + transport}, time.Now())
			c := ts.dial(t, transport, username, password)
			c.allocate(t)
			server := map[string]string{"udp": ts.Addrs().UDP.String(), "tcp": ts.Addrs().TCP.String(), "tls": ts.Addrs().TLS.String()}[transport]
			channel := uint16(0x4000)
			bind := func(nonce string, to netip.AddrPort) *stun.Message {
				t.Helper()
				setters := []stun.Setter{
					stun.TransactionID,
					stun.NewType(stun.MethodChannelBind, stun.ClassRequest),
					setterFunc(func(m *stun.Message) error {
						m.Add(stun.AttrChannelNumber, []byte{byte(channel >> 8), byte(channel), 0, 0})
						return nil
					}),
					setterFunc(func(m *stun.Message) error {
						a := &stun.XORMappedAddress{IP: to.Addr().AsSlice(), Port: int(to.Port())}
						return a.AddToAs(m, stun.AttrXORPeerAddress)
					}),
				}
				if nonce != "" {
					setters = append(setters, stun.NewUsername(username), stun.NewRealm(ts.Realm()), stun.NewNonce(nonce),
						stun.NewLongTermIntegrity(username, ts.Realm(), password))
				}
				msg, err := stun.Build(append(setters, stun.Fingerprint)...)
				if err != nil {
					t.Fatal(err)
				}
				res, err := c.PerformTransaction(msg, udpAddr(netip.MustParseAddrPort(server)), false)
				if err != nil {
					t.Fatalf("ChannelBind %s: %v", to, err)
				}
				return res.Msg
			}
			var nonce stun.Nonce
			if err := nonce.GetFrom(bind("", peer.addr)); err != nil {
				t.Fatalf("no nonce in the challenge: %v", err)
			}
			refusedPort := netip.AddrPortFrom(peer.addr.Addr(), peer.addr.Port()+1)
			for _, to := range []netip.AddrPort{refusedPort, netip.MustParseAddrPort("169.254.1.1:9"), netip.MustParseAddrPort("10.0.0.1:5000")} {
				before := ts.metric(t, "peer_refused_total", "stage", stagePermission)
				res := bind(nonce.String(), to)
				var code stun.ErrorCodeAttribute
				if res.Type.Class != stun.ClassErrorResponse || code.GetFrom(res) != nil || code.Code != stun.CodeForbidden {
					t.Errorf("ChannelBind to %s: %s %v, want 403", to, res.Type, code)
				}
				if err := stun.MessageIntegrity(stun.NewLongTermIntegrity(username, ts.Realm(), password)).Check(res); err != nil {
					t.Errorf("ChannelBind to %s: the 403 lacks a valid MESSAGE-INTEGRITY: %v", to, err)
				}
				if got := ts.metric(t, "peer_refused_total", "stage", stagePermission); got != before+1 {
					t.Errorf("ChannelBind to %s: peer_refused_total{permission} = %v, want %v", to, got, before+1)
				}
				channel++ // a refused bind leaves the number free, but use a fresh one anyway
			}
			if res := bind(nonce.String(), peer.addr); res.Type.Class != stun.ClassSuccessResponse {
				var code stun.ErrorCodeAttribute
				_ = code.GetFrom(res)
				t.Errorf("ChannelBind to the allowed %s: %s %v, want success", peer.addr, res.Type, code)
			}
		})
	}
}
