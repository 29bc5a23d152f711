package turn

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pion/stun/v4"
	"github.com/pion/turn/v5"
	"github.com/prometheus/client_golang/prometheus"

	"siteline/media/mediatest"
)

const testSecret = "test-secret-0123456789abcdef"

// testTLS returns a server config with a fresh self-signed certificate for
// 127.0.0.1 and a client config that trusts it.
func testTLS(t testing.TB) (server, client *tls.Config) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "siteline turn test"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	server = &tls.Config{
		Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key, Leaf: cert}},
		MinVersion:   tls.VersionTLS12,
	}
	client = &tls.Config{RootCAs: pool, ServerName: "127.0.0.1", MinVersion: tls.VersionTLS12}
	return server, client
}

// logRecorder is a slog.Handler that keeps records for assertions.
type logRecorder struct {
	mu      sync.Mutex
	records []string
}

func (r *logRecorder) Enabled(context.Context, slog.Level) bool { return true }
func (r *logRecorder) WithAttrs([]slog.Attr) slog.Handler       { return r }
func (r *logRecorder) WithGroup(string) slog.Handler            { return r }
func (r *logRecorder) Handle(_ context.Context, rec slog.Record) error {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s", rec.Level, rec.Message)
	rec.Attrs(func(a slog.Attr) bool {
		fmt.Fprintf(&b, " %s=%v", a.Key, a.Value)
		return true
	})
	r.mu.Lock()
	r.records = append(r.records, b.String())
	r.mu.Unlock()
	return nil
}

func (r *logRecorder) find(substrs ...string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
next:
	for _, rec := range r.records {
		for _, s := range substrs {
			if !strings.Contains(rec, s) {
				continue next
			}
		}
		return true
	}
	return false
}

// testServer is a started Server on 127.0.0.1 with its registry and logs.
type testServer struct {
	*Server
	reg     *prometheus.Registry
	logs    *logRecorder
	tlsConf *tls.Config // for clients
}

func startServer(t testing.TB, mutate func(*Config)) *testServer {
	t.Helper()
	serverTLS, clientTLS := testTLS(t)
	ts := &testServer{reg: prometheus.NewRegistry(), logs: &logRecorder{}, tlsConf: clientTLS}
	cfg := Config{
		ListenUDP:   "127.0.0.1:0",
		ListenTCP:   "127.0.0.1:0",
		ListenTLS:   "127.0.0.1:0",
		TLSConfig:   serverTLS,
		RelayIP:     net.IPv4(127, 0, 0, 1),
		RelayBindIP: "127.0.0.1",
		Secret:      []byte(testSecret),
		Logger:      slog.New(ts.logs),
		Registerer:  ts.reg,
	}
	if mutate != nil {
		mutate(&cfg)
	}
	s, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	if err := s.Start(context.Background()); err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := s.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
	})
	ts.Server = s
	return ts
}

// metric returns the sum of the counter or gauge series that carry the
// given labels (name without the siteline_turn_ prefix), 0 when absent.
func (ts *testServer) metric(t testing.TB, name string, labels ...string) float64 {
	t.Helper()
	families, err := ts.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{}
	for i := 0; i+1 < len(labels); i += 2 {
		want[labels[i]] = labels[i+1]
	}
	var sum float64
	for _, f := range families {
		if f.GetName() != "siteline_turn_"+name {
			continue
		}
	metrics:
		for _, m := range f.GetMetric() {
			for _, lp := range m.GetLabel() {
				if v, ok := want[lp.GetName()]; ok && v != lp.GetValue() {
					continue metrics
				}
			}
			switch {
			case m.GetCounter() != nil:
				sum += m.GetCounter().GetValue()
			case m.GetGauge() != nil:
				sum += m.GetGauge().GetValue()
			}
		}
	}
	return sum
}

// turnClient is a pion TURN client connected to a testServer.
type turnClient struct {
	*mediatest.TURNClient
}

