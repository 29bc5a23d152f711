// Package mediatest holds the WebRTC and TURN plumbing the project's tests
// share: a plain pion peer connection on loopback with its complete offer,
// and a pion TURN client. It is for tests only; the web layer's tests must
// not use it (web does not depend on pion).
package mediatest

import (
	"net"
	"sync"
	"testing"
	"time"

	"github.com/pion/logging"
	"github.com/pion/turn/v5"
	"github.com/pion/webrtc/v4"
)

// PeerConnection is a pion peer connection with pion's default codecs
// that gathers loopback UDP candidates only, as a plain WebRTC client (OBS,
// GStreamer) on this machine would. It is closed when the test ends.
func PeerConnection(t testing.TB) *webrtc.PeerConnection {
	t.Helper()
	se := webrtc.SettingEngine{}
	se.SetIncludeLoopbackCandidate(true)
	se.SetIPFilter(func(ip net.IP) bool { return ip.IsLoopback() })
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	me := &webrtc.MediaEngine{}
	if err := me.RegisterDefaultCodecs(); err != nil {
		t.Fatal(err)
	}
	pc, err := webrtc.NewAPI(webrtc.WithMediaEngine(me), webrtc.WithSettingEngine(se)).NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = pc.Close() })
	return pc
}

// Offer makes pc's offer its local description, waits for ICE gathering
// to complete and returns the SDP with every candidate in it (what WHIP
// and WHEP clients send).
func Offer(t testing.TB, pc *webrtc.PeerConnection) string {
	t.Helper()
	offer, err := pc.CreateOffer(nil)
	if err != nil {
		t.Fatal(err)
	}
	gathered := webrtc.GatheringCompletePromise(pc)
	if err := pc.SetLocalDescription(offer); err != nil {
		t.Fatal(err)
	}
	<-gathered
	return pc.LocalDescription().SDP
}

// TURN says which relay a TURN client talks to, as whom.
type TURN struct {
	// Conn carries the client's traffic: a UDP socket, or a TCP or TLS
	// connection wrapped by turn.NewSTUNConn.
	Conn               net.PacketConn
	Server             string // host:port
	Realm              string
	Username, Password string
	// Logs receives pion's logs; nil for pion's default (standard error).
	Logs logging.LoggerFactory
}

// TURNClient is a pion TURN client that listens on its connection.
type TURNClient struct {
	*turn.Client
	conn net.PacketConn
	once sync.Once
}

// NewTURNClient starts a TURN client on c.Conn. It is closed, with its
// connection, when the test ends, or before by Close.
func NewTURNClient(t testing.TB, c TURN) *TURNClient {
	t.Helper()
	logs := c.Logs
	if logs == nil {
		logs = logging.NewDefaultLoggerFactory()
	}
	cl, err := turn.NewClient(&turn.ClientConfig{
		STUNServerAddr: c.Server,
		TURNServerAddr: c.Server,
		Conn:           c.Conn,
		Username:       c.Username,
		Password:       c.Password,
		Realm:          c.Realm,
		RTO:            200 * time.Millisecond,
		LoggerFactory:  logs,
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := cl.Listen(); err != nil {
		t.Fatal(err)
	}
	tc := &TURNClient{Client: cl, conn: c.Conn}
	t.Cleanup(tc.Close)
	return tc
}

// Close closes the client and its connection; it may be called again.
func (c *TURNClient) Close() {
	c.once.Do(func() {
		c.Client.Close()
		_ = c.conn.Close()
	})
}

// UDP4 is a UDP socket on 127.0.0.1, closed when the test ends.
func UDP4(t testing.TB) net.PacketConn {
	t.Helper()
	conn, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	return conn
}
