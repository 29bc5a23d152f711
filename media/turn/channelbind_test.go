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
			b := &channelBinder{t: t, c: c, server: udpAddr(netip.MustParseAddrPort(server)), username: username, password: password, realm: ts.Realm()}
			channel := uint16(0x4000)
			refusedPort := netip.AddrPortFrom(peer.addr.Addr(), peer.addr.Port()+1)
			for _, to := range []netip.AddrPort{refusedPort, netip.MustParseAddrPort("169.254.1.1:9"), netip.MustParseAddrPort("10.0.0.1:5000")} {
				before := ts.metric(t, "peer_refused_total", "stage", stagePermission)
				res := b.request(channel, to)
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
			b.bind(channel, peer.addr)
		})
	}
}