// dial connects a pion client over transport ("udp", "tcp" or "tls").
func (ts *testServer) dial(t testing.TB, transport, username, password string) *turnClient {
	t.Helper()
	addrs := ts.Addrs()
	var (
		conn   net.PacketConn
		server string
	)
	switch transport {
	case "udp":
		pc, err := net.ListenPacket("udp4", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		conn, server = pc, addrs.UDP.String()
	case "tcp":
		c, err := net.Dial("tcp", addrs.TCP.String())
		if err != nil {
			t.Fatal(err)
		}
		conn, server = turn.NewSTUNConn(c), addrs.TCP.String()
	case "tls":
		c, err := tls.Dial("tcp", addrs.TLS.String(), ts.tlsConf)
		if err != nil {
			t.Fatal(err)
		}
		conn, server = turn.NewSTUNConn(c), addrs.TLS.String()
	default:
		t.Fatalf("unknown transport %q", transport)
	}
	return newTurnClient(t, conn, server, ts.Realm(), username, password)
}

// dialAddr connects a pion client over UDP to any TURN server.
func dialAddr(t testing.TB, server, realm, username, password string) *turnClient {
	t.Helper()
	pc, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return newTurnClient(t, pc, server, realm, username, password)
}

func newTurnClient(t testing.TB, conn net.PacketConn, server, realm, username, password string) *turnClient {
	t.Helper()
	return &turnClient{mediatest.NewTURNClient(t, mediatest.TURN{
		Conn: conn, Server: server, Realm: realm, Username: username, Password: password,
		Logs: pionLogs(slog.New(slog.DiscardHandler)),
	})}
}

// dialUser dials with fresh credentials for user.
func (ts *testServer) dialUser(t testing.TB, transport, user string) *turnClient {
	t.Helper()
	username, password, _ := ts.Credentials(Grant{User: user}, time.Now())
	return ts.dial(t, transport, username, password)
}

// allocate allocates a UDP relay and closes it at cleanup.
func (c *turnClient) allocate(t testing.TB) net.PacketConn {
	t.Helper()
	relay, err := c.Allocate()
	if err != nil {
		t.Fatalf("Allocate: %v", err)
	}
	t.Cleanup(func() { _ = relay.Close() })
	return relay
}

// echoPeer is a UDP socket on 127.0.0.1 that sends back what it receives.
type echoPeer struct {
	conn *net.UDPConn
	addr netip.AddrPort
}

func newEchoPeer(t testing.TB) *echoPeer {
	t.Helper()
	conn, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	return echoOn(t, conn)
}

// echoOn sends back what conn receives until the test ends.
func echoOn(t testing.TB, conn *net.UDPConn) *echoPeer {
	p := &echoPeer{conn: conn, addr: conn.LocalAddr().(*net.UDPAddr).AddrPort()}
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 2048)
		for {
			n, from, err := conn.ReadFromUDPAddrPort(buf)
			if err != nil {
				return
			}
			if _, err := conn.WriteToUDPAddrPort(buf[:n], from); err != nil && errors.Is(err, net.ErrClosed) {
				return
			}
		}
	}()
	t.Cleanup(func() {
		_ = conn.Close()
		<-done
	})
	return p
}

// udpAddr converts for the pion client, which wants *net.UDPAddr.
func udpAddr(ap netip.AddrPort) *net.UDPAddr { return net.UDPAddrFromAddrPort(ap) }

// roundTrip sends payload through relay to peer and returns the reply,
// resending until one arrives or the deadline passes (UDP may drop). A
// reply of another length is a late echo of an earlier call's payload
// and is skipped, so callers use payloads of distinct lengths.
func roundTrip(t testing.TB, relay net.PacketConn, peer net.Addr, payload []byte) []byte {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	buf := make([]byte, 2048)
	for time.Now().Before(deadline) {
		if _, err := relay.WriteTo(payload, peer); err != nil {
			t.Fatalf("relay WriteTo %s: %v", peer, err)
		}
		if err := relay.SetReadDeadline(time.Now().Add(500 * time.Millisecond)); err != nil {
			t.Fatal(err)
		}
		n, from, err := relay.ReadFrom(buf)
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			continue
		}
		if err != nil {
			t.Fatalf("relay ReadFrom: %v", err)
		}
		if from.String() != peer.String() {
			t.Fatalf("reply from %s, want %s", from, peer)
		}
		if n != len(payload) {
			continue
		}
		return append([]byte(nil), buf[:n]...)
	}
	t.Fatalf("no reply from %s through the relay", peer)
	return nil
}

// channelBinder sends requests on a client's own socket, with the
// client's credentials.
type channelBinder struct {
	t                         *testing.T
	c                         *turnClient
	server                    net.Addr
	username, password, realm string
	nonce                     string
}

// request sends a ChannelBind of number to peer, authenticated (after the
// nonce challenge, on the first), and returns the answer.
func (b *channelBinder) request(number uint16, peer netip.AddrPort) *stun.Message {
	b.t.Helper()
	build := func(nonce string) *stun.Message {
		setters := []stun.Setter{
			stun.TransactionID,
			stun.NewType(stun.MethodChannelBind, stun.ClassRequest),
			setterFunc(func(m *stun.Message) error {
				m.Add(stun.AttrChannelNumber, []byte{byte(number >> 8), byte(number), 0, 0})
				return nil
			}),
			setterFunc(func(m *stun.Message) error {
				a := &stun.XORMappedAddress{IP: peer.Addr().AsSlice(), Port: int(peer.Port())}
				return a.AddToAs(m, stun.AttrXORPeerAddress)
			}),
		}
		if nonce != "" {
			setters = append(setters, stun.NewUsername(b.username), stun.NewRealm(b.realm), stun.NewNonce(nonce),
				stun.NewLongTermIntegrity(b.username, b.realm, b.password))
		}
		msg, err := stun.Build(append(setters, stun.Fingerprint)...)
		if err != nil {
			b.t.Fatal(err)
		}
		return msg
	}
	if b.nonce == "" {
		res, err := b.c.PerformTransaction(build(""), b.server, false)
		if err != nil {
			b.t.Fatalf("ChannelBind: %v", err)
		}
		var nonce stun.Nonce
		if err := nonce.GetFrom(res.Msg); err != nil {
			b.t.Fatalf("no nonce in the challenge: %v", err)
		}
		b.nonce = nonce.String()
	}
	res, err := b.c.PerformTransaction(build(b.nonce), b.server, false)
	if err != nil {
		b.t.Fatalf("ChannelBind %#x to %s: %v", number, peer, err)
	}
	return res.Msg
}

// bind binds number to peer, as a client refreshing its bindings would.
func (b *channelBinder) bind(number uint16, peer netip.AddrPort) {
	b.t.Helper()
	if res := b.request(number, peer); res.Type.Class != stun.ClassSuccessResponse {
		var code stun.ErrorCodeAttribute
		_ = code.GetFrom(res)
		b.t.Fatalf("ChannelBind %#x to %s: %s %v", number, peer, res.Type, code)
	}
}

// listenUDP4 opens a UDP socket on 127.0.0.1, closed at cleanup.
func listenUDP4(t *testing.T) *net.UDPConn {
	t.Helper()
	conn, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	return conn
}

// numbered is a datagram carrying seq, size bytes long.
func numbered(seq, size int) []byte {
	p := make([]byte, size)
	binary.BigEndian.PutUint32(p, uint32(seq)) //nolint:gosec // test sequence numbers are small
	return p
}

// readSeqs reads count datagrams from conn and returns their sequence
// numbers; it fails the test when they do not come within a generous
// deadline.
func readSeqs(t *testing.T, conn net.PacketConn, count int) []int {
	t.Helper()
	if err := conn.SetReadDeadline(time.Now().Add(10 * time.Second)); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 2048)
	seqs := make([]int, 0, count)
	for len(seqs) < count {
		n, _, err := conn.ReadFrom(buf)
		if err != nil {
			t.Fatalf("after %d of %d datagrams: %v", len(seqs), count, err)
		}
		if n < 4 {
			t.Fatalf("datagram of %d bytes", n)
		}
		seqs = append(seqs, int(binary.BigEndian.Uint32(buf)))
	}
	return seqs
}

// noMore checks that conn receives nothing else: a duplicate would be
// waiting in its queue already, since loopback delivers within the send.
func noMore(t *testing.T, conn net.PacketConn) {
	t.Helper()
	if err := conn.SetReadDeadline(time.Now().Add(50 * time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 2048)
	if n, _, err := conn.ReadFrom(buf); err == nil {
		t.Fatalf("unexpected datagram of %d bytes, seq %d", n, binary.BigEndian.Uint32(buf))
	}
}

func wantSeqs(t *testing.T, got []int, want []int) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %d datagrams, want %d", len(got), len(want))
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("datagram %d is seq %d, want %d (got %v)", i, got[i], want[i], got)
		}
	}
}

func seqRange(n int) []int {
	s := make([]int, n)
	for i := range s {
		s[i] = i
	}
	return s
}

// passedCounts sums what the relay sockets of ts relayed past pion,
// towards their peers and towards their clients.
func passedCounts(ts *testServer) (toPeer, toClient int) {
	for _, sock := range ts.quotas.sockets(func(Grant) bool { return true }) {
		if c, ok := sock.(*relayPacketConn); ok {
			p, c := c.directCounts()
			toPeer += p
			toClient += c
		}
	}
	return toPeer, toClient
}
